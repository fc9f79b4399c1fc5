"""The joined-up view of one resident (DESIGN §8), as one typed, pure fold over that resident's events.

Every reader of a resident's history folds it here, so a change to what an event means is made once: the
resident-view projection (stored as one JSON document per resident), the detector's copy, the caseload's
referral and assessment rows (through the same `Referral` and `Assessment` transitions) and the API's
`?as_of=`, which folds the resident's own events from the stream up to a moment.

Links and unlinks. An event changes the record whose stream it is on. A version-1 link or unlink was written to
one record only, and is read with `both_records=False`: it changes the other record as well. A version-2 one is
written to both records' streams and changes only its own. `touches(recorded)` says which records an event
changes, and `apply(view, recorded)` folds it onto any of them; callers fold each event onto every view it
touches, and nothing else decides what a link does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

import orjson

from events.catalogue import (
    AssessmentCompleted,
    AssessmentStarted,
    CareCoordinatorAssigned,
    ConsentRecorded,
    ContactRecorded,
    DuplicationFlagged,
    DuplicationResolved,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralHandedOff,
    ReferralMade,
    ReferralWithdrawn,
    ResidentDetailsCorrected,
    ResidentRegistered,
    ResidentsLinked,
    ResidentsUnlinked,
)
from events.envelope import RecordedEvent
from projections.view_parts import (
    Assessment,
    Consent,
    Contact,
    Coordinator,
    Details,
    Document,
    Flag,
    Referral,
    ResolvedFlag,
)

V = TypeVar("V", bound="ResidentView")


@dataclass
class ResidentView:
    """Field for field the stored document: `to_json` is, byte for byte, orjson's native dump of it."""

    resident_id: str
    details: Details | None = None
    consent: Consent | None = None
    contacts: list[Contact] = field(default_factory=list)
    referrals: list[Referral] = field(default_factory=list)
    assessments: list[Assessment] = field(default_factory=list)
    care_coordinator: Coordinator | None = None
    linked_residents: list[str] = field(default_factory=list)
    open_flags: list[Flag] = field(default_factory=list)
    resolved_flags: list[ResolvedFlag] = field(default_factory=list)
    teams_involved: list[str] = field(default_factory=list)
    version: int = 0  # the sequence of the last event of this record's own stream folded in
    updated_at: str | None = None
    # The contacts as last serialised: the list itself (held, so it is this very list), how many of it, and their
    # JSON. The fold only ever appends to the list, so the next document serialises only the new ones: a whole
    # dump grew with the resident's history (68 µs at 300 contacts, twice an event, in the view and the detector's
    # copy). orjson leaves out a field whose name starts with an underscore, so the document is unchanged.
    _contacts_json: tuple[list[Contact], int, bytes] | None = field(default=None, init=False, repr=False,
                                                                     compare=False)

    def referral(self, referral_id: str) -> Referral:
        for referral in self.referrals:
            if referral.referral_id == referral_id:
                return referral
        raise LookupError(f"referral {referral_id} is not in this view: the stream is out of order or an event is "
                          "missing")

    def assessment(self, assessment_id: str) -> Assessment:
        for assessment in self.assessments:
            if assessment.assessment_id == assessment_id:
                return assessment
        raise LookupError(f"assessment {assessment_id} is not in this view: the stream is out of order or an event "
                          "is missing")

    def link(self, other_resident_id: str) -> None:
        if other_resident_id not in self.linked_residents:
            self.linked_residents = sorted([*self.linked_residents, other_resident_id])

    def unlink(self, other_resident_id: str) -> None:
        """A record that is not linked stays as it is."""
        if other_resident_id in self.linked_residents:
            self.linked_residents = [r for r in self.linked_residents if r != other_resident_id]

    def involve(self, team: str) -> None:
        if team not in self.teams_involved:
            self.teams_involved = sorted([*self.teams_involved, team])

    def to_json(self) -> bytes:
        """Byte for byte orjson's dump of the view (tested), with the contacts written before taken as they were."""
        document = {name: getattr(self, name) for name in _document_fields(type(self))}
        document["contacts"] = self._contacts_fragment()  # in its place: a dict keeps the order keys came in
        return orjson.dumps(document)

    def _contacts_fragment(self) -> orjson.Fragment:
        contacts, cached = self.contacts, self._contacts_json
        if cached is not None and cached[0] is contacts and cached[1] <= len(contacts):
            done, written = cached[1], cached[2]
        else:
            done, written = 0, b""
        if done < len(contacts):
            more = orjson.dumps(contacts[done:])[1:-1]  # the new contacts, without the array's brackets
            written = written + b"," + more if written else more
            self._contacts_json = (contacts, len(contacts), written)
        return orjson.Fragment(b"[" + written + b"]")

    def document(self) -> Document:
        """The JSON document (DESIGN §8) as a dict, exactly what the projection stores."""
        doc: Document = orjson.loads(self.to_json())
        return doc

    @classmethod
    def from_document(cls: type[V], d: Document) -> V:
        details, consent, coordinator = d["details"], d["consent"], d["care_coordinator"]
        return cls(
            d["resident_id"],
            Details.from_document(details) if details else None,
            Consent.from_document(consent) if consent else None,
            [Contact.from_document(c) for c in d["contacts"]],
            [Referral.from_document(r) for r in d["referrals"]],
            [Assessment.from_document(a) for a in d["assessments"]],
            Coordinator.from_document(coordinator) if coordinator else None,
            d["linked_residents"],
            [Flag.from_document(f) for f in d["open_flags"]],
            [ResolvedFlag.from_document(f) for f in d["resolved_flags"]],
            d["teams_involved"],
            d["version"],
            d["updated_at"],
        )

    @classmethod
    def load(cls: type[V], text: str | bytes) -> V:
        """A view from its stored JSON."""
        return cls.from_document(orjson.loads(text))


