"""DESIGN §9 "NATS security", tried against a real nats-server started from the generated configuration: with team
A's credentials every forbidden operation is refused by the server, and A's own durable, fetch, ack and commands
work. (Before: no authentication at all, and a team allowed to create consumers on TEAMS read another's feed.)"""

from __future__ import annotations

import httpx
import nats
import orjson
import pytest

from frontdoor.nats_config import team_url
from frontdoor.services import Services
from frontdoor.web import create_web_app
from tests.integration.conftest import auth
from tests.integration.secured_nats import SecuredNats, frontdoor, secured, settled, team_client, wait_until

__all__ = ["frontdoor", "secured"]  # the fixtures
A, B = "ot-central", "dn-central"

REFUSED_SUBSCRIPTIONS = [f"team.{B}.>", "team.>", "care.>", "audit.>", "$KV.NHS_NUMBERS.>", "cmd.>",
                         "$JS.ACK.TEAMS.>", f"_INBOX_{B}.>", "*.>", ">", "$JS.API.>", "frontdoor.>"]
REFUSED_PUBLISHES = [
    f"$JS.API.CONSUMER.CREATE.TEAMS.peek.team.{B}.>",      # a consumer on TEAMS filtered to B
    "$JS.API.CONSUMER.CREATE.TEAMS.peek",                   # unfiltered
    "$JS.API.CONSUMER.DURABLE.CREATE.TEAMS.peek",
    f"{'frontdoor.api'}.CONSUMER.CREATE.TEAMS.peek.team.{B}.>",  # the same through A's own API prefix
    "$JS.API.CONSUMER.CREATE.CARE.peek",                    # a consumer on CARE
    f"$JS.API.CONSUMER.MSG.NEXT.TEAMS.team-{B}",            # fetching from B's durable
    f"frontdoor.api.CONSUMER.MSG.NEXT.TEAMS.team-{B}",
    "$JS.API.DIRECT.GET.CARE", "$JS.API.DIRECT.GET.TEAMS", "$JS.API.DIRECT.GET.AUDIT",
    "$JS.API.DIRECT.GET.KV_NHS_NUMBERS",                    # reading a KV bucket
    "$JS.API.STREAM.MSG.GET.CARE", "$JS.API.STREAM.MSG.GET.TEAMS", "$JS.API.STREAM.MSG.GET.KV_IDEMPOTENCY",
    "$JS.API.STREAM.INFO.TEAMS", "$JS.API.STREAM.LIST", "$JS.API.STREAM.NAMES", "$JS.API.STREAM.DELETE.TEAMS",
    f"$JS.API.CONSUMER.DELETE.TEAMS.team-{A}", f"$JS.API.CONSUMER.DELETE.TEAMS.team-{B}",
    f"$JS.API.CONSUMER.INFO.TEAMS.team-{B}", f"frontdoor.api.CONSUMER.INFO.TEAMS.team-{B}", "$JS.API.INFO",
    f"cmd.{B}.accept", "care.x", "team.x.ReferralMade", f"team.{A}.ReferralMade",
]


async def _refer(services: Services, team: str) -> dict[str, object]:
    transport = httpx.ASGITransport(app=create_web_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://frontdoor",
                                 headers=auth("call_handler")) as http:
        rid = (await http.post("/residents", json={"given_name": "Ada", "family_name": "Lovelace",
                                                   "date_of_birth": "1941-12-10", "postcode": "SO14 7LY"})).json()
        made = await http.post(f"/residents/{rid['resident_id']}/referrals", json={
            "to_team": team, "need": "mobility and falls", "reason": f"private words for {team}"})
        assert made.status_code == 201, made.text
        answer: dict[str, object] = made.json()
        return answer


async def _pending(services: Services, team: str) -> int:
    return int((await services.js.consumer_info("TEAMS", f"team-{team}")).num_pending)


