"""The resident page and its forms. Reads and writes go through the API's own route functions, with the same
role checks, so a form and a JSON request take one path: the same validation, command, audit and wait for the
read model. A form that fails is drawn again with its values and the error beside the field; nothing is written.
A form that succeeds redirects (303) to the page with `?min_seq=`, which shows the write (read your writes)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from events.vocabulary import NEEDS
from frontdoor.access import STAFF_ROLES
from frontdoor.api import residents, workflow
from frontdoor.api.auth import Principal
from frontdoor.api.writes import services_of
from frontdoor.domain.errors import DomainError
from frontdoor.ui import forms
from frontdoor.ui.glance import glance, referral_choices, teams_near
from frontdoor.ui.rendering import HEADERS, page, render

router = APIRouter(include_in_schema=False)

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
Write = Callable[[forms.Values], Awaitable[JSONResponse]]


@router.get("/ui/residents/{resident_id}")
@page
async def resident(resident_id: str, request: Request,
                   min_seq: Annotated[int | None, Query(ge=1)] = None, done: str | None = None) -> Response:
    who = await residents.READERS(request)
    return await draw(request, who, resident_id, min_seq=min_seq, done=DONE.get(done or ""))


async def draw(request: Request, who: Principal, resident_id: str, *, min_seq: int | None = None,
               done: str | None = None, failed: str | None = None, errors: forms.Errors | None = None,
               values: forms.Values | None = None, status: int = 200) -> Response:
    # The API's view: waits for `min_seq`, checks a team's right to see, and audits the view before returning.
    view = await residents.view(resident_id, request, who, min_seq=min_seq, as_of=None)
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
        reply = await write(values)
    except forms.FormInvalid as exc:
        errors, status = exc.errors, 422
    except DomainError as exc:
        errors, status = forms.domain_errors(exc, form), exc.status
    else:
        seq = orjson.loads(reply.body)["seq"]
        return RedirectResponse(f"/ui/residents/{quote(resident_id, safe='')}?min_seq={seq}&done={form}",
                                status_code=303, headers=HEADERS)
    return await draw(request, who, resident_id, failed=form, errors=errors, values=values, status=status)


@router.post("/ui/residents/{resident_id}/contacts")
@page
async def record_contact(resident_id: str, request: Request) -> Response:
    who = await residents.WRITERS(request)

    async def write(values: forms.Values) -> JSONResponse:
        return await residents.record_contact(resident_id, forms.contact(values), request, who)

    return await _submit(request, who, resident_id, "contact", write)


@router.post("/ui/residents/{resident_id}/referrals")
@page
async def refer(resident_id: str, request: Request) -> Response:
    who = await workflow.STAFF_OR_TEAM(request)

    async def write(values: forms.Values) -> JSONResponse:
        return await workflow.refer(resident_id, forms.referral(values), request, who)

    return await _submit(request, who, resident_id, "referral", write)


@router.post("/ui/residents/{resident_id}/consent")
@page
async def record_consent(resident_id: str, request: Request) -> Response:
    who = await residents.WRITERS(request)

    async def write(values: forms.Values) -> JSONResponse:
        return await residents.record_consent(resident_id, forms.consent(values), request, who)

    return await _submit(request, who, resident_id, "consent", write)


@router.post("/ui/residents/{resident_id}/care-coordinator")
@page
async def assign_coordinator(resident_id: str, request: Request) -> Response:
    who = await workflow.STAFF(request)

    async def write(values: forms.Values) -> JSONResponse:
        return await workflow.assign_coordinator(resident_id, forms.coordinator(values), request, who)

    return await _submit(request, who, resident_id, "coordinator", write)
