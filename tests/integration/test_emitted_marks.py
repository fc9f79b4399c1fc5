"""The detector's "emitted up to" mark kept in NATS (projections.emitted_marks): a detector on a database that
knows nothing of what was emitted (a rebuild from zero) decides no flag again and keeps no state up to date for
what it had already handled; a mark for a stream since made again is not trusted; saves are throttled."""

from __future__ import annotations

import asyncio

from nats.js import JetStreamContext
from nats.js.errors import ServerError
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from events.streams import ensure_streams
from events.subjects import CARE_STREAM
from projections.detector import EMITTED, DuplicateDetector
from projections.emitted_marks import EmittedMarks
from projections.rules import Thresholds
from projections.tables import checkpoints, detector_blocks, detector_people, detector_views
from tests.integration.test_one_fold import RecordedFlags, project
from tests.unit.fold_story import A, B, Streams, registered


async def made_again(js: JetStreamContext) -> None:
    await js.delete_stream(CARE_STREAM)
    for _ in range(50):
        try:
            await ensure_streams(js)
            return
        except ServerError as exc:  # 10049: the server is still removing the deleted stream's files
            if exc.err_code != 10049:
                raise
            await asyncio.sleep(0.1)


async def test_a_mark_is_read_back_for_the_stream_it_was_saved_for_and_for_no_other(js: JetStreamContext) -> None:
    marks = EmittedMarks(js, CARE_STREAM, save_every_s=0)
    assert await marks.load(EMITTED) == 0
    await marks.save(EMITTED, 42)
    assert await EmittedMarks(js, CARE_STREAM).load(EMITTED) == 42
    await made_again(js)
    assert await EmittedMarks(js, CARE_STREAM).load(EMITTED) == 0


async def test_a_mark_is_saved_at_most_once_a_period(js: JetStreamContext) -> None:
    marks = EmittedMarks(js, CARE_STREAM, save_every_s=60)
    await marks.save(EMITTED, 1)
    await marks.save(EMITTED, 2)  # within the minute: not written (a mark behind is safe)
    assert await EmittedMarks(js, CARE_STREAM).load(EMITTED) == 1


async def forget_the_database(engine: AsyncEngine) -> None:
    """What a rebuild into a new database starts from: no detector rows, no checkpoint, no mark."""
    async with engine.begin() as conn:
        for table in (detector_views, detector_people, detector_blocks, checkpoints):
            await conn.execute(delete(table))


async def test_a_detector_on_a_database_without_the_mark_decides_no_flag_again(js: JetStreamContext,
                                                                              engine: AsyncEngine) -> None:
    streams = Streams()
    history = [streams.add(A, registered("Ada")), streams.add(B, registered("Ada"))]
    first = RecordedFlags()
    await project(engine, (DuplicateDetector(first, Thresholds(), EmittedMarks(js, CARE_STREAM, save_every_s=0)),),
                  history)
    assert first.raised == [(B, "possible_duplicate_resident")]

    await forget_the_database(engine)
    again = RecordedFlags()
    await project(engine, (DuplicateDetector(again, Thresholds(), EmittedMarks(js, CARE_STREAM)),), history)
    assert again.raised == [] and again.followed == []

    # Without the mark in NATS it would have decided the flag again (the store would have refused it).
    await forget_the_database(engine)
    unmarked = RecordedFlags()
    await project(engine, (DuplicateDetector(unmarked, Thresholds()),), history)
    assert unmarked.raised == [(B, "possible_duplicate_resident")]
