"""Issue 13 in a real browser against the real server: a call handler, a team and a coordinator each doing their
part from the keyboard alone, the resident page showing every step, the as-of picker agreeing with the API, axe
finding nothing serious on any page, and the session's cookie refused by the JSON API.

Set FRONTDOOR_SCREENSHOTS=docs/screenshots to (re)make the README's screenshots."""

from __future__ import annotations

import asyncio
import os
import random
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from playwright.async_api import Page, expect

from tests.e2e.browsing import assert_accessible, choose, pick, press, type_into
from tests.e2e.conftest import RunningServer, sign_in_over_http
from tests.e2e.test_ui_browser import a_valid_nhs_number

FLAG_DEADLINE_S = 60.0  # a deadline for a projector process on a busy machine, not a speed


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _shoot(page: Page, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("FRONTDOOR_SCREENSHOTS", str(tmp_path)))
    await page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


async def _keyboard_sign_in(page: Page, token: str) -> None:
    await page.goto("/")
    await type_into(page, page.get_by_label("Sign-in token"), token)
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"/ui/"))  # signed in: the next navigation must not cut this one short


async def _sign_out(page: Page) -> None:
    await press(page, page.get_by_role("button", name="Sign out"))
    await expect(page.get_by_role("status")).to_have_text("You have signed out.")


async def _wait_for_flag(http: httpx.AsyncClient, token: str, resident_id: str) -> dict[str, Any]:
    """The detector raises the flag a moment after the second referral: wait for it, with a deadline."""
    deadline = asyncio.get_running_loop().time() + FLAG_DEADLINE_S
    while True:
        found = (await http.get("/flags", params={"resident_id": resident_id, "status": "open"},
                                headers=_bearer(token))).json()["flags"]
        if found:
            return dict(found[0])
        assert asyncio.get_running_loop().time() < deadline, "no flag was raised for the parallel referrals"
        await asyncio.sleep(0.1)  # a poll interval under a deadline


