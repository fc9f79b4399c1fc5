"""Form posts become the API's own request bodies (so a form is checked exactly as JSON is), and what is wrong
with them becomes a plain sentence beside the field at fault."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from starlette.datastructures import FormData

from frontdoor.application.inputs import (
    AssessmentBody,
    ConsentBody,
    ContactBody,
    CoordinatorBody,
    HandoffBody,
    OutcomeBody,
    ReasonBody,
    ReferralBody,
    RegisterBody,
    ResolveBody,
)
from frontdoor.domain.errors import DomainError

Values = dict[str, Any]
Errors = dict[str, str]  # form field name -> what to do about it; FORM_WIDE for the form as a whole
FORM_WIDE = "form"
LIST_FIELDS = {"needs"}
CHOICES = {"channel", "outcome", "urgency", "decision", "team_id", "cluster", "choice", "to_team", "kind",
           "resolution"}
B = TypeVar("B", bound=BaseModel)

# Each form's fields, by the name the body gives them: an error is shown beside the field that caused it.
FIELDS: dict[str, dict[str, str]] = {
    "register": {f: f for f in ("nhs_number", "given_name", "family_name", "date_of_birth", "postcode",
                                "gp_practice", "cluster")},
    "contact": {"channel": "channel", "caller.relationship": "caller_relationship", "caller.name": "caller_name",
                "needs": "needs", "urgency": "urgency", "safeguarding": "safeguarding", "summary": "summary",
                "outcome": "outcome"},
    "referral": {"to_team": "choice", "need": "choice", "urgency": "urgency", "reason": "reason"},
    "consent": {"decision": "decision", "scope": "scope", "basis": "basis"},
    "coordinator": {"team_id": "team_id", "worker": "worker"},
    # The caseload's and the flags page's forms.
    "decline": {"reason": "reason"},
    "complete": {"outcome": "outcome"},
    "handoff": {"to_team": "to_team", "reason": "reason"},
    "assess": {"kind": "kind", "team": "kind"},
    "assessed": {"outcome": "outcome"},
    "resolve": {"resolution": "resolution", "note": "note"},
}


class FormInvalid(Exception):
    def __init__(self, errors: Errors) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def values_of(form: FormData) -> Values:
    values: Values = {}
    for key in form:
        texts = [v for v in form.getlist(key) if isinstance(v, str)]
        values[key] = texts if key in LIST_FIELDS else (texts[0].strip() if texts else "")
    return values


def _given(data: dict[str, Any]) -> dict[str, Any]:
    """An empty field is a missing one, so that the body's own defaults and 'required' rules apply."""
    return {k: v for k, v in data.items() if v not in ("", None)}


def _parse(body: type[B], form: str, data: dict[str, Any]) -> B:
    try:
        return body.model_validate(_given(data))
    except ValidationError as exc:
        # An outcome is a choice on the contact form but written in words when work is completed.
        choices = CHOICES - {"outcome"} if form in ("complete", "assessed") else CHOICES
        raise FormInvalid(plain_errors(exc, FIELDS[form], choices)) from exc


def register(values: Values) -> RegisterBody:
    data = {k: values.get(k) for k in FIELDS["register"]} | {"date_of_birth": _date(values, "dob")}
    return _parse(RegisterBody, "register", data)


def _date(values: Values, prefix: str) -> str | None:
    """Day, month and year typed in three boxes (easier than a date picker for a date decades ago)."""
    parts = [str(values.get(f"{prefix}_{p}", "")).strip() for p in ("year", "month", "day")]
    if not any(parts):
        return None
    if all(p.isdigit() for p in parts) and len(parts[0]) == 4:
        return f"{parts[0]}-{int(parts[1]):02d}-{int(parts[2]):02d}"
    return "-".join(parts)  # not a date: the body says so, in the same words as any other bad date


def contact(values: Values) -> ContactBody:
    caller = _given({"relationship": values.get("caller_relationship"), "name": values.get("caller_name")})
    return _parse(ContactBody, "contact", {
        "channel": values.get("channel"), "caller": caller, "needs": values.get("needs", []),
        "urgency": values.get("urgency"), "safeguarding": values.get("safeguarding") == "yes",
        "summary": values.get("summary"), "outcome": values.get("outcome")})


def referral(values: Values) -> ReferralBody:
    need, _, team = str(values.get("choice", "")).rpartition("|")
    if not (need and team):
        raise FormInvalid({"choice": "Choose the team to refer to"})
    return _parse(ReferralBody, "referral", {"to_team": team, "need": need, "urgency": values.get("urgency"),
                                             "reason": values.get("reason")})


def consent(values: Values) -> ConsentBody:
    scope = [s for s in re.split(r"[\s,]+", str(values.get("scope", ""))) if s]
    return _parse(ConsentBody, "consent", {"decision": values.get("decision"), "scope": scope or None,
                                           "basis": values.get("basis")})


def coordinator(values: Values) -> CoordinatorBody:
    return _parse(CoordinatorBody, "coordinator", {"team_id": values.get("team_id"), "worker": values.get("worker")})


def decline(values: Values) -> ReasonBody:
    return _parse(ReasonBody, "decline", {"reason": values.get("reason")})


def complete(values: Values) -> OutcomeBody:
    return _parse(OutcomeBody, "complete", {"outcome": values.get("outcome")})


def handoff(values: Values) -> HandoffBody:
    return _parse(HandoffBody, "handoff", {"to_team": values.get("to_team"), "reason": values.get("reason")})


def assess(values: Values, team: str) -> AssessmentBody:
    return _parse(AssessmentBody, "assess", {"kind": values.get("kind"), "team": team})


def assessed(values: Values) -> OutcomeBody:
    return _parse(OutcomeBody, "assessed", {"outcome": values.get("outcome")})


def resolve(values: Values) -> ResolveBody:
    return _parse(ResolveBody, "resolve", {"resolution": values.get("resolution"), "note": values.get("note")})


def plain_errors(exc: ValidationError, fields: dict[str, str], choices: set[str] = CHOICES) -> Errors:
    errors: Errors = {}
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"] if not isinstance(p, int))
        field = fields.get(where, FORM_WIDE)
        message = _plain(error)
        errors.setdefault(field, "Choose one" if field in choices and message == "Fill this in" else message)
    return errors


def domain_errors(exc: DomainError, form: str) -> Errors:
    field = FIELDS[form].get(exc.field or "", FORM_WIDE)
    return {field: exc.detail[:1].upper() + exc.detail[1:]}


def _plain(error: ErrorDetails) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    given = error.get("input")
    if kind == "missing" or (kind == "string_too_short" and not given):
        return "Fill this in"
    if kind == "string_too_long":
        length = f" (this has {len(given)})" if isinstance(given, str) else ""
        return f"Too long: at most {ctx.get('max_length')} characters{length}"
    if kind in ("literal_error", "enum"):
        return "Choose one of the options"
    if kind.startswith("date"):
        return "Give a real date, for example 10 December 1941"
    if kind == "string_pattern_mismatch":
        return "Use letters, digits, dots, dashes or underscores only"
    if kind == "value_error":
        message = str(ctx.get("error", error["msg"])).removeprefix("Value error, ")
        return message[:1].upper() + message[1:]
    return str(error["msg"])
