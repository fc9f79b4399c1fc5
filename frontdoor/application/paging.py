"""The opaque `cursor` of the lists (DESIGN §9): where the last page stopped, as the key of its last row (keyset
paging). A keyset, not an offset: rows inserted while someone pages (new flags arrive all day) neither repeat nor
push rows past the reader, and each page costs one index range scan however deep it is.

Opaque to clients (base64 of a small JSON document), checked on the way in: a cursor of another list, or one that
is not ours, is a 422 on `cursor`, never a query with whatever it holds."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

import orjson

from frontdoor.domain.errors import InvalidCommand

Key = tuple[str | int, ...]
MAX_CURSOR = 2000


def encode(kind: str, state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"k": kind} | state)).rstrip(b"=").decode()


def decode(kind: str, cursor: str | None) -> dict[str, Any] | None:
    if cursor is None:
        return None
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError("too long")
        state = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(state, dict) or state.get("k") != kind:
            raise ValueError("another list's cursor")
    except (ValueError, binascii.Error) as exc:
        raise InvalidCommand(f"not a cursor of this list ({exc}); use next_cursor as it was given",
                             field="cursor") from exc
    return state


def key_of(value: Any, length: int) -> Key | None:
    """A row key from a decoded cursor: `length` strings or integers, or None (from the start)."""
    if value is None:
        return None
    if (isinstance(value, list) and len(value) == length
            and all(isinstance(v, str | int) and not isinstance(v, bool) for v in value)):
        return tuple(value)
    raise InvalidCommand("not a cursor of this list; use next_cursor as it was given", field="cursor")


def page_of(rows: Sequence[Any], limit: int) -> tuple[list[Any], bool]:
    """The first `limit` rows, and whether there are more (the query asks for one row beyond the page)."""
    return list(rows[:limit]), len(rows) > limit
