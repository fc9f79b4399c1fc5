"""A call handler on the phone, in a real browser against the real server: sign in, register the caller, find them,
record the call, refer them on; and what they see when they type something wrong (nothing is written)."""

from __future__ import annotations

import random
import re
from pathlib import Path

import httpx
import orjson
from nats.aio.client import Client as NATS
from playwright.async_api import Page, expect

from events.catalogue import RecordViewed
from events.codec import decode
from events.subjects import AUDIT_STREAM, audit_subject
from frontdoor.domain.nhs import normalise_nhs_number
from tests.e2e.conftest import RunningServer, sign_in_over_http

VIEWED = audit_subject("RecordViewed")
OT_CENTRAL = "Community Occupational Therapy \u2013 Central"  # the directory's name, with its en dash


def a_valid_nhs_number() -> str:
    rng = random.Random()
    while True:
        digits = f"{rng.randrange(10**9, 10**10):010d}"
        try:
            return normalise_nhs_number(digits)
        except ValueError:
            continue


async def sign_in(page: Page, token: str) -> None:
    await page.goto("/")
    await page.get_by_label("Sign-in token").fill(token)
    await page.get_by_role("button", name="Sign in").click()


async def test_every_view_of_a_resident_page_is_audited_like_the_api(server: RunningServer, nc: NATS) -> None:
    handler = server.token("call_handler", sub="e2e-auditee")
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        made = await http.post("/residents", headers={"Authorization": f"Bearer {handler}"},
                               json={"given_name": "Olive", "family_name": "Audit", "date_of_birth": "1950-01-02",
                                     "postcode": "SO15 2AB"})
        assert made.status_code == 201, made.text
        resident_id, seq = made.json()["resident_id"], made.json()["seq"]
        js = nc.jetstream()
        before = (await js.stream_info(AUDIT_STREAM, subjects_filter=VIEWED)).state.subjects or {}

        await sign_in_over_http(http, handler)
        shown = await http.get(f"/ui/residents/{resident_id}", params={"min_seq": seq})

        assert shown.status_code == 200 and "Olive Audit" in shown.text
        after = (await js.stream_info(AUDIT_STREAM, subjects_filter=VIEWED)).state.subjects or {}
        assert after.get(VIEWED, 0) == before.get(VIEWED, 0) + 1
        last = await js.get_last_msg(AUDIT_STREAM, VIEWED)
        assert last.data is not None and last.seq is not None
        viewed = decode(last.seq, last.data).event
        assert isinstance(viewed, RecordViewed)
        assert (viewed.viewer, viewed.role, viewed.what, viewed.resident_id) == (
            "e2e-auditee", "call_handler", "resident", resident_id)
        assert orjson.loads(last.data)["actor"]["id"] == "e2e-auditee"


