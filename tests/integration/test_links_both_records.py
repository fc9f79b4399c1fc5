"""Links on both records (issue 10): a link or unlink is written to both residents' subjects in one atomic batch,
either record can unlink, linking again from the other side writes nothing, and the views and the detector agree
at every step. A stale expected sequence on either record refuses the whole batch."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from events.catalogue import ResidentRegistered, ResidentsLinked, ResidentsUnlinked
from events.codec import wrap
from events.envelope import Actor
from events.errors import ConcurrencyConflict
from events.ids import uuid7
from frontdoor.services import Services
from projections.resident_view_projection import load_views
from projections.rules import DetectorView
from projections.tables import detector_views
from tests.integration.conftest import RESIDENT, auth

ADMIN = auth("admin")


async def _two(client: httpx.AsyncClient) -> tuple[str, str]:
    a = (await client.post("/residents", json=RESIDENT)).json()["resident_id"]
    b = (await client.post("/residents", json=RESIDENT | {"nhs_number": None, "given_name": "Addie"})).json()
    return a, b["resident_id"]


async def _linked_everywhere(client: httpx.AsyncClient, services: Services, seq: int,
                             a: str, b: str) -> dict[str, Any]:
    """What each record's view and the detector's copy say about the link, once both have reached `seq`."""
    views = {rid: (await client.get(f"/residents/{rid}", params={"min_seq": seq})).json() for rid in (a, b)}
    ok, _ = await services.wait_for("duplicate_detector", seq)
    assert ok
    async with services.engine.connect() as conn:
        detector = await load_views(conn, {a, b}, detector_views, DetectorView.from_document)
    return {"view": (views[a]["linked_residents"], views[b]["linked_residents"]),
            "detector": (detector[a].linked_residents, detector[b].linked_residents)}


async def _the_person_flag(client: httpx.AsyncClient, services: Services) -> dict[str, Any]:
    """The one open possible-duplicate flag. The detector raises it (appends it to the stream) before it records
    that it has seen the registrations, so once the detector has reached them the flag is in the stream, and the
    flags view read at the stream's end then holds it. (A fixed number of reads, as before, raced the detector on
    a loaded machine: CI ran out of reads before the detector had its turn.)"""
    seen = await services.store.last_seq()
    ok, _ = await services.wait_for("duplicate_detector", seen)
    assert ok, "the detector did not reach the registrations"
    flags = (await client.get("/flags", params={"rule": "possible_duplicate_resident", "status": "open",
                                                "min_seq": await services.store.last_seq()})).json()["flags"]
    assert len(flags) == 1, flags
    return dict(flags[0])


async def _link_events(services: Services, rid: str) -> list[tuple[str, str]]:
    return [(type(e.event).__name__, e.event.other_resident_id) for e in await services.store.read_resident(rid)
            if isinstance(e.event, ResidentsLinked | ResidentsUnlinked)]


async def test_link_from_a_unlink_from_b_link_again_from_b(client: httpx.AsyncClient, services: Services) -> None:
    a, b = await _two(client)
    linked = await client.post(f"/residents/{a}/links", headers=ADMIN,
                               json={"other_resident_id": b, "evidence": "same person, two records"})
    assert linked.status_code == 201, linked.text
    assert await _linked_everywhere(client, services, linked.json()["seq"], a, b) == {
        "view": ([b], [a]), "detector": ([b], [a])}
    assert await _link_events(services, a) == [("ResidentsLinked", b)]
    assert await _link_events(services, b) == [("ResidentsLinked", a)]

    before = await services.store.count()
    again = await client.post(f"/residents/{b}/links", headers=ADMIN, json={"other_resident_id": a,
                                                                            "evidence": "again"})
    assert again.status_code == 201 and await services.store.count() == before  # already linked: nothing new

    unlinked = await client.request("DELETE", f"/residents/{b}/links/{a}", headers=ADMIN,
                                    json={"reason": "twins, not one person"})
    assert unlinked.status_code == 200, unlinked.text
    assert await _linked_everywhere(client, services, unlinked.json()["seq"], a, b) == {
        "view": ([], []), "detector": ([], [])}
    assert await _link_events(services, a) == [("ResidentsLinked", b), ("ResidentsUnlinked", b)]
    assert await _link_events(services, b) == [("ResidentsLinked", a), ("ResidentsUnlinked", a)]

    relinked = await client.post(f"/residents/{b}/links", headers=ADMIN, json={"other_resident_id": a,
                                                                               "evidence": "one person after all"})
    assert relinked.status_code == 201
    assert await _linked_everywhere(client, services, relinked.json()["seq"], a, b) == {
        "view": ([b], [a]), "detector": ([b], [a])}


async def test_a_link_to_nobody_is_refused_and_writes_nothing(client: httpx.AsyncClient, services: Services) -> None:
    a, _ = await _two(client)
    before = await services.store.count()
    answer = await client.post(f"/residents/{a}/links", headers=ADMIN, json={
        "other_resident_id": "01890000-0000-7000-8000-000000000000", "evidence": "?"})
    assert answer.status_code == 404 and answer.json()["errors"][0]["field"] == "other_resident_id"
    assert await services.store.count() == before


@pytest.mark.parametrize("stale", ["first", "second"])
async def test_a_stale_expected_sequence_on_either_record_refuses_the_whole_batch(services: Services,
                                                                                   stale: str) -> None:
    actor = Actor(id="t", role="admin")
    a, b = uuid7(), uuid7()
    # Two people nobody could take for one another: the running detector must not flag (and so append to) them.
    for rid, (given, family, year) in zip((a, b), (("Anwen", "Brockley", 1931), ("Tobias", "Quennell", 1968)),
                                          strict=True):
        born = ResidentRegistered(given_name=given, family_name=family, date_of_birth=date(year, 5, 17),
                                  postcode="SO14 7LY" if year < 1950 else "SO40 9QS")
        await services.store.append(rid, [wrap(born, event_id=uuid7(), resident_id=rid, actor=actor,
                                               occurred_at=datetime.now(UTC), correlation_id="c")], expected_seq=0)
    seqs = {rid: await services.store.last_subject_seq(rid) for rid in (a, b)}
    before = await services.store.count()

    def link(me: str, other: str) -> Any:
        return wrap(ResidentsLinked(resident_id=me, other_resident_id=other, evidence="x", decided_by="t"),
                    event_id=uuid7(), resident_id=me, actor=actor, occurred_at=datetime.now(UTC), correlation_id="c")

    wrong = a if stale == "first" else b
    with pytest.raises(ConcurrencyConflict):
        await services.store.append_many([(a, [link(a, b)], seqs[a] - (wrong == a)),
                                          (b, [link(b, a)], seqs[b] - (wrong == b))])
    assert await services.store.count() == before
    await services.store.append_many([(a, [link(a, b)], seqs[a]), (b, [link(b, a)], seqs[b])])
    assert await services.store.count() == before + 2


async def test_resolving_a_possible_duplicate_by_linking_lands_with_the_links_and_linking_closes_the_flag(
        client: httpx.AsyncClient, services: Services) -> None:
    a = (await client.post("/residents", json=RESIDENT | {"nhs_number": None})).json()["resident_id"]
    b = (await client.post("/residents", json=RESIDENT | {"nhs_number": None, "given_name": "Ada M"})).json()
    flag = await _the_person_flag(client, services)
    resolved = await client.post(f"/flags/{flag['flag_id']}/resolve", headers=auth("coordinator"),
                                 json={"resolution": "linked_records", "note": "same person"})
    assert resolved.status_code == 200, resolved.text
    assert await _linked_everywhere(client, services, resolved.json()["seq"], a, b["resident_id"]) == {
        "view": ([b["resident_id"]], [a]), "detector": ([b["resident_id"]], [a])}
    events = [e.type for e in await services.store.read_resident(flag["resident_id"])]
    assert events[-2:] == ["DuplicationResolved", "ResidentsLinked"]


async def test_linking_two_records_closes_their_possible_duplicate_flag(client: httpx.AsyncClient,
                                                                        services: Services) -> None:
    a = (await client.post("/residents", json=RESIDENT | {"nhs_number": None})).json()["resident_id"]
    b = (await client.post("/residents", json=RESIDENT | {"nhs_number": None, "given_name": "Ada M"})).json()
    flag = await _the_person_flag(client, services)
    linked = await client.post(f"/residents/{a}/links", headers=ADMIN,
                               json={"other_resident_id": b["resident_id"], "evidence": "same NHS number on paper"})
    after = (await client.get("/flags", params={"rule": "possible_duplicate_resident",
                                                "min_seq": linked.json()["seq"]})).json()["flags"]
    assert [(f["flag_id"], f["status"]) for f in after] == [(flag["flag_id"], "resolved")]
