"""Events decoded once per process, shared by the projections that read the same stream.

Every projection on the care stream used to parse and validate every event for itself: the resident view, the
detector and the team router each decoded the same bytes, a fifth of a live process's time. Decoded events are
frozen and the projections only read them, so one decoded copy serves them all; the cache is bounded, and a
projection far behind the others (a rebuild) simply decodes for itself.
"""

from __future__ import annotations

from collections import OrderedDict

from events.codec import decode
from events.envelope import RecordedEvent


class DecodedEvents:
    def __init__(self, capacity: int = 5_000) -> None:
        self._capacity = capacity
        self._events: OrderedDict[tuple[str, int], RecordedEvent] = OrderedDict()
        self.decoded = 0  # how many were actually decoded here (the rest came from the cache)

    def get(self, stream: str, seq: int, data: bytes, previous_seq: int | None = None) -> RecordedEvent:
        key = (stream, seq)
        event = self._events.get(key)
        if event is None:
            event = decode(seq, data, previous_seq)
            self.decoded += 1
            self._events[key] = event
            if len(self._events) > self._capacity:
                self._events.popitem(last=False)
        return event
