"""The envelope every event travels in (DESIGN §3), and the typed view of a stored event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from events.catalogue import Event
from events.vocabulary import Role


class Actor(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    role: Role
    team_id: str | None = None


class Envelope(BaseModel):
    """What is written to the stream: the fact (`data`) plus who, when, which resident and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    event_id: str
    type: str
    version: int
    resident_id: str
    occurred_at: datetime
    recorded_at: datetime
    actor: Actor
    correlation_id: str
    causation_id: str | None = None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as read back from the stream: its sequence, its envelope and the typed (upcast) fact."""

    seq: int
    envelope: Envelope
    event: Event
    # The sequence of the resident's previous event, as the append that wrote this one stated it (its expected
    # last subject sequence, kept by JetStream in the message's headers); None where it is not known.
    previous_seq: int | None = None

    @property
    def resident_id(self) -> str:
        return self.envelope.resident_id

    @property
    def type(self) -> str:
        return self.envelope.type
