"""Stream names and subjects (DESIGN §3). One literal subject per resident: never read through a wildcard."""

from __future__ import annotations

CARE_STREAM = "CARE"
TEAMS_STREAM = "TEAMS"
AUDIT_STREAM = "AUDIT"
NHS_NUMBERS_BUCKET = "NHS_NUMBERS"
IDEMPOTENCY_BUCKET = "IDEMPOTENCY"
LEASES_BUCKET = "PROJECTION_LEASES"

CARE_SUBJECTS = "care.>"
TEAM_SUBJECTS = "team.>"
AUDIT_SUBJECTS = "audit.>"


def resident_subject(resident_id: str) -> str:
    return f"care.{resident_id}"


def resident_of(subject: str) -> str:
    return subject.split(".", 1)[1]


def team_subject(team_id: str, event_type: str) -> str:
    return f"team.{team_id}.{event_type}"


def audit_subject(event_type: str) -> str:
    return f"audit.{event_type}"


def team_command_subject(team_id: str, command: str) -> str:
    return f"cmd.{team_id}.{command}"
