"""Identifiers: new ids are RFC 9562 UUIDv7 in creation order; derived ids repeat for the same parts."""

from __future__ import annotations

import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

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


def test_ids_made_on_several_threads_at_once_all_differ() -> None:
    """The randomness is fetched in blocks and handed out in slices: no two threads may get the same slice."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        batches = list(pool.map(lambda _: [uuid7() for _ in range(2_000)], range(8)))
    ids = [i for batch in batches for i in batch]
    assert len(set(ids)) == len(ids) == 16_000


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    """A child forked with part of a block in hand would otherwise hand out the parent's next bytes as well."""
    uuid7()  # a block is now held, most of it not yet handed out
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's half
        os.close(reading)
        os.write(writing, "\n".join(uuid7() for _ in range(50)).encode())
        os._exit(0)
    os.close(writing)
    with os.fdopen(reading) as pipe:
        theirs = {line[-12:] for line in pipe.read().splitlines()}
    os.waitpid(child, 0)
    ours = {uuid7()[-12:] for _ in range(50)}
    assert len(theirs) == 50 and not ours & theirs, "the random parts of parent and child overlap"
