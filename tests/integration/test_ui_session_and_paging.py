"""Issue 13: the pages' session is not a bearer token and every form needs its CSRF token; the JSON API ignores
the UI's cookie; the lists page through an opaque cursor, each row once."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import insert

from events.ids import uuid7
from frontdoor.api.auth import issue_token, verify_token
from frontdoor.api.problems import Problem
from frontdoor.services import Services
from frontdoor.web import create_web_app
from projections.tables import flags, residents
from tests.conftest import bounded
from tests.integration.conftest import CONTACT, RESIDENT, SECRET, auth

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
async def browser(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """A client with no Authorization header: like a browser, it has only its cookies."""
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_web_app(services)),
                             base_url="http://frontdoor", timeout=30)
    yield http
    await bounded(http.aclose(), "the browser-like client")


async def sign_in(http: httpx.AsyncClient, role: str = "call_handler", team: str | None = None) -> str:
    """Signs in through the sign-in form; returns the CSRF token of the session's pages."""
    form = await http.get("/")
    token = issue_token(SECRET, sub=f"ui-{role}", role=role, team_id=team)
    signed = await http.post("/", data={"token": token, "next": "/ui/search",
                                        "csrf": CSRF.search(form.text).group(1)})  # type: ignore[union-attr]
    assert signed.status_code == 303, signed.text
    page = await http.get("/ui/search")
    assert page.status_code == 200
    return CSRF.search(page.text).group(1)  # type: ignore[union-attr]


async def register(client: httpx.AsyncClient, **changes: Any) -> tuple[str, int]:
    made = await client.post("/residents", json={k: v for k, v in (RESIDENT | changes).items() if v is not None})
    assert made.status_code == 201, made.text
    return made.json()["resident_id"], made.json()["seq"]


async def contacts_of(client: httpx.AsyncClient, resident_id: str, seq: int) -> int:
    view = await client.get(f"/residents/{resident_id}", params={"min_seq": seq})
    return len(view.json()["contacts"])


async def test_the_session_cookie_is_not_the_token_and_signs_in_the_pages_only(
        client: httpx.AsyncClient, browser: httpx.AsyncClient) -> None:
    await sign_in(browser)
    cookie = browser.cookies.get("frontdoor_session")
    assert cookie and browser.cookies.get("frontdoor_token") is None
    with pytest.raises(Problem):  # not a bearer token: worth nothing to the API even if stolen
        verify_token(SECRET, cookie)
    as_bearer = await browser.get("/residents", params={"q": "ada"}, headers={"Authorization": f"Bearer {cookie}"})
    assert as_bearer.status_code == 401

    # A write to the JSON API with only the UI's cookie: 401, nothing registered.
    refused = await browser.post("/residents", json=RESIDENT | {"family_name": "Cookieonly", "nhs_number": None})
    assert refused.status_code == 401, refused.text
    # Nor does a cookie holding a real bearer token (what the old sign-in set) authorise anything.
    browser.cookies.set("frontdoor_token", issue_token(SECRET, sub="old", role="call_handler"))
    refused = await browser.post("/residents", json=RESIDENT | {"family_name": "Cookieonly", "nhs_number": None})
    assert refused.status_code == 401, refused.text
    found = await client.get("/residents", params={"q": "cookieonly"})
    assert found.json()["results"] == []


async def test_a_form_without_its_csrf_token_or_with_another_sessions_is_refused_and_writes_nothing(
        client: httpx.AsyncClient, browser: httpx.AsyncClient, services: Services) -> None:
    resident_id, seq = await register(client, nhs_number=None)
    mine = await sign_in(browser)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_web_app(services)),
                                 base_url="http://frontdoor", timeout=30) as other_browser:
        theirs = await sign_in(other_browser)
    assert theirs != mine
    form = {"channel": "phone", "caller_relationship": "self", "urgency": "routine", "summary": "Forged",
            "outcome": "advice"}
    url = f"/ui/residents/{resident_id}/contacts"

    for sent in (form, form | {"csrf": theirs}, form | {"csrf": ""}, form | {"csrf": mine + "x"}):
        refused = await browser.post(url, data=sent)
        assert refused.status_code == 403, refused.text
        assert "nothing was saved" in refused.text
    assert await contacts_of(client, resident_id, seq) == 0

    taken = await browser.post(url, data=form | {"csrf": mine})
    assert taken.status_code == 303, taken.text
    last = int(taken.headers["location"].split("min_seq=")[1].split("&")[0])
    assert await contacts_of(client, resident_id, last) == 1


