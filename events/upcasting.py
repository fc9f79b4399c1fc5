"""Upcasters: old versions of an event are read as the current one, so a published version never changes.

Register a function per (event type, old version); it returns the data of the next version. Reading applies
them in a chain until the catalogue's current version is reached.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Data = dict[str, Any]
Upcaster = Callable[[Data], Data]

_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    def register(fn: Upcaster) -> Upcaster:
        _UPCASTERS[(event_type, from_version)] = fn
        return fn

    return register


def upcast(event_type: str, version: int, data: Data, current: int) -> Data:
    while version < current:
        step = _UPCASTERS.get((event_type, version))
        if step is None:
            raise LookupError(f"no upcaster for {event_type} v{version} -> v{version + 1}")
        data = step(data)
        version += 1
    return data


@upcaster("ContactRecorded", 0)
def _contact_v0_single_need(data: Data) -> Data:
    """Pilot-era contacts (v0) carried one `need` string; v1 has a list of `needs`."""
    new = {k: v for k, v in data.items() if k != "need"}
    need = data.get("need")
    new["needs"] = [need] if need else []
    return new


@upcaster("ResidentsLinked", 1)
@upcaster("ResidentsUnlinked", 1)
def _link_v1_one_record(data: Data) -> Data:
    """v1 links and unlinks were written to one of the two records only: a fold must also apply them to the
    other record, which v2 (written to both) says itself."""
    return data | {"both_records": False}
