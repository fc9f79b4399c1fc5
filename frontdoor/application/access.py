"""Who may see and act on a resident (DESIGN §1: personal data is health data).

- Call handlers, coordinators and admins work across the front door: they see every record (and are audited).
- A team sees a resident only with a legitimate relationship and consent (`projections.consent.may_see`), and
  acts only on work addressed to it or on residents it is already involved with: a team cannot refer a stranger
  to itself and so grant itself the record (issue 9). Anything else goes through the front door.
- A team is never told whether a resident it may not see exists: "no such resident" and "not yours" are the same
  403 to a team.
- Analysts see no one's record: they use the pseudonymised replay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from frontdoor.application.errors import NoRelationship
from frontdoor.application.who import Principal
from frontdoor.domain.state import ResidentState
from frontdoor.teams import TeamDirectory
from projections.consent import may_see


def team_may_see(view: dict[str, Any], team_id: str, directory: TeamDirectory) -> bool:
    team = directory.get(team_id)
    return may_see(view.get("teams_involved", []), view.get("consent"), team_id,
                   organisation=team.organisation if team else None, sector=team.sector if team else None)


def team_may_act(state: ResidentState, team_id: str, directory: TeamDirectory) -> bool:
    """The same rule as `team_may_see`, judged on the command side's own (confirmed) state of the resident."""
    if not state.registered or not state.involves(team_id):
        return False
    consent = {"decision": state.consent, "scope": list(state.consent_scope)} if state.consent else None
    team = directory.get(team_id)
    return may_see([team_id], consent, team_id, organisation=team.organisation if team else None,
                   sector=team.sector if team else None)


def refused(who: Principal) -> NoRelationship:
    return NoRelationship(f"team {who.team_id} has no current work with this resident, or the resident has not "
                          "consented to share with it")


def check_may_see(who: Principal, view: dict[str, Any] | None, directory: TeamDirectory) -> None:
    """For a team: its right to see the record (a missing record is refused the same way)."""
    if who.is_team and (view is None or not team_may_see(view, str(who.team_id), directory)):
        raise refused(who)


def team_guard(who: Principal, directory: TeamDirectory) -> Callable[[ResidentState], None] | None:
    """For a team: it may act only on a resident it already works with and has consent for."""
    if not who.is_team:
        return None

    def guard(state: ResidentState) -> None:
        if not team_may_act(state, str(who.team_id), directory):
            raise refused(who)

    return guard