async def test_a_referral_from_call_to_completion_and_a_flag_resolved_from_the_keyboard(
        axe_page: Page, server: RunningServer, axe_source: str, tmp_path: Path) -> None:
    page = axe_page
    surname = f"Keyes{random.randrange(10**6):06d}"
    nhs = a_valid_nhs_number()
    handler = server.token("call_handler", sub="e2e-handler")
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        made = await http.post("/residents", headers=_bearer(handler), json={
            "nhs_number": nhs, "given_name": "Winifred", "family_name": surname, "date_of_birth": "1938-04-02",
            "postcode": "SO14 7LY", "cluster": "central"})
        assert made.status_code == 201, made.text
        resident_id = made.json()["resident_id"]
        # Read your writes: the search below reads the views, which a projector process applies a moment later.
        seen = await http.get(f"/residents/{resident_id}", params={"min_seq": made.json()["seq"]},
                              headers=_bearer(handler))
        assert seen.status_code == 200, seen.text

    # The call handler finds her by NHS number and records the call and a referral: keyboard only.
    await _keyboard_sign_in(page, handler)
    await expect(page).to_have_url(re.compile(r"/ui/search$"))
    await assert_accessible(page, axe_source, "the search page")
    await type_into(page, page.get_by_label("Search"), nhs)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name=re.compile("1 resident found"))).to_be_visible()
    await assert_accessible(page, axe_source, "search results")
    await press(page, page.get_by_role("link", name=f"Winifred {surname}"))
    await expect(page.get_by_role("heading", name=f"Winifred {surname}", level=1)).to_be_visible()

    contact = page.locator("#record-contact")
    await press(page, contact.get_by_label("Mobility and falls"), " ")
    await pick(page, contact.get_by_label("Soon"))
    await type_into(page, contact.get_by_role("textbox", name="Summary"), "Two falls on the stairs this month.")
    await pick(page, contact.get_by_label("Referred"))
    await press(page, contact.get_by_role("button", name="Record contact"))
    await expect(page.get_by_role("status")).to_have_text("Contact recorded.")

    refer = page.locator("#refer")
    await choose(page, refer.get_by_label("Team, by the need it meets"), "mobility and falls|ot-central")
    await pick(page, refer.get_by_label("Soon"))
    await type_into(page, refer.get_by_label("Reason"), "Stairs assessment, please.")
    await press(page, refer.get_by_role("button", name="Make referral"))
    await expect(page.get_by_role("status")).to_have_text("Referral made.")
    await expect(page.locator("#referrals")).to_contain_text("0 days waiting")
    await assert_accessible(page, axe_source, "the resident page")

    # A form error is said beside its field, and axe is content with that page too.
    await type_into(page, page.locator("#record-contact").get_by_role("textbox", name="Summary"), "x" * 2001)
    await press(page, page.locator("#record-contact").get_by_role("button", name="Record contact"))
    await expect(page.locator("#contact-outcome-error")).to_be_visible()
    await assert_accessible(page, axe_source, "the resident page with a form error")
    await _sign_out(page)
    await assert_accessible(page, axe_source, "the sign-in page")

    # Duplicated work elsewhere for the coordinator: two teams asked for the same need at once.
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        for team in ("asc-central", "reab-central"):
            sent = await http.post(f"/residents/{resident_id}/referrals", headers=_bearer(handler),
                                   json={"to_team": team, "need": "personal care", "reason": "Washing and dressing"})
            assert sent.status_code == 201, sent.text
        flag = await _wait_for_flag(http, handler, resident_id)

    # The team lands on its caseload, accepts the referral and completes it.
    await _keyboard_sign_in(page, server.token("team", team="ot-central", sub="e2e-ot"))
    await expect(page).to_have_url(re.compile(r"/ui/teams/ot-central$"))
    row = page.locator("#caseload-table tr", has_text=surname)
    await expect(row).to_contain_text("Mobility and falls")
    await expect(row).to_contain_text("soon")
    await assert_accessible(page, axe_source, "the caseload")
    await press(page, page.get_by_role("button", name=f"Accept the referral of Winifred {surname}"))
    await expect(page.get_by_role("status")).to_have_text("Referral accepted.")
    await expect(page.locator("#caseload-table tr", has_text=surname)).to_contain_text("accepted")
    await _shoot(page, "caseload", tmp_path)

    work = page.get_by_role("form", name=f"Complete the referral of Winifred {surname}")
    await press(page, work.get_by_role("button", name=re.compile("^Complete")))
    await expect(page.get_by_role("alert").first).to_be_visible()
    await expect(page.locator("[id^='complete-'][id$='-outcome-error']")).to_contain_text("Fill this in")
    await assert_accessible(page, axe_source, "the caseload with a form error")
    await type_into(page, work.get_by_label("Outcome"), "Rails fitted on both stairs; no further falls.")
    await press(page, work.get_by_role("button", name=re.compile("^Complete")))
    await expect(page.get_by_role("status")).to_have_text("Referral completed.")
    await expect(page.locator("#caseload-table", has_text=surname)).to_have_count(0)
    await _sign_out(page)

    # The coordinator lands on the flags and resolves this one.
    await _keyboard_sign_in(page, server.token("coordinator", sub="e2e-coordinator"))
    await expect(page).to_have_url(re.compile(r"/ui/flags$"))
    item = page.locator(f"#flag-{flag['flag_id']}")
    await expect(item).to_contain_text("Referred to more than one team for the same need")
    await expect(item.get_by_role("link", name=f"Winifred {surname}")).to_be_visible()
    await assert_accessible(page, axe_source, "the flags page")
    await _shoot(page, "flags", tmp_path)
    await press(page, item.locator("summary"))
    await pick(page, item.get_by_label(re.compile("^Merged")))
    await type_into(page, item.get_by_label("Note (optional)"), "Reablement will do it; Adult Social Care closes.")
    await press(page, item.get_by_role("button", name=re.compile("^Resolve")))
    await expect(page.get_by_role("status")).to_have_text("Flag resolved.")
    await expect(page.locator(f"#flag-{flag['flag_id']}")).to_have_count(0)

    # The resident page shows each step, in one story across the agencies.
    await page.goto(f"/ui/residents/{resident_id}")
    story = page.locator("#timeline")
    for words in ("Contact by phone from the resident about mobility and falls", "Referred: mobility and falls",
                  "Accepted: mobility and falls", "Completed: mobility and falls", "Referred: personal care"):
        await expect(story).to_contain_text(words)
    await expect(story).to_contain_text("Rails fitted on both stairs")
    await expect(page.locator(".flags")).to_have_count(0)
    await assert_accessible(page, axe_source, "the resident page after the work")
    await _shoot(page, "resident", tmp_path)