async def test_sign_in_needs_the_sign_in_forms_own_token(browser: httpx.AsyncClient) -> None:
    token = issue_token(SECRET, sub="forged", role="call_handler")
    refused = await browser.post("/", data={"token": token, "next": "/ui/search"})
    assert refused.status_code == 403
    assert browser.cookies.get("frontdoor_session") is None


async def test_paging_through_more_than_a_thousand_flags_returns_each_once(
        client: httpx.AsyncClient, services: Services) -> None:
    """Rows written straight into the flags read model (it is disposable, and 1,250 detector runs would test the
    detector, not paging); new flags raised while paging come before the reader's place, never twice."""
    client.headers.update(auth("coordinator"))
    resident_id = str(uuid7())
    async with services.engine.begin() as conn:
        await conn.execute(insert(residents).values(
            resident_id=resident_id, nhs_number=None, given_name="Page", family_name="Turner",
            search_name="page turner", date_of_birth=date(1950, 1, 1), postcode="SO14 7LY",
            postcode_key="SO147LY", gp_practice=None, cluster="central", version=1))
        await conn.execute(insert(flags), [_flag(resident_id, 10_000_000 + i // 3) for i in range(1250)])

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"status": "open", "limit": 100, "cluster": "central"}
        if cursor:
            params["cursor"] = cursor
        answer = (await client.get("/flags", params=params)).json()
        seen += [f["flag_id"] for f in answer["flags"] if f["resident_id"] == resident_id]
        cursor, pages = answer["next_cursor"], pages + 1
        if pages == 3:  # flags raised while someone pages
            async with services.engine.begin() as conn:
                await conn.execute(insert(flags), [_flag(resident_id, 20_000_000 + i) for i in range(5)])
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 1250
    assert pages == 13
    whole = (await client.get("/flags", params={"status": "open", "limit": 1000})).json()
    assert len(whole["flags"]) == 1000 and whole["next_cursor"] is not None

    bad = await client.get("/flags", params={"cursor": "bm90IGEgY3Vyc29y"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"


def _flag(resident_id: str, seq: int) -> dict[str, Any]:
    return {"flag_id": str(uuid7()), "resident_id": resident_id, "rule": "parallel_referrals", "severity": "medium",
            "refs": orjson.dumps([]).decode(), "explanation": "test", "status": "open",
            "raised_at": "2026-11-30T09:00:00Z", "raised_seq": seq, "resolution": None, "resolved_by": None,
            "resolved_at": None}


@pytest.mark.parametrize("sort", ["waiting", "urgency", "need", "made_at"])
async def test_a_caseload_and_a_search_page_through_each_item_once(client: httpx.AsyncClient, sort: str) -> None:
    ids = []
    for i in range(5):
        resident_id, _ = await register(client, nhs_number=None, family_name="Pager", given_name=f"Ann{i}")
        ids.append(resident_id)
    made = set()
    seq = 0
    for i, resident_id in enumerate(ids):
        await client.post(f"/residents/{resident_id}/contacts", json=CONTACT)
        referral = await client.post(f"/residents/{resident_id}/referrals", json={
            "to_team": "ot-central", "need": "mobility and falls", "urgency": ("urgent", "soon", "routine")[i % 3]})
        assert referral.status_code == 201, referral.text
        made.add(referral.json()["referral_id"])
        seq = referral.json()["seq"]

    client.headers.update(auth("team", team="ot-central"))
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2, "sort": sort, "min_seq": seq}
    while True:
        answer = (await client.get("/teams/ot-central/caseload", params=params)).json()
        assert len(answer["referrals"]) <= 2
        seen += [r["referral_id"] for r in answer["referrals"] if r["referral_id"] in made]
        if answer["next_cursor"] is None:
            break
        params = {"limit": 2, "sort": sort, "cursor": answer["next_cursor"]}
    assert sorted(seen) == sorted(made) and len(seen) == len(made)

    client.headers.update(auth("call_handler"))
    found: list[str] = []
    search: dict[str, Any] = {"q": "pager", "limit": 2}
    while True:
        answer = (await client.get("/residents", params=search)).json()
        found += [r["resident_id"] for r in answer["results"] if r["resident_id"] in ids]
        if answer["next_cursor"] is None:
            break
        search = {"q": "pager", "limit": 2, "cursor": answer["next_cursor"]}
    assert sorted(found) == sorted(ids) and len(found) == len(ids)


async def test_a_team_works_its_caseload_from_the_page(client: httpx.AsyncClient, browser: httpx.AsyncClient) -> None:
    """Decline needs a reason (said beside the field, nothing written); accept; hand off to a team chosen by the
    need; start and complete an assessment: each through the caseload page's forms."""
    resident_id, _ = await register(client, nhs_number=None, family_name="Caseworth")
    await client.post(f"/residents/{resident_id}/contacts", json=CONTACT)
    made = (await client.post(f"/residents/{resident_id}/referrals", json={
        "to_team": "ot-central", "need": "mobility and falls", "reason": "Stairs"})).json()
    referral_id = made["referral_id"]
    csrf = await sign_in(browser, "team", team="ot-central")
    here = "/ui/teams/ot-central"

    page = await browser.get(here, params={"min_seq": made["seq"]})
    assert page.status_code == 200 and "Caseworth" in page.text

    declined = await browser.post(f"{here}/referrals/{referral_id}/decline", data={"csrf": csrf, "reason": ""})
    assert declined.status_code == 422
    assert f'id="decline-{referral_id}-reason-error"' in declined.text and "Fill this in" in declined.text

    accepted = await browser.post(f"{here}/referrals/{referral_id}/accept", data={"csrf": csrf})
    assert accepted.status_code == 303, accepted.text
    shown = await browser.get(accepted.headers["location"])
    assert "Referral accepted." in shown.text and f'action="{here}/referrals/{referral_id}/handoff"' in shown.text
    assert '<option value="reab-central">' in shown.text  # a team meeting mobility and falls, offered for handoff

    started = await browser.post(f"{here}/residents/{resident_id}/assessments",
                                 data={"csrf": csrf, "kind": "falls", "row": referral_id})
    assert started.status_code == 303, started.text
    shown = await browser.get(started.headers["location"])
    assessment_id = re.search(rf'action="{here}/assessments/([0-9a-f-]+)/complete"', shown.text).group(1)  # type: ignore[union-attr]
    completed = await browser.post(f"{here}/assessments/{assessment_id}/complete",
                                   data={"csrf": csrf, "outcome": "Rails fitted"})
    assert completed.status_code == 303, completed.text

    handed = await browser.post(f"{here}/referrals/{referral_id}/handoff",
                                data={"csrf": csrf, "to_team": "reab-central", "reason": "Reablement first"})
    assert handed.status_code == 303, handed.text
    last = int(handed.headers["location"].split("min_seq=")[1].split("&")[0])
    view = (await client.get(f"/residents/{resident_id}", params={"min_seq": last})).json()
    assert [s["step"] for s in view["referrals"][0]["history"]] == ["made", "accepted", "handed_off"]
    assert view["referrals"][0]["to_team"] == "reab-central"
    assert view["assessments"][0]["status"] == "completed" and view["assessments"][0]["outcome"] == "Rails fitted"

    other = await browser.get("/ui/teams/dn-central")  # another team's caseload: not for this team
    assert other.status_code == 403


async def test_the_flags_page_pages_newest_first_and_filters(browser: httpx.AsyncClient, services: Services) -> None:
    resident_id = str(uuid7())
    async with services.engine.begin() as conn:
        await conn.execute(insert(residents).values(
            resident_id=resident_id, nhs_number=None, given_name="Flora", family_name="Pagewell",
            search_name="flora pagewell", date_of_birth=date(1950, 1, 1), postcode="SO14 7LY",
            postcode_key="SO147LY", gp_practice=None, cluster="east", version=1))
        rows = [_flag(resident_id, 30_000_000 + i) for i in range(30)]
        await conn.execute(insert(flags), rows)
    newest_first = [r["flag_id"] for r in sorted(rows, key=lambda r: -r["raised_seq"])]
    await sign_in(browser, "coordinator")

    first = await browser.get("/ui/flags", params={"cluster": "east", "rule": "parallel_referrals"})
    assert first.status_code == 200
    shown = re.findall(r'id="flag-([0-9a-f-]+)"', first.text)
    assert shown == newest_first[:25] and "Flora Pagewell" in first.text
    older = re.search(r'href="(/ui/flags\?[^"]*cursor=[^"]+)">Older flags', first.text)
    assert older, "no link to the older flags"
    second = await browser.get(older.group(1).replace("&amp;", "&"))
    assert re.findall(r'id="flag-([0-9a-f-]+)"', second.text) == newest_first[25:]
    assert "Older flags" not in second.text and "Newest flags" in second.text

    other = await browser.get("/ui/flags", params={"cluster": "west"})
    assert not set(re.findall(r'id="flag-([0-9a-f-]+)"', other.text)) & set(newest_first)
    unknown = await browser.get("/ui/flags", params={"cluster": "atlantis"})
    assert unknown.status_code == 422 and 'id="filter-cluster-error"' in unknown.text
