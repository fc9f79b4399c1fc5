"""The documents a projection wrote most recently, kept in memory so the next batch need not read them back.

At live rates the same residents come round again and again (a call, then the referral, then the flag), and reading
a document back means a select and a JSON parse of something this process itself just wrote. Only the runner's
lease holder writes a projection's tables, so while it leads its own last writes are the truth; whenever a
transaction does not commit, or it starts to lead, the runner has the projection forget them all.

They are kept as the JSON text that was written, not as parsed documents: parsing again is cheap, and text is
one object to the garbage collector where a parsed document is thousands (kept parsed, ten thousand busy views
made full collections pause the event loop for a quarter of a second at 1,000 events/s).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import orjson

Document = dict[str, Any]


class RecentDocuments:
    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._documents: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._documents)

    def take(self, keys: Iterable[str]) -> tuple[dict[str, Document], set[str]]:
        """The documents held for `keys`, and the keys it does not hold (to be read from the database)."""
        found: dict[str, Document] = {}
        missing: set[str] = set()
        for key in keys:
            text = self._documents.get(key)
            if text is None:
                missing.add(key)
            else:
                found[key] = orjson.loads(text)
        return found, missing

    def keep(self, documents: dict[str, str]) -> None:
        """Remembers these documents' JSON as written (the caller's transaction is about to commit it), oldest
        out first."""
        for key, text in documents.items():
            self._documents[key] = text
            self._documents.move_to_end(key)
        while len(self._documents) > self._capacity:
            self._documents.popitem(last=False)

    def forget(self) -> None:
        self._documents.clear()
