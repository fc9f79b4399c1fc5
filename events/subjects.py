"""Stream names and subjects (DESIGN §3). One literal subject per resident: never read through a wildcard."""

from __future__ import annotations

import re

# Every token that goes into a subject is checked where the subject is built, whatever the edge did before:
# an id holding `*`, `>` or `.` would turn one resident's subject into a wildcard over many (issue 9).
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class BadSubjectToken(ValueError):
    """An id that may not become part of a subject."""

CARE_STREAM = "CARE"
TEAMS_STREAM = "TEAMS"
AUDIT_STREAM = "AUDIT"
NHS_NUMBERS_BUCKET = "NHS_NUMBERS"
IDEMPOTENCY_BUCKET = "IDEMPOTENCY"
LEASES_BUCKET = "PROJECTION_LEASES"
MARKS_BUCKET = "PROJECTION_MARKS"  # how far a projection that emits has emitted (projections.emitted_marks)

CARE_SUBJECTS = "care.>"
TEAM_SUBJECTS = "team.>"
AUDIT_SUBJECTS = "audit.>"


def is_resident_id(value: str) -> bool:
    """Resident ids are UUIDs in their canonical (lower-case, hyphenated) form."""
    return bool(_UUID.match(value))


def is_team_id(value: str) -> bool:
    return bool(_TOKEN.match(value))


def resident_subject(resident_id: str) -> str:
    if not _UUID.match(resident_id):
        raise BadSubjectToken(f"not a resident id: {resident_id[:80]!r}")
    return f"care.{resident_id}"


def resident_of(subject: str) -> str:
    return subject.split(".", 1)[1]


def _token(value: str, what: str) -> str:
    if not _TOKEN.match(value):
        raise BadSubjectToken(f"not a {what}: {value[:80]!r}")
    return value


def team_subject(team_id: str, event_type: str) -> str:
    return f"team.{_token(team_id, 'team id')}.{_token(event_type, 'event type')}"


def audit_subject(event_type: str) -> str:
    return f"audit.{_token(event_type, 'event type')}"


def team_command_subject(team_id: str, command: str) -> str:
    return f"cmd.{_token(team_id, 'team id')}.{_token(command, 'command')}"
