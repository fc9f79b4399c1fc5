"""The resident page and its forms. Each calls one use case of the application layer, with the same role checks as
the API, so a form and a JSON request take one path: the same validation, command, audit and wait for the read
model. A form that fails is drawn again with its values and the error beside the field; nothing is written. A form
that succeeds redirects (303) to the page with `?min_seq=`, which shows the write (read your writes). Every form is
refused (403, nothing read or written) without this session's CSRF token.

`?as_of=` draws the page as it stood at a past moment, from the same use case (and the same fold) as the API's
`GET /residents/{id}?as_of=`: typed in the picker as local (UK) time, to the millisecond if need be."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from events.subjects import is_resident_id
from events.vocabulary import NEEDS
from frontdoor.api.writes import asked, services_of
from frontdoor.application import coordination, reading, referrals, residents
from frontdoor.application.answers import Answer
from frontdoor.application.who import STAFF_ROLES, Principal
from frontdoor.domain.errors import DomainError, ResidentNotFound
from frontdoor.ui import forms, session
from frontdoor.ui.glance import glance, referral_choices, teams_near
from frontdoor.ui.rendering import HEADERS, LOCAL, page, render

router = APIRouter(include_in_schema=False)
READERS = session.requires(*STAFF_ROLES, "team")
WRITERS = session.requires(*STAFF_ROLES)
STAFF_OR_TEAM = session.requires(*STAFF_ROLES, "team")
MAX_AS_OF = 40

DONE = {"contact": "Contact recorded.", "referral": "Referral made.", "consent": "Consent recorded.",
        "coordinator": "Care coordinator assigned."}
DEFAULTS: dict[str, forms.Values] = {
    "contact": {"channel": "phone", "caller_relationship": "self", "caller_name": "", "needs": [],
                "urgency": "routine", "safeguarding": "", "summary": "", "outcome": ""},
    "referral": {"choice": "", "urgency": "routine", "reason": ""},
    "consent": {"decision": "", "scope": "", "basis": "explicit"},
    "coordinator": {"team_id": "", "worker": ""},
    "as_of": {"as_of": ""},
}
CALLERS = ("self", "family member", "unpaid carer", "friend or neighbour", "GP or practice", "other professional")
Write = Callable[[forms.Values], Awaitable[Answer]]


@router.get("/ui/residents/{resident_id}")
@page
async def resident(resident_id: str, request: Request,
                   min_seq: Annotated[int | None, Query(ge=1)] = None, done: str | None = None,
                   as_of: Annotated[str | None, Query(max_length=MAX_AS_OF)] = None) -> Response:
    who = (await READERS(request)).principal
    if as_of:
        try:
            moment = moment_of(as_of)
        except ValueError:
            return await draw(request, who, resident_id, failed="as_of", values={"as_of": as_of}, status=422,
                              errors={"as_of": "Give a date and time, for example 30/11/2026 09:30"})
        return await draw(request, who, resident_id, as_of=moment, as_of_text=as_of)
    return await draw(request, who, resident_id, min_seq=min_seq, done=DONE.get(done or ""))


def moment_of(text: str) -> datetime:
    """The picker's local date and time (`2026-11-30T09:30`, seconds and milliseconds optional) in UK time, or a
    full ISO time with its zone as the API takes it. Of an hour that happens twice (autumn), the first."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL)


def picker_value(moment: datetime) -> str:
    """What the picker shows for a moment: local time, to the millisecond when it has one."""
    local = moment.astimezone(LOCAL)
    return local.strftime("%Y-%m-%dT%H:%M:%S") + (f".{local.microsecond // 1000:03d}" if local.microsecond else "")


def _checked(resident_id: str) -> str:
    """Ids become subjects: anything but a resident id is no resident (never a wildcard, issue 9)."""
    if not is_resident_id(resident_id):
        raise ResidentNotFound(f"no resident {resident_id[:80]}")
    return resident_id


async def draw(request: Request, who: Principal, resident_id: str, *, min_seq: int | None = None,
               done: str | None = None, failed: str | None = None, errors: forms.Errors | None = None,
               values: forms.Values | None = None, status: int = 200, as_of: datetime | None = None,
               as_of_text: str | None = None) -> Response:
    # The use case waits for `min_seq`, checks a team's right to see, and audits the view before returning.
    view = await reading.view(services_of(request), who, await asked(request), _checked(resident_id),
                              min_seq=min_seq, as_of=as_of)
    directory = services_of(request).teams
    near, narrowed = teams_near(view["details"], directory)
    filled = {name: dict(defaults) for name, defaults in DEFAULTS.items()}
    if failed is not None and values is not None:
        filled[failed] |= values
    if as_of is not None:
        filled["as_of"] = {"as_of": picker_value(as_of)}
    return render(
        request, "resident.html", status=status, r=glance(view, directory, now=as_of), done=done,
        failed=failed, errors=errors or {}, values=filled, as_of=as_of,
        staff=who.role in STAFF_ROLES and as_of is None, choices=referral_choices(near, narrowed), near=near,
        narrowed=narrowed, needs=NEEDS, callers=CALLERS, writes=as_of is None)


async def _submit(request: Request, signed_in: session.Session, resident_id: str, form: str,
                  write: Write) -> Response:
    values = forms.values_of(await session.checked_form(request, signed_in))
    who = signed_in.principal
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
    signed_in = await WRITERS(request)
    who = signed_in.principal

    async def write(values: forms.Values) -> Answer:
        return await residents.record_contact(services_of(request), who, await asked(request), resident_id,
                                              forms.contact(values))

    return await _submit(request, signed_in, resident_id, "contact", write)


@router.post("/ui/residents/{resident_id}/referrals")
@page
async def refer(resident_id: str, request: Request) -> Response:
    signed_in = await STAFF_OR_TEAM(request)
    who = signed_in.principal

    async def write(values: forms.Values) -> Answer:
        return await referrals.refer(services_of(request), who, await asked(request), resident_id,
                                     forms.referral(values))

    return await _submit(request, signed_in, resident_id, "referral", write)


@router.post("/ui/residents/{resident_id}/consent")
@page
async def record_consent(resident_id: str, request: Request) -> Response:
    signed_in = await WRITERS(request)
    who = signed_in.principal

    async def write(values: forms.Values) -> Answer:
        return await residents.record_consent(services_of(request), who, await asked(request), resident_id,
                                              forms.consent(values))

    return await _submit(request, signed_in, resident_id, "consent", write)


@router.post("/ui/residents/{resident_id}/care-coordinator")
@page
async def assign_coordinator(resident_id: str, request: Request) -> Response:
    signed_in = await WRITERS(request)
    who = signed_in.principal

    async def write(values: forms.Values) -> Answer:
        return await coordination.assign_coordinator(services_of(request), who, await asked(request), resident_id,
                                                     forms.coordinator(values))

    return await _submit(request, signed_in, resident_id, "coordinator", write)
