"""Identifiers: new ids are RFC 9562 UUIDv7 in creation order; derived ids repeat for the same parts."""

from __future__ import annotations

import time
import uuid

from events.ids import derived_id, uuid7


def test_a_new_id_is_a_version_7_uuid_in_its_canonical_form() -> None:
    for _ in range(1_000):
        text = uuid7()
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (7, uuid.RFC_4122, text)


def test_new_ids_sort_by_the_millisecond_they_were_made_in() -> None:
    first = uuid7()
    time.sleep(0.002)
    assert uuid7() > first
    stamp = int(uuid7().replace("-", "")[:12], 16)
    assert abs(stamp - time.time_ns() // 1_000_000) < 1_000


def test_new_ids_differ_and_derived_ids_repeat() -> None:
    assert len({uuid7() for _ in range(10_000)}) == 10_000
    assert derived_id("event", "a", "key") == derived_id("event", "a", "key") != derived_id("event", "a", "key2")