async def test_a_call_handler_registers_finds_records_a_call_and_refers(page: Page, server: RunningServer,
                                                                   tmp_path: Path) -> None:
    await sign_in(page, server.token("call_handler"))
    await expect(page).to_have_url(re.compile(r"/ui/search$"))
    await expect(page.get_by_role("heading", name="Find a resident", level=1)).to_be_visible()

    # A mistyped NHS number: said beside the field, the rest kept, nobody registered.
    await page.get_by_label("NHS number (optional)").fill("943 476 5918")
    await page.get_by_label("Given name").fill("Mary")
    await page.get_by_label("Family name").fill("Seacole")
    await page.get_by_label("Day").fill("23")
    await page.get_by_label("Month").fill("11")
    await page.get_by_label("Year").fill("1935")
    await page.get_by_label("Postcode").fill("so14 7ly")
    await page.get_by_label("Cluster (optional)").select_option("central")
    await page.get_by_role("button", name="Register resident").click()
    await expect(page.locator("#register-nhs_number-error")).to_contain_text("Not a valid NHS number")
    await expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    await expect(page.get_by_label("Given name")).to_have_value("Mary")
    await page.get_by_label("Search").fill("mary seacole")
    await page.get_by_role("button", name="Search", exact=True).click()
    await expect(page.get_by_role("heading", name=re.compile("No one found"))).to_be_visible()

    nhs = a_valid_nhs_number()
    await page.get_by_label("NHS number (optional)").fill(nhs)
    await page.get_by_label("Given name").fill("Mary")
    await page.get_by_label("Family name").fill("Seacole")
    await page.get_by_label("Day").fill("23")
    await page.get_by_label("Month").fill("11")
    await page.get_by_label("Year").fill("1935")
    await page.get_by_label("Postcode").fill("so14 7ly")
    await page.get_by_label("Cluster (optional)").select_option("central")
    await page.get_by_role("button", name="Register resident").click()
    await expect(page.get_by_role("heading", name="Mary Seacole", level=1)).to_be_visible()
    await expect(page.locator(".facts")).to_contain_text(f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}")
    resident_path = re.sub(r"\?.*$", "", page.url.removeprefix(server.url))

    # Found again by name, from the search page.
    await page.get_by_role("link", name="Find a resident").click()
    await page.get_by_label("Search").fill("mary seac")
    await page.get_by_role("button", name="Search", exact=True).click()
    await page.locator(f"a[href='{resident_path}']").click()
    await expect(page.get_by_role("heading", name="Mary Seacole", level=1)).to_be_visible()
    await expect(page.locator("#contacts")).to_contain_text("No contacts recorded yet")

    # The call itself.
    contact = page.locator("#record-contact")
    await contact.get_by_label("Mobility and falls").check()
    await contact.get_by_label("Urgent").check()
    await contact.get_by_role("textbox", name="Summary").fill("Fell twice this week; frightened of the stairs.")
    await contact.get_by_label("Referred").check()
    await contact.get_by_role("button", name="Record contact").click()
    await expect(page.get_by_role("status")).to_have_text("Contact recorded.")
    await expect(page.locator("#contacts")).to_contain_text("Fell twice this week; frightened of the stairs.")
    await expect(page.locator("#contacts .contact")).to_have_count(1)

    # Referred on to a team of her cluster, chosen by the need it meets.
    refer = page.locator("#refer")
    await refer.get_by_label("Team, by the need it meets").select_option("mobility and falls|ot-central")
    await refer.get_by_label("Reason").fill("Falls at home; needs a stairs assessment.")
    await refer.get_by_role("button", name="Make referral").click()
    await expect(page.get_by_role("status")).to_have_text("Referral made.")
    referrals = page.locator("#referrals")
    await expect(referrals).to_contain_text(f"Mobility and falls: {OT_CENTRAL}")
    await expect(referrals).to_contain_text("Waiting for the team")
    await expect(referrals.get_by_role("list", name="What happened to this referral")).to_contain_text("Referred")
    await expect(page.locator("#teams-involved")).to_contain_text(OT_CENTRAL)

    shot = tmp_path / "resident-page.png"
    await page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")

    # Too long a summary: the error is beside the field, what was typed is kept, nothing is written.
    story = "She says the stairs are steep. " * 70
    contact = page.locator("#record-contact")
    await contact.get_by_role("textbox", name="Summary").fill(story)
    await contact.get_by_label("Advice given").check()
    await contact.get_by_role("button", name="Record contact").click()
    await expect(page).to_have_title(re.compile("^Error: "))
    await expect(page.locator("#contact-summary-error")).to_contain_text("Too long: at most 2000 characters")
    await expect(page.get_by_role("textbox", name="Summary")).to_have_value(story.strip())
    await expect(page.get_by_label("Advice given")).to_be_checked()
    await page.screenshot(path=str(tmp_path / "error-shown.png"), full_page=True)
    await page.goto(resident_path)
    await expect(page.locator("#contacts .contact")).to_have_count(1)


async def test_without_a_token_the_pages_ask_to_sign_in_and_come_back(page: Page, server: RunningServer) -> None:
    await page.goto("/ui/search?q=seacole")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("Sign-in token").fill("not-a-token")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#token-error")).to_contain_text("not a sign-in token")
    await page.get_by_label("Sign-in token").fill(server.token("call_handler"))
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(r"/ui/search\?q=seacole$"))
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("status")).to_have_text("You have signed out.")
    await page.goto("/ui/search")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


async def test_a_role_without_staff_rights_gets_a_403_page(page: Page, server: RunningServer) -> None:
    await sign_in(page, server.token("analyst", sub="e2e-analyst"))
    response = await page.goto("/ui/search")
    assert response is not None and response.status == 403
    await expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    await expect(page.locator("main")).to_contain_text("analyst role cannot do this")
