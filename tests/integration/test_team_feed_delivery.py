"""A team's feed as a team system reads it, through its own account on a server started from the generated
configuration: a team offline while 10,000 events arrive catches up in order, each event once; and no message on
any team's feed of a demo city carries the free text of work addressed to another team."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import orjson

from events.catalogue import CARE_EVENTS, ContactRecorded, Event, ReferralMade, ResidentRegistered
from events.codec import wrap
from events.envelope import Actor, Envelope
from events.ids import uuid7
from frontdoor.demo_city.writer import write_city
from frontdoor.services import Services
from projections.team_feed import FREE_TEXT, text_owners
from tests.integration.secured_nats import SecuredNats, frontdoor, secured, team_client, wait_until

__all__ = ["frontdoor", "secured"]  # the fixtures
OT = "ot-central"
ACTOR = Actor(id="ch-1", role="call_handler")


def _wrapped(events: list[Event], resident_id: str) -> list[Envelope]:
    at = datetime.now(UTC)
    return [wrap(e, event_id=uuid7(), resident_id=resident_id, actor=ACTOR, occurred_at=at, correlation_id="c")
            for e in events]


async def _write_residents(services: Services, residents: int, events_each: int) -> None:
    """Residents referred to OT, each followed by contacts: every event is OT's to see."""
    for index in range(residents):
        rid = uuid7()
        events: list[Event] = [
            ResidentRegistered(given_name="Ada", family_name=f"Test{index}", date_of_birth=date(1940, 1, 1),
                               postcode="SO14 7LY"),
            ReferralMade(referral_id=uuid7(), to_team=OT, need="housing", reason=f"referral {index}")]
        events += [ContactRecorded(contact_id=uuid7(), channel="phone", caller={"relationship": "self"},
                                   summary=f"contact {index}.{n}", outcome="advice")
                   for n in range(events_each - len(events))]
        await services.store.append(rid, _wrapped(events, rid), expected_seq=0)


async def _pending(services: Services) -> int:
    info = await services.js.consumer_info("TEAMS", f"team-{OT}")
    return int(info.num_pending) + int(info.num_ack_pending)


async def test_a_team_offline_while_10000_events_arrive_catches_up_in_order_each_once(
        secured: SecuredNats, frontdoor: Services) -> None:
    await _write_residents(frontdoor, 2, 50)
    team = await team_client(secured, OT)
    feed = await team.js_api().pull_subscribe(f"team.{OT}.>", durable=f"team-{OT}", stream="TEAMS")
    seen: list[int] = []
    while len(seen) < 98:  # everything but the registrations
        for msg in await feed.fetch(50, timeout=5):
            seen.append(int(msg.headers["Frontdoor-Source-Seq"]))  # type: ignore[index]
            await msg.ack()
    await team.nc.close()  # offline

    await _write_residents(frontdoor, 100, 101)  # 10,100 events, 10,000 of them for OT (not the registrations)
    await _settled(frontdoor)
    expected = len(seen) + int((await frontdoor.js.consumer_info("TEAMS", f"team-{OT}")).num_pending)
    assert expected >= len(seen) + 10_000

    team = await team_client(secured, OT)  # back: the same durable, from where it left off
    feed = await team.js_api().pull_subscribe(f"team.{OT}.>", durable=f"team-{OT}", stream="TEAMS")
    try:
        while len(seen) < expected:
            for msg in await feed.fetch(500, timeout=5):
                seen.append(int(msg.headers["Frontdoor-Source-Seq"]))  # type: ignore[index]
                await msg.ack()
        await team.nc.flush()
        await wait_until(lambda: _drained(frontdoor), what="every ack")
    finally:
        await team.nc.close()
    assert len(seen) == expected == len(set(seen))  # each once
    assert seen == sorted(seen)  # in order
    assert team.errors == []


async def _settled(services: Services) -> None:
    """Until the router has published everything, the detector's flags included."""
    while True:
        last = await services.store.last_seq()
        await wait_until(lambda at=last: _router_at(services, at), within=180, what="the router catching up")
        await wait_until(lambda at=last: _detector_at(services, at), within=180, what="the detector catching up")
        if await services.store.last_seq() == last:
            return


async def _drained(services: Services) -> bool:
    return await _pending(services) == 0


async def test_no_team_feed_of_a_demo_city_carries_another_teams_free_text(secured: SecuredNats,
                                                                         frontdoor: Services) -> None:
    await write_city(frontdoor, residents=150, seed=7)
    await _settled(frontdoor)
    last = await frontdoor.store.last_seq()

    owned: dict[str, set[str]] = {}  # free text -> the teams whose work it is
    texts_of_work = 0
    for seq in range(1, last + 1):
        envelope = Envelope.model_validate_json((await frontdoor.js.get_msg("CARE", seq)).data or b"")
        event = _event(envelope)
        for field in FREE_TEXT.get(type(event), ()):
            text = getattr(event, field)
            if text:
                owned.setdefault(text, set()).update(text_owners(event))
                texts_of_work += 1
    assert texts_of_work > 100  # the city has reasons, outcomes and explanations to leak

    scanned = 0
    leaks: list[tuple[str, str]] = []
    teams_info = await frontdoor.js.stream_info("TEAMS")
    for seq in range(1, int(teams_info.state.last_seq) + 1):
        msg = await frontdoor.js.get_msg("TEAMS", seq)
        team = msg.subject.split(".")[1]
        for text in _strings(orjson.loads(msg.data or b"{}")):
            if text in owned and team not in owned[text]:
                leaks.append((team, text))
        scanned += 1
    assert scanned > 200
    assert leaks == []


def _event(envelope: Envelope) -> Event:
    classes = {cls.type_name(): cls for cls in CARE_EVENTS}
    return classes[envelope.type].model_validate(envelope.data)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


async def _detector_at(services: Services, seq: int) -> bool:
    """The detector is the one projection that appends: once it is at `seq`, nothing new comes of those events."""
    ok, _ = await services.wait_for("duplicate_detector", seq)
    return ok


async def _router_at(services: Services, seq: int) -> bool:
    ok, _ = await services.wait_for("team_router", seq)
    return ok
