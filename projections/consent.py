"""Whether a team may see a resident's record: a legitimate relationship and no refusal. Pure, shared by the
API's access checks and the team feed router, so both say the same thing.

- Only teams involved with the resident (work addressed to them, an assessment or coordination) may see.
- A refused or withdrawn consent closes the record to every team.
- A consent limited to named teams, organisations or sectors opens it only to those.
- With no consent recorded, direct care proceeds on implied consent for the teams involved.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def may_see(teams_involved: Iterable[str], consent: dict[str, Any] | None, team_id: str, *,
            organisation: str | None = None, sector: str | None = None) -> bool:
    if team_id not in teams_involved:
        return False
    if consent is None:
        return True
    if consent.get("decision") != "granted":
        return False
    scope = consent.get("scope") or ["all_partners"]
    return "all_partners" in scope or team_id in scope or organisation in scope or sector in scope
