"""The resident page and its forms. Reads and writes go through the API's own route functions, with the same
role checks, so a form and a JSON request take one path: the same validation, command, audit and wait for the
read model. A form that fails is drawn again with its values and the error beside the field; nothing is written.
A form that succeeds redirects (303) to the page with `?min_seq=`, which shows the write (read your writes)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from events.subjects import is_resident_id
from events.vocabulary import NEEDS
from frontdoor.api.auth import Principal, requires
from frontdoor.api.writes import asked, services_of
from frontdoor.application import coordination, reading, referrals, residents
from frontdoor.application.answers import Answer
from frontdoor.application.who import STAFF_ROLES
from frontdoor.domain.errors import DomainError, ResidentNotFound
from frontdoor.ui import forms
from frontdoor.ui.glance import glance, referral_choices, teams_near
from frontdoor.ui.rendering import HEADERS, page, render

router = APIRouter(include_in_schema=False)
READERS = requires(*STAFF_ROLES, "team")
WRITERS = requires(*STAFF_ROLES)
STAFF_OR_TEAM = requires(*STAFF_ROLES, "team")

DONE = {"contact": "Contact recorded.", "referral": "Referral made.", "consent": "Consent recorded.",
        "coordinator": "Care coordinator assigned."}
DEFAULTS: dict[str, forms.Values] = {
    "contact": {"channel": "phone", "caller_relationship": "self", "caller_name": "", "needs": [],
                "urgency": "routine", "safeguarding": "", "summary": "", "outcome": ""},
    "referral": {"choice": "", "urgency": "routine", "reason": ""},
    "consent": {"decision": "", "scope": "", "basis": "explicit"},
    "coordinator": {"team_id": "", "worker": ""},
}
CALLERS = ("self", "family member", "unpaid carer", "friend or neighbour", "GP or practice", "other professional")
Write = Callable[[forms.Values], Awaitable[Answer]]


@router.get("/ui/residents/{resident_id}")
@page
async def resident(resident_id: str, request: Request,
                   min_seq: Annotated[int | None, Query(ge=1)] = None, done: str | None = None) -> Response:
    who = await READERS(request)
    return await draw(request, who, resident_id, min_seq=min_seq, done=DONE.get(done or ""))


def _checked(resident_id: str) -> str:
    """Ids become subjects: anything but a resident id is no resident (never a wildcard, issue 9)."""
    if not is_resident_id(resident_id):
        raise ResidentNotFound(f"no resident {resident_id[:80]}")
    return resident_id


async def draw(request: Request, who: Principal, resident_id: str, *, min_seq: int | None = None,
               done: str | None = None, failed: str | None = None, errors: forms.Errors | None = None,
               values: forms.Values | None = None, status: int = 200) -> Response:
    # The API's view: waits for `min_seq`, checks a team's right to see, and audits the view before returning.
    view = await reading.view(services_of(request), who, await asked(request), _checked(resident_id),
                              min_seq=min_seq)
    directory = services_of(request).teams
    near, narrowed = teams_near(view["details"], directory)
    filled = {name: dict(defaults) for name, defaults in DEFAULTS.items()}
    if failed is not None and values is not None:
        filled[failed] |= values
    return render(
        request, "resident.html", status=status, r=glance(view, directory), done=done,
        failed=failed, errors=errors or {}, values=filled,
        staff=who.role in STAFF_ROLES, choices=referral_choices(near, narrowed), near=near, narrowed=narrowed,
        needs=NEEDS, callers=CALLERS)


async def _submit(request: Request, who: Principal, resident_id: str, form: str, write: Write) -> Response:
    values = forms.values_of(await request.form())
    try:
        _checked(resident_id)
        reply = await write(values)
    except forms.FormInvalid as exc:
        errors, status = exc.errors, 422
    except DomainError as exc:
        errors, status = forms.domain_errors(exc, form), exc.status
    else:
        seq = reply.seq
        return RedirectResponse(f"/ui/residents/{quote(resident_id, safe='')}?min_seq={seq}&done={form}",
                                status_code=303, headers=HEADERS)
    return await draw(request, who, resident_id, failed=form, errors=errors, values=values, status=status)


@router.post("/ui/residents/{resident_id}/contacts")
@page
async def record_contact(resident_id: str, request: Request) -> Response:
    who = await WRITERS(request)

    async def write(values: forms.Values) -> Answer:
        return await residents.record_contact(services_of(request), who, await asked(request), resident_id,
                                              forms.contact(values))

    return await _submit(request, who, resident_id, "contact", write)


@router.post("/ui/residents/{resident_id}/referrals")
@page
async def refer(resident_id: str, request: Request) -> Response:
    who = await STAFF_OR_TEAM(request)

    async def write(values: forms.Values) -> Answer:
        return await referrals.refer(services_of(request), who, await asked(request), resident_id,
                                     forms.referral(values))

    return await _submit(request, who, resident_id, "referral", write)


@router.post("/ui/residents/{resident_id}/consent")
@page
async def record_consent(resident_id: str, request: Request) -> Response:
    who = await WRITERS(request)

    async def write(values: forms.Values) -> Answer:
        return await residents.record_consent(services_of(request), who, await asked(request), resident_id,
                                              forms.consent(values))

    return await _submit(request, who, resident_id, "consent", write)


@router.post("/ui/residents/{resident_id}/care-coordinator")
@page
async def assign_coordinator(resident_id: str, request: Request) -> Response:
    who = await WRITERS(request)

    async def write(values: forms.Values) -> Answer:
        return await coordination.assign_coordinator(services_of(request), who, await asked(request), resident_id,
                                                     forms.coordinator(values))

    return await _submit(request, who, resident_id, "coordinator", write)
