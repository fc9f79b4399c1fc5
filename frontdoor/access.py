"""Who may see a resident's record (DESIGN §1, "personal data is health data"). Pure rules, tested alone.

- Call handlers, coordinators and admins work across the front door: they see every record (and are audited).
- A team sees a resident only with a legitimate relationship (work addressed to it, an assessment or
  coordination by it) and no refusal: a refused or withdrawn consent closes the record to every team; a consent
  limited to named organisations or teams opens it only to those. With no consent recorded, direct care
  proceeds on implied consent for the teams involved (the Caldicott position for direct care).
- Analysts see no one's record: they use the pseudonymised replay.
"""

from __future__ import annotations

from typing import Any

from frontdoor.teams import TeamDirectory

STAFF_ROLES = ("call_handler", "coordinator", "admin")


def team_may_see(view: dict[str, Any], team_id: str, directory: TeamDirectory) -> bool:
    if team_id not in view.get("teams_involved", []):
        return False
    consent = view.get("consent")
    if consent is None:
        return True
    if consent["decision"] != "granted":
        return False
    scope = consent.get("scope") or ["all_partners"]
    if "all_partners" in scope or team_id in scope:
        return True
    team = directory.get(team_id)
    return team is not None and (team.organisation in scope or team.sector in scope)
