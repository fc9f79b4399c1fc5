"""The documents a projection wrote most recently, kept in memory so the next batch need not read them back.

At live rates the same residents come round again and again (a call, then the referral, then the flag), and reading
a document back means a select and a JSON parse of something this process itself just wrote. Only the runner's
lease holder writes a projection's tables, so while it leads its own last writes are the truth; whenever a
transaction does not commit, or it starts to lead, the runner has the projection forget them all.

Two tiers. The most recent few thousand stay parsed: a resident who calls several times a minute is not parsed
again at every batch (parsing was 60% of a live process's time when 200 residents took 1,000 calls a second).
Behind them, thousands more are kept as the JSON text that was written: one object each to the garbage collector
where a parsed document is hundreds (ten thousand parsed views made full collections pause the event loop for a
quarter of a second at 1,000 events/s, when the projections still shared the API's loop).

The parsed tier holds 4,096: with 500, calls spread over 2,000 residents (issue 15's city shape) found none of
them parsed, and reading them back was an eighth of the projector's time (py-spy, 2026-12-01). The projector now
has a process of its own, so a longer full collection delays its next commit, not a request; the 2,000 residents'
parsed views cost it about 11 MB.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

Document = TypeVar("Document")


class RecentDocuments(Generic[Document]):
    """`load` makes a document from its JSON text (for a view: `ResidentView.load`)."""

    def __init__(self, load: Callable[[str], Document], capacity: int = 10_000, parsed: int = 4_096) -> None:
        self._load = load
        self._capacity = capacity
        self._parsed_capacity = parsed
        self._texts: OrderedDict[str, str] = OrderedDict()
        self._parsed: OrderedDict[str, Document] = OrderedDict()

    def __len__(self) -> int:
        return len(self._texts)

    def take(self, keys: Iterable[str]) -> tuple[dict[str, Document], set[str]]:
        """The documents held for `keys`, and the keys it does not hold (to be read from the database). The
        caller may change what it takes: it keeps the result again, or the runner has everything forgotten."""
        found: dict[str, Document] = {}
        missing: set[str] = set()
        for key in keys:
            document = self._parsed.get(key)
            if document is not None:
                found[key] = document
                continue
            text = self._texts.get(key)
            if text is None:
                missing.add(key)
            else:
                found[key] = self._load(text)
        return found, missing

    def keep(self, documents: dict[str, Document], texts: dict[str, str]) -> None:
        """Remembers these documents and their JSON as written (the caller's transaction is about to commit
        them), oldest out first."""
        for key, text in texts.items():
            self._texts[key] = text
            self._texts.move_to_end(key)
            document = documents.get(key)
            if document is not None and self._parsed_capacity:
                self._parsed[key] = document
                self._parsed.move_to_end(key)
        while len(self._texts) > self._capacity:
            self._texts.popitem(last=False)
        while len(self._parsed) > self._parsed_capacity:
            self._parsed.popitem(last=False)

    def forget(self) -> None:
        self._texts.clear()
        self._parsed.clear()