_DOCUMENT_FIELDS: dict[type[Any], tuple[str, ...]] = {}


def _document_fields(view_class: type[Any]) -> tuple[str, ...]:
    """The fields orjson writes of a view class (a subclass's too), in its order: all but the underscored."""
    names = _DOCUMENT_FIELDS.get(view_class)
    if names is None:
        names = _DOCUMENT_FIELDS[view_class] = tuple(f.name for f in fields(view_class) if not f.name.startswith("_"))
    return names


def touches(recorded: RecordedEvent) -> tuple[str, ...]:
    """The records an event changes: the one whose stream it is on, and for a one-sided (version 1) link or
    unlink the other record too."""
    event = recorded.event
    if isinstance(event, ResidentsLinked | ResidentsUnlinked) and not event.both_records:
        return recorded.resident_id, event.other_resident_id
    return (recorded.resident_id,)


def apply(view: V, recorded: RecordedEvent) -> V:
    """Folds an event onto the view of one of the records it `touches` (mutating and returning the view)."""
    if view.resident_id != recorded.resident_id:
        _apply_to_other(view, recorded)
        return view
    event, env = recorded.event, recorded.envelope
    at = env.occurred_at.isoformat().replace("+00:00", "Z")
    match event:
        case ResidentRegistered():
            view.details = Details.registered(event, at)
        case ResidentDetailsCorrected():
            if view.details is not None:  # the front door corrects registered residents only
                view.details.correct(event)
        case ConsentRecorded():
            view.consent = Consent.recorded(event, at)
        case ContactRecorded():
            view.contacts.append(Contact.recorded(event, at, env.actor.id))
        case ReferralMade():
            view.referrals.append(Referral.made(event, at, env.actor.id))
            view.involve(event.to_team)
        case ReferralAccepted() | ReferralDeclined() | ReferralCompleted() | ReferralWithdrawn() | ReferralHandedOff():
            view.referral(event.referral_id).move(event, at, env.actor.id)
            if isinstance(event, ReferralHandedOff):
                view.involve(event.to_team)
        case AssessmentStarted():
            view.assessments.append(Assessment.started(event, at))
            view.involve(event.team)
        case AssessmentCompleted():
            view.assessment(event.assessment_id).complete(event, at)
        case CareCoordinatorAssigned():
            view.care_coordinator = Coordinator.assigned(event, at)
            view.involve(event.team_id)
        case ResidentsLinked():
            view.link(event.other_resident_id)
        case ResidentsUnlinked():
            view.unlink(event.other_resident_id)
        case DuplicationFlagged():
            if not any(f.flag_id == event.flag_id for f in view.resolved_flags):
                view.open_flags.append(Flag.raised(event, at))
        case DuplicationResolved():
            resolved = [f.resolve(event, at) for f in view.open_flags if f.flag_id == event.flag_id]
            if resolved:
                view.open_flags = [f for f in view.open_flags if f.flag_id != event.flag_id]
                view.resolved_flags.extend(resolved)
        # EventSuperseded (and anything else) changes no part of the view: skipping the superseded message is
        # the projection runner's work. The view's version still moves on: it is the record's last sequence.
    view.version = recorded.seq
    view.updated_at = at
    return view


def _apply_to_other(view: ResidentView, recorded: RecordedEvent) -> None:
    """A one-sided link or unlink, seen from the other record: its own version does not move."""
    event = recorded.event
    if recorded.resident_id == view.resident_id or view.resident_id not in touches(recorded):
        raise ValueError(f"event {recorded.seq} of {recorded.resident_id} does not change {view.resident_id}")
    if isinstance(event, ResidentsLinked):
        view.link(recorded.resident_id)
    elif isinstance(event, ResidentsUnlinked):
        view.unlink(recorded.resident_id)


def fold_into(views: dict[str, V], recorded: RecordedEvent, new: Callable[[str], V]) -> list[V]:
    """Folds an event onto every view it touches, making those not yet in `views` with `new`; returns them,
    the event's own record first."""
    changed = []
    for resident_id in touches(recorded):
        view = views.get(resident_id)
        if view is None:
            view = views[resident_id] = new(resident_id)
        changed.append(apply(view, recorded))
    return changed


def fold_view(resident_id: str, events: Iterable[RecordedEvent]) -> ResidentView:
    """The typed view of one record from its own stream's events, in stream order. One-sided (version 1) links
    made from another record are not on this stream: `fold_records` sees those."""
    view = ResidentView(resident_id)
    for recorded in events:
        apply(view, recorded)
    return view


def fold_records(streams: Mapping[str, Sequence[RecordedEvent]]) -> dict[str, ResidentView]:
    """The views of several records from their own streams' events, folded together in sequence order, so a
    one-sided link or unlink on one stream changes the other record too when both are here."""
    views = {rid: ResidentView(rid) for rid in streams}
    merged = sorted((e for events in streams.values() for e in events), key=lambda e: e.seq)
    for recorded in merged:
        for resident_id in touches(recorded):
            if resident_id in views:
                apply(views[resident_id], recorded)
    return views
