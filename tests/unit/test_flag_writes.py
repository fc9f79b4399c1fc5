"""The detector writes a batch's flags resident by resident side by side, each resident's in order (issue 15: one
after another, a burst of flags held the detector seconds behind the stream). A failure comes out as itself, so
the runner can tell a store that is away (wait, apply the batch again) from a defect."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from events.errors import StoreUnavailable
from projections.detector import FLAG_WRITERS, write_flags


class Writes:
    def __init__(self) -> None:
        self.done: list[tuple[str, int]] = []
        self.in_flight = 0
        self.most_in_flight = 0

    def step(self, resident: str, n: int, *, fails: bool = False) -> Callable[[], Awaitable[None]]:
        async def write() -> None:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            await asyncio.sleep(0.001 * (3 - n))  # later steps are quicker: order must come from waiting
            self.in_flight -= 1
            if fails:
                raise StoreUnavailable("JetStream is away")
            self.done.append((resident, n))

        return write


async def test_each_residents_writes_go_in_order_and_residents_go_side_by_side() -> None:
    writes = Writes()
    plan = {f"r{i}": [writes.step(f"r{i}", n) for n in range(3)] for i in range(FLAG_WRITERS * 2)}
    await write_flags(plan)
    assert len(writes.done) == 3 * len(plan)
    for resident in plan:
        assert [n for r, n in writes.done if r == resident] == [0, 1, 2]
    assert 1 < writes.most_in_flight <= FLAG_WRITERS


async def test_a_failed_write_is_raised_as_itself_and_the_others_stop() -> None:
    writes = Writes()
    plan = {"bad": [writes.step("bad", 2, fails=True)], "good": [writes.step("good", n) for n in range(3)]}
    with pytest.raises(StoreUnavailable):
        await write_flags(plan)
    assert ("good", 2) not in writes.done


async def test_nothing_to_write_is_nothing() -> None:
    await write_flags({"r": []})
    await write_flags({})
