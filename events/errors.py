"""What can go wrong when writing to or reading from the store, named for what it means to the caller."""

from __future__ import annotations


class StoreError(Exception):
    pass


class ConcurrencyConflict(StoreError):
    """The resident's stream moved on since it was read, or another write to it is still being agreed on by a
    cluster (JetStream err_code 10071, 10164): decide again."""

    def __init__(self, resident_id: str, expected_seq: int, detail: str, actual_seq: int | None = None) -> None:
        super().__init__(f"resident {resident_id}: expected last sequence {expected_seq}, {detail}")
        self.resident_id = resident_id
        self.expected_seq = expected_seq
        self.actual_seq = actual_seq  # the subject's last sequence, when the server said it (10071)


class StoreUnavailable(StoreError):
    """NATS did not answer in time, or no JetStream server is there. The write may or may not have landed:
    retrying with the same event ids is safe (Nats-Msg-Id dedupe, expected-sequence check)."""


class AppendRejected(StoreError):
    """The server refused the write for a reason other than a conflict or a duplicate."""

    def __init__(self, err_code: int, description: str) -> None:
        super().__init__(f"append rejected ({err_code}): {description}")
        self.err_code = err_code


class UnreadableEvent(StoreError):
    """A message on a resident's subject that this release cannot read (not JSON, an unknown type, a failed
    validation). Nothing is decided on a history with a hole in it: an operator looks at the message and marks
    it superseded (`EventSuperseded`), after which folds skip it."""

    def __init__(self, resident_id: str, seq: int, reason: str) -> None:
        super().__init__(f"resident {resident_id}: the event at stream sequence {seq} cannot be read ({reason})")
        self.resident_id = resident_id
        self.seq = seq
        self.reason = reason
