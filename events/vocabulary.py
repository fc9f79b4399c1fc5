"""The closed vocabularies the catalogue uses (DESIGN §4). Values are the words a care service uses."""

from __future__ import annotations

from typing import Literal

Need = Literal[
    "personal care",
    "mobility and falls",
    "long-term condition",
    "mental health",
    "memory and cognition",
    "housing",
    "carer support",
    "social isolation",
    "finance and benefits",
    "safeguarding",
]
NEEDS: tuple[Need, ...] = Need.__args__  # type: ignore[attr-defined]

Channel = Literal["phone", "email", "web", "walk_in", "professional"]
Urgency = Literal["routine", "soon", "urgent"]
ContactOutcome = Literal["advice", "signposted", "referred", "no_action"]
ConsentDecision = Literal["granted", "refused", "withdrawn"]
AssessmentKind = Literal["care needs", "OT", "falls", "mental health", "carer's", "housing"]
ASSESSMENT_KINDS: tuple[AssessmentKind, ...] = AssessmentKind.__args__  # type: ignore[attr-defined]
Role = Literal["call_handler", "team", "coordinator", "analyst", "admin", "system"]
Severity = Literal["low", "medium", "high"]
Rule = Literal[
    "parallel_referrals",
    "repeat_assessment",
    "tell_my_story_again",
    "handoff_ping_pong",
    "two_coordinators",
    "possible_duplicate_resident",
]
# `no_longer_duplicated` extends DESIGN's three: the detector closes a flag whose cause went away by itself.
Resolution = Literal["merged_work", "not_a_duplicate", "linked_records", "no_longer_duplicated"]
Sector = Literal["nhs", "council", "voluntary"]
