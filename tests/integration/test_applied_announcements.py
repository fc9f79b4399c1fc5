"""A reader waiting for another process's projection hears that projection's announcements and no other's
(`frontdoor.projector.AppliedElsewhere`): the team router announces every live event, and an API that listened to
every projection parsed each of those on its loop."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NATS

from frontdoor.projector import AppliedElsewhere, announcer


async def test_only_the_projections_waited_for_are_heard(nc: NATS) -> None:
    elsewhere = AppliedElsewhere()
    await elsewhere.watch(nc, "resident_view")
    await elsewhere.watch(nc, "resident_view")  # again: nothing more
    announce = announcer(nc)
    await announce("team_router", 40)
    await announce("resident_view", 7)
    assert await elsewhere.wait("resident_view", 7, within=5)
    await nc.flush()
    await asyncio.sleep(0.1)  # time for an announcement it should not hear to arrive anyway
    assert elsewhere.seen == {"resident_view": 7}


async def test_a_projection_watched_later_is_heard_from_then_on(nc: NATS) -> None:
    elsewhere = AppliedElsewhere()
    await elsewhere.watch(nc, "resident_view")
    await elsewhere.watch(nc, "flags")
    await announcer(nc)("flags", 12)
    assert await elsewhere.wait("flags", 12, within=5)
    assert not await elsewhere.wait("caseload", 1, within=0.2)  # never watched: never heard
