"""The coordinators' page of duplicated work: open flags, newest first, filtered by cluster, rule and team, paged
by the list's cursor; each said in words and linked to its resident, and resolvable from the page (merged work,
not a duplicate, linked records). Each request calls one use case."""

from __future__ import annotations

from typing import Annotated, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from events.subjects import is_resident_id
from events.vocabulary import Rule
from frontdoor.api.writes import asked, services_of
from frontdoor.application import flags
from frontdoor.application.who import STAFF_ROLES, Principal
from frontdoor.domain.errors import DomainError, WorkNotFound
from frontdoor.ui import forms, session
from frontdoor.ui.rendering import HEADERS, page, render

router = APIRouter(include_in_schema=False)
READERS = session.requires(*STAFF_ROLES)
RESOLVERS = session.requires("coordinator", "admin")
PAGE = 25
RULES: tuple[str, ...] = get_args(Rule)
RULE_WORDS = {"parallel_referrals": "Referred to more than one team for the same need",
              "repeat_assessment": "Assessed again for the same thing",
              "tell_my_story_again": "Asked to tell their story again",
              "handoff_ping_pong": "Handed back and forth between teams",
              "two_coordinators": "More than one care coordinator",
              "possible_duplicate_resident": "May be registered twice"}
RESOLUTIONS = (("merged_work", "Merged: the work now goes on in one place"),
               ("not_a_duplicate", "Not a duplicate: both pieces of work are needed"),
               ("linked_records", "Linked records: the two records are one person"))
FILTERS = ("rule", "cluster", "team")


def _filters(values: dict[str, str | None]) -> dict[str, str]:
    return {k: str(values[k]) for k in FILTERS if values.get(k)}


@router.get("/ui/flags")
@page
async def flag_list(request: Request, rule: Annotated[str | None, Query(max_length=64)] = None,
                    cluster: Annotated[str | None, Query(max_length=64)] = None,
                    team: Annotated[str | None, Query(max_length=64)] = None,
                    cursor: Annotated[str | None, Query(max_length=2000)] = None,
                    min_seq: Annotated[int | None, Query(ge=1)] = None, done: str | None = None) -> Response:
    who = (await READERS(request)).principal
    chosen = _filters({"rule": rule, "cluster": cluster, "team": team})
    return await draw(request, who, chosen, cursor=cursor, min_seq=min_seq,
                      done="Flag resolved." if done == "resolved" else None)


async def draw(request: Request, who: Principal, chosen: dict[str, str], *, cursor: str | None = None,
               min_seq: int | None = None, done: str | None = None, failed: str | None = None,
               errors: forms.Errors | None = None, values: forms.Values | None = None,
               status: int = 200) -> Response:
    services = services_of(request)
    filter_errors: forms.Errors = {}
    if chosen.get("rule") and chosen["rule"] not in RULES:
        filter_errors["rule"] = "Choose one of the kinds of duplicated work"
    found: dict[str, object] = {"flags": [], "next_cursor": None}
    if not filter_errors:
        try:
            found = await flags.list_flags(services, status="open", rule=chosen.get("rule"),
                                           cluster=chosen.get("cluster"), team=chosen.get("team"),
                                           resident_id=None, limit=PAGE, min_seq=min_seq, cursor=cursor)
        except DomainError as exc:
            if exc.status != 422:
                raise
            filter_errors[exc.field or "form"] = exc.detail[:1].upper() + exc.detail[1:]
    query = urlencode(chosen)
    next_cursor = found["next_cursor"]
    return render(request, "flags.html", status=422 if filter_errors else status, found=found["flags"],
                  chosen=chosen, filter_errors=filter_errors, rules=RULE_WORDS, resolutions=RESOLUTIONS,
                  cluster_options=[(c.id, c.name) for c in services.teams.clusters],
                  team_options=[(t.id, t.name) for t in services.teams.teams], done=done, failed=failed,
                  cluster_names={c.id: c.name for c in services.teams.clusters},
                  errors=errors or {}, values=values or {}, back=query,
                  may_resolve=who.role in ("coordinator", "admin"),
                  next_page=f"/ui/flags?{urlencode(chosen | {'cursor': str(next_cursor)})}" if next_cursor else None,
                  first_page=f"/ui/flags?{query}" if cursor else None)


@router.post("/ui/flags/{flag_id}/resolve")
@page
async def resolve(flag_id: str, request: Request) -> Response:
    signed_in = await RESOLVERS(request)
    if not is_resident_id(flag_id):  # a UUID, like every id that becomes a key (issue 9)
        raise WorkNotFound(f"no flag {flag_id[:80]}")
    values = forms.values_of(await session.checked_form(request, signed_in))
    chosen = _filters({k: str(values.get(k, "")) for k in FILTERS})
    try:
        reply = await flags.resolve_flag(services_of(request), signed_in.principal, await asked(request), flag_id,
                                         forms.resolve(values))
    except forms.FormInvalid as exc:
        errors, status = exc.errors, 422
    except DomainError as exc:
        errors, status = forms.domain_errors(exc, "resolve"), exc.status
    else:
        query = urlencode(chosen | {"min_seq": reply.seq, "done": "resolved"})
        return RedirectResponse(f"/ui/flags?{query}", status_code=303, headers=HEADERS)
    return await draw(request, signed_in.principal, chosen, failed=f"resolve-{flag_id}", errors=errors,
                      values=values, status=status)
