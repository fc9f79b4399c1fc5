"""The team feed payload, version 1 (DESIGN §9): what a team receives on `team.<team_id>.<EventType>`.

Minimised: a team receives what it needs for its work. The envelope keeps its ids, type, version and times; the
actor is reduced to role and team; the causation id and the actor's own id stay at home. In `data`, free text
belongs to the team(s) the work is addressed to: a referral reason to the team referred to, a decline reason or a
completion outcome to the team that held the referral, an assessment outcome to the assessing team. Every other
team receives the event without that text. Text addressed to no team (flag explanations, resolution notes, link
evidence, correction reasons) goes to none. Contacts reach only teams that may see the record (the router decides
that), and keep what the resident view shows those teams.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from events.catalogue import (
    CARE_EVENTS,
    AssessmentCompleted,
    DuplicationFlagged,
    DuplicationResolved,
    Event,
    ReferralCompleted,
    ReferralDeclined,
    ReferralHandedOff,
    ReferralMade,
    ReferralWithdrawn,
    ResidentDetailsCorrected,
    ResidentsLinked,
    ResidentsUnlinked,
)
from events.envelope import Envelope
from events.vocabulary import Role

FEED_VERSION = 1
# The free-text fields of each event type: the ones a team may not see unless the work is addressed to it.
FREE_TEXT: dict[type[Event], tuple[str, ...]] = {
    ReferralMade: ("reason",),
    ReferralDeclined: ("reason",),
    ReferralCompleted: ("outcome",),
    ReferralWithdrawn: ("reason",),
    ReferralHandedOff: ("reason",),
    AssessmentCompleted: ("outcome",),
    DuplicationFlagged: ("explanation",),
    DuplicationResolved: ("note",),
    ResidentsLinked: ("evidence",),
    ResidentsUnlinked: ("evidence",),
    ResidentDetailsCorrected: ("reason",),
}
_TEXT_BY_TYPE = {cls.type_name(): fields for cls, fields in FREE_TEXT.items()}


def text_owners(event: Event) -> set[str]:
    """The teams whose work the event's free text is about: they alone receive it."""
    match event:
        case ReferralMade():
            return {event.to_team}
        case ReferralDeclined() | ReferralCompleted() | AssessmentCompleted():
            return {event.team}
        case ReferralWithdrawn():
            return {event.team} if event.team else set()
        case ReferralHandedOff():
            return {event.from_team, event.to_team}
    return set()


def feed_message(envelope: Envelope, event: Event, team_id: str) -> dict[str, Any]:
    """The JSON object team `team_id` receives for this event (see `FeedMessage` for its schema)."""
    data = dict(envelope.data)
    if team_id not in text_owners(event):
        for field in _TEXT_BY_TYPE.get(envelope.type, ()):
            data.pop(field, None)
    return {
        "event_id": envelope.event_id,
        "type": envelope.type,
        "version": envelope.version,
        "resident_id": envelope.resident_id,
        "occurred_at": envelope.occurred_at.isoformat().replace("+00:00", "Z"),
        "recorded_at": envelope.recorded_at.isoformat().replace("+00:00", "Z"),
        "correlation_id": envelope.correlation_id,
        "actor": {"role": envelope.actor.role, "team_id": envelope.actor.team_id},
        "data": data,
    }


class FeedActor(BaseModel):
    """Who acted, reduced to role and team (a person's id stays with the front door)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    role: Role
    team_id: str | None = None


def _feed_data_model(cls: type[Event]) -> type[BaseModel]:
    """The event's fields, with its free text optional: left out when the work is another team's."""
    optional = FREE_TEXT.get(cls, ())
    fields: dict[str, Any] = {}
    for name, info in cls.model_fields.items():
        if name in optional:
            text = "free text: present only for the team(s) the work is addressed to"
            kept = Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
            fields[name] = (Optional[kept], Field(default=None, description=text))  # noqa: UP045
        else:
            fields[name] = (info.annotation, info)
    model: type[BaseModel] = create_model(f"{cls.type_name()}FeedData", __config__=ConfigDict(extra="forbid"),
                                          __doc__=f"data of a {cls.type_name()} on a team feed", **fields)
    return model


FEED_DATA: dict[str, type[BaseModel]] = {cls.type_name(): _feed_data_model(cls) for cls in CARE_EVENTS}
if TYPE_CHECKING:
    FeedData = BaseModel
    EventTypeName = str
else:  # built from the catalogue at import, so a new event type is in the schema without a second list
    FeedData = Union[tuple(FEED_DATA.values())]  # noqa: UP007
    EventTypeName = Literal[tuple(FEED_DATA)]


class FeedMessage(BaseModel):
    """One message on a team's feed, version 1. Headers: Frontdoor-Type (the event type), Nats-Msg-Id
    ('<source seq>:<team>'), Frontdoor-Source-Seq (the event's sequence in CARE)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    event_id: str
    type: EventTypeName
    version: int
    resident_id: str
    occurred_at: datetime
    recorded_at: datetime
    correlation_id: str
    actor: FeedActor
    data: Annotated[FeedData, Field(description="the event's data (DESIGN §4), free text of others' work left out")]