@pytest.mark.parametrize("subject", REFUSED_SUBSCRIPTIONS)
async def test_a_team_cannot_subscribe_outside_its_inbox(secured: SecuredNats, frontdoor: Services,
                                                         subject: str) -> None:
    await _refer(frontdoor, B)
    a = await team_client(secured, A)
    try:
        got: list[bytes] = []

        async def keep(msg: object) -> None:
            got.append(getattr(msg, "data", b""))

        await a.nc.subscribe(subject, cb=keep)
        await a.nc.flush()
        assert await a.refused(f'subscription to "{subject}"'), a.errors
        await _refer(frontdoor, B)  # more of B's work arrives: none of it reaches A
        await wait_until(lambda: _pending(frontdoor, B), what="B's feed")
        assert got == []
    finally:
        await a.nc.close()


async def test_every_other_operation_is_refused_by_the_server(secured: SecuredNats, frontdoor: Services) -> None:
    await _refer(frontdoor, A)
    await _refer(frontdoor, B)
    await settled(frontdoor)
    care_before = (await frontdoor.js.stream_info("CARE")).state.messages
    b_before = await _pending(frontdoor, B)
    a = await team_client(secured, A)
    try:
        for subject in REFUSED_PUBLISHES:
            await a.nc.publish(subject, b"{}", reply=f"_INBOX_{A}.probe")
            await a.nc.flush()
            assert await a.refused(f'publish to "{subject}"'), (subject, a.errors)
        assert len(a.errors) == len(REFUSED_PUBLISHES)
    finally:
        await a.nc.close()
    # And nothing changed: no message in CARE, B's feed untouched, no consumer but the durables, every stream there.
    assert (await frontdoor.js.stream_info("CARE")).state.messages == care_before
    assert await _pending(frontdoor, B) == b_before
    consumers = {c.name for c in await frontdoor.js.consumers_info("TEAMS")}
    assert consumers == {f"team-{t.id}" for t in frontdoor.teams.teams}
    for stream in ("CARE", "TEAMS", "AUDIT"):
        await frontdoor.js.stream_info(stream)


async def test_a_team_reads_acks_and_acts_on_its_own_work(secured: SecuredNats, frontdoor: Services) -> None:
    referral = await _refer(frontdoor, A)
    await _refer(frontdoor, B)
    await wait_until(lambda: _pending(frontdoor, A), what="A's feed")
    a = await team_client(secured, A)
    try:
        feed = await a.js_api().pull_subscribe(f"team.{A}.>", durable=f"team-{A}", stream="TEAMS")
        messages = await feed.fetch(10, timeout=5)
        assert messages[0].subject == f"team.{A}.ReferralMade"  # (then perhaps a flag on the two Ada Lovelaces)
        assert all(m.subject.startswith(f"team.{A}.") for m in messages)
        body = orjson.loads(messages[0].data)
        assert body["data"]["referral_id"] == referral["referral_id"]
        assert body["data"]["reason"] == f"private words for {A}"  # its own work keeps its text
        for message in messages:
            await message.ack_sync()
        await wait_until(lambda: _acked(frontdoor), what="the ack")
        reply = await a.nc.request(f"cmd.{A}.accept", orjson.dumps({"referral_id": referral["referral_id"]}),
                                   timeout=10)
        answer = orjson.loads(reply.data)
        assert answer["ok"] is True and answer["status"] == "accepted", answer
        assert a.errors == []
    finally:
        await a.nc.close()
    # A client with default settings (inbox _INBOX.) can send commands too: in A's own account that inbox is A's.
    plain = await nats.connect(team_url(secured.folder, A))
    try:
        reply = await plain.request(f"cmd.{A}.accept", orjson.dumps({"referral_id": referral["referral_id"]}),
                                    timeout=10)
        assert orjson.loads(reply.data)["status"] == 409  # accepted already: the answer reached it
    finally:
        await plain.close()


async def _acked(services: Services) -> bool:
    info = await services.js.consumer_info("TEAMS", f"team-{A}")
    return info.ack_floor is not None and (info.ack_floor.stream_seq or 0) >= 1 and info.num_ack_pending == 0


async def test_the_port_refuses_a_client_without_credentials_or_with_a_wrong_password(secured: SecuredNats) -> None:
    for url in (f"nats://127.0.0.1:{secured.server.port}", f"nats://{A}:guessed@127.0.0.1:{secured.server.port}"):
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(url, max_reconnect_attempts=0, connect_timeout=2, allow_reconnect=False)
