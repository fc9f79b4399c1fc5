"""A team's caseload page: its open referrals (need, urgency, days waiting; sortable, paged) and assessments in
progress, each with the steps the team may take from here: accept, decline with a reason, complete with an
outcome, hand off to a team chosen by the need, start and complete an assessment. Each form calls one use case; a
form that fails is drawn again with the error beside its field and nothing written; one that succeeds redirects
(303) back with `?min_seq=` so the page shows it (read your writes)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from events.subjects import is_resident_id
from events.vocabulary import ASSESSMENT_KINDS
from frontdoor.api.writes import asked, services_of
from frontdoor.application import assessments, reading, referrals
from frontdoor.application.answers import Answer
from frontdoor.application.errors import TeamNotFound
from frontdoor.application.reading import SORTS
from frontdoor.application.who import STAFF_ROLES, Principal
from frontdoor.domain.errors import DomainError, WorkNotFound
from frontdoor.teams import TeamDirectory
from frontdoor.ui import forms, session
from frontdoor.ui.rendering import HEADERS, page, render

router = APIRouter(include_in_schema=False)
READERS = session.requires(*STAFF_ROLES, "team")
ACTORS = session.requires("team", "coordinator", "admin")  # as the API's referral steps
PAGE = 50
STEPS = ("accept", "decline", "complete", "handoff")
DONE = {"accept": "Referral accepted.", "decline": "Referral declined.", "complete": "Referral completed.",
        "handoff": "Referral handed off.", "assess": "Assessment started.", "assessed": "Assessment completed."}
SORT_WORDS = {"waiting": "Longest waiting", "urgency": "Most urgent", "need": "Need", "made_at": "Oldest referral"}
Write = Callable[[forms.Values], Awaitable[Answer]]


def _team(directory: TeamDirectory, team_id: str) -> str:
    if directory.get(team_id) is None:
        raise TeamNotFound(f"no team {team_id[:64]}")
    return team_id


@router.get("/ui/teams/{team_id}")
@page
async def caseload(team_id: str, request: Request, sort: Annotated[str, Query(max_length=20)] = "waiting",
                   cursor: Annotated[str | None, Query(max_length=2000)] = None,
                   min_seq: Annotated[int | None, Query(ge=1)] = None, done: str | None = None) -> Response:
    who = (await READERS(request)).principal
    return await draw(request, who, team_id, sort=sort if sort in SORTS else "waiting", cursor=cursor,
                      min_seq=min_seq, done=DONE.get(done or ""))


async def draw(request: Request, who: Principal, team_id: str, *, sort: str = "waiting", cursor: str | None = None,
               min_seq: int | None = None, done: str | None = None, failed: str | None = None,
               errors: forms.Errors | None = None, values: forms.Values | None = None,
               status: int = 200) -> Response:
    services = services_of(request)
    work = await reading.caseload(services, who, await asked(request), _team(services.teams, team_id), sort=sort,
                                  min_seq=min_seq, limit=PAGE, cursor=cursor)
    here = f"/ui/teams/{quote(team_id, safe='')}"
    return render(request, "caseload.html", status=status, team=services.teams.get(team_id), work=work,
                  sort=sort, sorts=SORT_WORDS, here=here, done=done, failed=failed, errors=errors or {},
                  values=values or {}, kinds=ASSESSMENT_KINDS, handoff_to=_handoff_choices(services.teams, team_id),
                  may_act=who.role in ("team", "coordinator", "admin"),
                  next_page=f"{here}?{urlencode({'sort': sort, 'cursor': work['next_cursor']})}"
                  if work["next_cursor"] else None, paged=cursor is not None)


def _handoff_choices(directory: TeamDirectory, team_id: str) -> dict[str, list[tuple[str, str]]]:
    """For each need, the other teams that meet it (those of this team's cluster first): a handoff goes to a team
    chosen by the need of the work."""
    mine = directory.get(team_id)
    cluster = mine.cluster if mine else None
    choices: dict[str, list[tuple[str, str]]] = {}
    for team in sorted(directory.teams, key=lambda t: (t.cluster != cluster, t.name)):
        if team.id == team_id:
            continue
        for need in team.needs:
            label = team.name if team.cluster == cluster else f"{team.name} ({team.cluster})"
            choices.setdefault(need, []).append((team.id, label))
    return choices


async def _submit(request: Request, signed_in: session.Session, team_id: str, form: str, item: str,
                  write: Write) -> Response:
    values = forms.values_of(await session.checked_form(request, signed_in))
    item = str(values.get("row") or item)  # the caseload row the form sits in: its fields' ids carry it
    sort = str(values.get("sort", "waiting"))
    sort = sort if sort in SORTS else "waiting"
    try:
        _team(services_of(request).teams, team_id)
        reply = await write(values)
    except forms.FormInvalid as exc:
        errors, status = exc.errors, 422
    except DomainError as exc:
        if isinstance(exc, TeamNotFound):
            raise
        errors, status = forms.domain_errors(exc, form), exc.status
    else:
        query = urlencode({"sort": sort, "min_seq": reply.seq, "done": form})
        return RedirectResponse(f"/ui/teams/{quote(team_id, safe='')}?{query}", status_code=303, headers=HEADERS)
    return await draw(request, signed_in.principal, team_id, sort=sort, failed=f"{form}-{item}", errors=errors,
                      values=values, status=status)


def _work_id(value: str, kind: str) -> str:
    """Ids become subjects and keys: anything but a UUID is no such work (never a wildcard, issue 9)."""
    if not is_resident_id(value):
        raise WorkNotFound(f"no {kind} {value[:80]}")
    return value


@router.post("/ui/teams/{team_id}/referrals/{referral_id}/{step}")
@page
async def take_step(team_id: str, referral_id: str, step: str, request: Request) -> Response:
    signed_in = await ACTORS(request)
    who = signed_in.principal
    if step not in STEPS:
        raise WorkNotFound(f"no step {step[:40]}")
    _work_id(referral_id, "referral")
    claimed = None if who.is_team else team_id  # staff act for the team whose caseload this is

    async def write(values: forms.Values) -> Answer:
        services, asking = services_of(request), await asked(request)
        if step == "accept":
            return await referrals.take_step(services, who, asking, referral_id, "accept", claimed_team=claimed)
        if step == "decline":
            return await referrals.take_step(services, who, asking, referral_id, "decline",
                                             body=forms.decline(values))
        if step == "complete":
            return await referrals.take_step(services, who, asking, referral_id, "complete",
                                             body=forms.complete(values))
        return await referrals.take_step(services, who, asking, referral_id, "handoff", body=forms.handoff(values))

    return await _submit(request, signed_in, team_id, step, referral_id, write)


@router.post("/ui/teams/{team_id}/residents/{resident_id}/assessments")
@page
async def start_assessment(team_id: str, resident_id: str, request: Request) -> Response:
    signed_in = await ACTORS(request)
    _work_id(resident_id, "resident")

    async def write(values: forms.Values) -> Answer:
        return await assessments.start_assessment(services_of(request), signed_in.principal, await asked(request),
                                                  resident_id, forms.assess(values, team_id))

    return await _submit(request, signed_in, team_id, "assess", resident_id, write)


@router.post("/ui/teams/{team_id}/assessments/{assessment_id}/complete")
@page
async def complete_assessment(team_id: str, assessment_id: str, request: Request) -> Response:
    signed_in = await ACTORS(request)
    _work_id(assessment_id, "assessment")

    async def write(values: forms.Values) -> Answer:
        return await assessments.complete_assessment(services_of(request), signed_in.principal,
                                                     await asked(request), assessment_id, forms.assessed(values))

    return await _submit(request, signed_in, team_id, "assessed", assessment_id, write)
