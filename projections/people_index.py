"""The detector's people and their blocking keys, held in memory by the projection's lease holder (issue 15).

Finding the candidates of a registration was one SQL query per registration, through the database driver's
thread: most of the detector's cost (a profile of a 2,000-resident city: 11 s of its 14 s, against a CPU cost of
the rules and the score well under a second). Held here, a candidate lookup is a few dictionary reads.

The tables stay the record (`detector_people`, `detector_blocks`, written once per batch in the batch's
transaction); this is a copy of them. The runner has the detector forget it whenever a transaction does not
commit and before it starts to lead, as it does with the recent documents, so the copy is only ever what the
tables say plus what the transaction under way has added. It is loaded from the tables the first time it is
needed after that.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.people_matching import Person
from projections.tables import detector_blocks, detector_people


class PeopleIndex:
    def __init__(self) -> None:
        self._people: dict[str, Person] | None = None
        self._keys: dict[str, frozenset[str]] = {}
        self._blocks: dict[str, set[str]] = {}

    def forget(self) -> None:
        self._people = None
        self._keys.clear()
        self._blocks.clear()

    async def ready(self, conn: AsyncConnection) -> None:
        if self._people is not None:
            return
        people = {row["resident_id"]: Person(**row)
                  for row in (await conn.execute(select(detector_people))).mappings()}
        keys: dict[str, set[str]] = {}
        for key, resident_id in await conn.execute(select(detector_blocks.c.block_key, detector_blocks.c.resident_id)):
            keys.setdefault(resident_id, set()).add(key)
        self._people = people
        for resident_id, its_keys in keys.items():
            self._index(resident_id, frozenset(its_keys))

    def candidates(self, probe: Iterable[str], *, besides: str, limit: int) -> list[Person]:
        """The people sharing a blocking key with `probe`, in resident-id order, at most `limit` of them."""
        assert self._people is not None, "ready() first"
        found: set[str] = set()
        for key in probe:
            found |= self._blocks.get(key, set())
        found.discard(besides)
        return [self._people[rid] for rid in sorted(found)[:limit] if rid in self._people]

    def put(self, person: Person, keys: frozenset[str]) -> None:
        assert self._people is not None, "ready() first"
        self._unindex(person.resident_id)
        self._people[person.resident_id] = person
        self._index(person.resident_id, keys)

    def _index(self, resident_id: str, keys: frozenset[str]) -> None:
        self._keys[resident_id] = keys
        for key in keys:
            self._blocks.setdefault(key, set()).add(resident_id)

    def _unindex(self, resident_id: str) -> None:
        for key in self._keys.pop(resident_id, frozenset()):
            holders = self._blocks.get(key)
            if holders is not None:
                holders.discard(resident_id)
                if not holders:
                    del self._blocks[key]
