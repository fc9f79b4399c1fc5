"""Turning events into stream messages and back. JSON, with the type also in a header for routers."""

from __future__ import annotations

from datetime import UTC, datetime

from events.catalogue import EVENT_TYPES, Event
from events.envelope import Actor, Envelope, RecordedEvent
from events.upcasting import upcast

TYPE_HEADER = "Frontdoor-Type"
MSG_ID_HEADER = "Nats-Msg-Id"


class UnknownEventType(ValueError):
    pass


def wrap(
    event: Event,
    *,
    event_id: str,
    resident_id: str,
    actor: Actor,
    occurred_at: datetime,
    correlation_id: str,
    causation_id: str | None = None,
    recorded_at: datetime | None = None,
) -> Envelope:
    return Envelope(
        event_id=event_id,
        type=event.type_name(),
        version=event.version,
        resident_id=resident_id,
        occurred_at=occurred_at,
        recorded_at=recorded_at or datetime.now(UTC),
        actor=actor,
        correlation_id=correlation_id,
        causation_id=causation_id,
        data=event.model_dump(mode="json", exclude_none=False),
    )


def encode(envelope: Envelope) -> tuple[bytes, dict[str, str]]:
    headers = {
        MSG_ID_HEADER: envelope.event_id,
        TYPE_HEADER: envelope.type,
        "Content-Type": "application/json",
    }
    return envelope.model_dump_json().encode(), headers


def to_event(envelope: Envelope) -> Event:
    cls = EVENT_TYPES.get(envelope.type)
    if cls is None:
        raise UnknownEventType(envelope.type)
    data = envelope.data
    if envelope.version > cls.version:
        # Written by a newer release than this one: refuse rather than misread it.
        raise UnknownEventType(f"{envelope.type} v{envelope.version} is newer than this release knows (v{cls.version})")
    if envelope.version != cls.version:
        data = upcast(envelope.type, envelope.version, data, cls.version)
    return cls.model_validate(data)


def decode(seq: int, payload: bytes, previous_seq: int | None = None) -> RecordedEvent:
    envelope = Envelope.model_validate_json(payload)
    return RecordedEvent(seq=seq, envelope=envelope, event=to_event(envelope), previous_seq=previous_seq)
