"""Who may see a resident's record (DESIGN §1, "personal data is health data").

- Call handlers, coordinators and admins work across the front door: they see every record (and are audited).
- A team sees a resident only with a legitimate relationship and consent (`projections.consent.may_see`).
- Analysts see no one's record: they use the pseudonymised replay.
"""

from __future__ import annotations

from typing import Any

from frontdoor.teams import TeamDirectory
from projections.consent import may_see

STAFF_ROLES = ("call_handler", "coordinator", "admin")


def team_may_see(view: dict[str, Any], team_id: str, directory: TeamDirectory) -> bool:
    team = directory.get(team_id)
    return may_see(view.get("teams_involved", []), view.get("consent"), team_id,
                   organisation=team.organisation if team else None, sector=team.sector if team else None)
