"""Who asks, and what about the request the use cases need to know (correlation, purpose, idempotency)."""

from __future__ import annotations

from dataclasses import dataclass

from events.envelope import Actor

ROLES = ("call_handler", "team", "coordinator", "analyst", "admin")
STAFF_ROLES = ("call_handler", "coordinator", "admin")


@dataclass(frozen=True, slots=True)
class Principal:
    sub: str
    role: str
    team_id: str | None = None

    @property
    def actor(self) -> Actor:
        return Actor(id=self.sub, role=self.role, team_id=self.team_id)

    @property
    def is_team(self) -> bool:
        return self.role == "team"


@dataclass(frozen=True, slots=True)
class Idempotency:
    """A client's Idempotency-Key bound to the request it came with (IETF Idempotency-Key draft): the same key
    with the same request is the same write; with another request it is refused, never silently merged."""

    key: str
    fingerprint: str  # a digest of what was asked: method, path and body, or a team command's subject and body

    @property
    def token(self) -> str:
        """What fixes the ids of everything the request writes."""
        return f"{self.key}\x1f{self.fingerprint}"


@dataclass(frozen=True, slots=True)
class Asked:
    correlation_id: str
    purpose: str | None = None
    idempotency: Idempotency | None = None