async def test_the_as_of_picker_shows_the_page_as_the_api_sees_that_moment(
        axe_page: Page, server: RunningServer, axe_source: str) -> None:
    page = axe_page
    handler = server.token("call_handler", sub="e2e-as-of")
    team = server.token("team", team="dn-central", sub="e2e-dn")
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        made = await http.post("/residents", headers=_bearer(handler), json={
            "given_name": "Albert", "family_name": f"Asof{random.randrange(10**6):06d}",
            "date_of_birth": "1941-02-03", "postcode": "SO15 2AB", "cluster": "central"})
        resident_id = made.json()["resident_id"]
        referral = (await http.post(f"/residents/{resident_id}/referrals", headers=_bearer(handler), json={
            "to_team": "dn-central", "need": "long-term condition", "reason": "Leg ulcer"})).json()
        accepted = await http.post(f"/referrals/{referral['referral_id']}/accept", headers=_bearer(team))
        assert accepted.status_code == 200, accepted.text
        now = (await http.get(f"/residents/{resident_id}", params={"min_seq": accepted.json()["seq"]},
                              headers=_bearer(handler))).json()
        steps = now["referrals"][0]["history"]
        made_at = datetime.fromisoformat(steps[0]["at"].replace("Z", "+00:00"))
        # Just after the referral was made (to the millisecond the picker offers), before it was accepted.
        moment = made_at.replace(microsecond=made_at.microsecond // 1000 * 1000) + timedelta(milliseconds=1)
        assert made_at < moment < datetime.fromisoformat(steps[1]["at"].replace("Z", "+00:00"))
        then = (await http.get(f"/residents/{resident_id}", params={"as_of": moment.isoformat()},
                               headers=_bearer(handler))).json()

    await _keyboard_sign_in(page, handler)
    await page.goto(f"/ui/residents/{resident_id}")
    local = moment.astimezone(ZoneInfo("Europe/London"))
    await page.get_by_label("Date and time (UK time)").fill(local.strftime("%Y-%m-%dT%H:%M:%S.") +
                                                          f"{local.microsecond // 1000:03d}")
    await page.get_by_role("button", name="Show", exact=True).click()
    await expect(page.locator("#as-of-notice")).to_be_visible()
    await assert_accessible(page, axe_source, "the resident page as of a moment")

    assert then["version"] < now["version"]
    await expect(page.locator("#version-number")).to_have_text(str(then["version"]))
    await expect(page.locator("#referrals .status")).to_have_text(["Waiting for the team"])
    entries = len(then["contacts"]) + sum(len(r["history"]) for r in then["referrals"]) + len(then["assessments"])
    await expect(page.locator("#timeline .moment")).to_have_count(entries)
    await expect(page.locator("#timeline")).not_to_contain_text("Accepted")
    await expect(page.locator("#record-contact")).to_have_count(0)  # the past is read, not written to
    # And now: the accepted step is there, as in the API's current view.
    await page.goto(f"/ui/residents/{resident_id}")
    await expect(page.locator("#version-number")).to_have_text(str(now["version"]))
    await expect(page.locator("#referrals .status")).to_have_text(["Accepted"])


async def test_likely_matches_come_first_when_registering(axe_page: Page, server: RunningServer,
                                                          axe_source: str) -> None:
    page = axe_page
    handler = server.token("call_handler", sub="e2e-matches")
    surname = f"Twice{random.randrange(10**6):06d}"
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        first = await http.post("/residents", headers=_bearer(handler), json={
            "given_name": "Edith", "family_name": surname, "date_of_birth": "1933-07-08", "postcode": "SO16 3AA"})
        first_id, seq = first.json()["resident_id"], first.json()["seq"]
        await http.get(f"/residents/{first_id}", params={"min_seq": seq}, headers=_bearer(handler))

    await _keyboard_sign_in(page, handler)
    for label, text in (("Given name", "Edith"), ("Family name", surname), ("Day", "8"), ("Month", "7"),
                        ("Year", "1933"), ("Postcode", "SO16 3AA")):
        await type_into(page, page.get_by_label(label, exact=True), text)
    await press(page, page.get_by_role("button", name="Register resident"))
    await expect(page.get_by_role("heading", name=re.compile("may already be known"))).to_be_visible()
    await assert_accessible(page, axe_source, "the likely matches")
    await page.keyboard.press("Enter")  # the first "Open this record instead" has the focus
    await expect(page).to_have_url(re.compile(f"/ui/residents/{first_id}$"))


async def test_the_json_api_refuses_the_pages_cookie_and_the_pages_refuse_forms_without_their_token(
        server: RunningServer) -> None:
    handler = server.token("call_handler", sub="e2e-csrf")
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        made = await http.post("/residents", headers=_bearer(handler), json={
            "given_name": "Cora", "family_name": "Forged", "date_of_birth": "1944-01-01", "postcode": "SO14 7LY"})
        resident_id, seq = made.json()["resident_id"], made.json()["seq"]
        await sign_in_over_http(http, handler)
        assert http.cookies.get("frontdoor_session")

        refused = await http.post("/residents", json={"given_name": "Only", "family_name": "Cookie",
                                                      "date_of_birth": "1944-01-01", "postcode": "SO14 7LY"})
        assert refused.status_code == 401
        refused = await http.post(f"/residents/{resident_id}/contacts", json={
            "channel": "phone", "caller": {"relationship": "self"}, "outcome": "advice"})
        assert refused.status_code == 401
        forged = await http.post(f"/ui/residents/{resident_id}/contacts", data={
            "channel": "phone", "caller_relationship": "self", "outcome": "advice"})
        assert forged.status_code == 403

        view = (await http.get(f"/residents/{resident_id}", params={"min_seq": seq},
                               headers=_bearer(handler))).json()
        assert view["contacts"] == []
        found = (await http.get("/residents", params={"q": "only cookie"}, headers=_bearer(handler))).json()
        assert found["results"] == []
        docs = await http.get("/docs")
        assert docs.status_code == 200 and "/docs/static/swagger-ui-bundle.js" in docs.text
        assert "cdn" not in docs.text.lower()
        bundle = await http.get("/docs/static/swagger-ui-bundle.js")
        assert bundle.status_code == 200 and len(bundle.content) > 500_000


async def test_the_docs_page_draws_offline(page: Page, server: RunningServer) -> None:
    """Every request but this server's is refused: Swagger UI still draws the API."""
    await page.context.route(re.compile(r"^(?!" + re.escape(server.url) + ").*"), lambda route: route.abort())
    await page.goto("/docs")
    await expect(page.locator(".swagger-ui .title")).to_contain_text("frontdoor")
    await expect(page.locator(".opblock-summary-path", has_text="/residents/{resident_id}").first).to_be_visible()


async def test_a_coordinator_sees_the_people_at_risk_with_their_reasons(axe_page: Page, server: RunningServer,
                                                                       axe_source: str, tmp_path: Path) -> None:
    page = axe_page
    handler = server.token("call_handler", sub="e2e-risk")
    surname = f"Risk{random.randrange(10**6):06d}"
    fall = {"channel": "phone", "caller": {"relationship": "daughter"}, "needs": ["mobility and falls"],
            "urgency": "urgent", "safeguarding": True, "summary": "fell on the stairs", "outcome": "advice"}
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        made = await http.post("/residents", headers=_bearer(handler), json={
            "given_name": "Maud", "family_name": surname, "date_of_birth": "1930-02-03", "postcode": "SO14 2AA"})
        rid = made.json()["resident_id"]
        seq = 0
        for _ in range(3):
            seq = (await http.post(f"/residents/{rid}/contacts", headers=_bearer(handler), json=fall)).json()["seq"]
        await http.get(f"/residents/{rid}", params={"min_seq": seq}, headers=_bearer(handler))

    await _keyboard_sign_in(page, server.token("coordinator", sub="e2e-risk-coordinator"))
    await press(page, page.get_by_role("link", name="People at risk"))
    await expect(page.get_by_role("heading", name=re.compile("People at risk"))).to_be_visible()
    entry = page.get_by_role("listitem").filter(has=page.get_by_role("link", name=f"Maud {surname}"))
    await expect(entry).to_be_visible()
    await expect(entry.get_by_role("list", name=f"Why Maud {surname} is on this list")).to_contain_text("fall")
    await assert_accessible(page, axe_source, "the people at risk")
    await _shoot(page, "people-at-risk", tmp_path)
