"""The duplicate-work rules (DESIGN §5) as pure functions over a resident's projected view and the event that
just changed it. A rule fires at the moment its condition first holds, so a replay fires it at the same event
with the same deterministic flag id, and the store's check makes a second flag impossible."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from events.catalogue import (
    AssessmentStarted,
    ContactRecorded,
    ReferralHandedOff,
    ReferralMade,
)
from events.envelope import RecordedEvent
from events.ids import derived_id
from events.vocabulary import Rule, Severity
from projections.resident_view import ResidentView
from projections.view_parts import OPEN, Contact, Coordinator, Document, Flag, Handoff, ResolvedFlag


@dataclass(frozen=True, slots=True)
class Thresholds:
    repeat_assessment_days: int = 28
    story_contacts: int = 3
    story_days: int = 14
    ping_pong_days: int = 30
    person_match: float = 0.82


@dataclass(frozen=True, slots=True)
class Finding:
    rule: Rule
    severity: Severity
    references: tuple[str, ...]
    explanation: str
    identity: tuple[str, ...] = ()  # what makes two findings the same duplication; default: the references

    @property
    def flag_id(self) -> str:
        return flag_id(self.rule, self.identity or self.references)


def flag_id(rule: str, references: tuple[str, ...] | list[str]) -> str:
    return derived_id("flag", rule, *references)


@dataclass
class Remembered:
    """A finding the detector remembers in its copy of the view (so a run of calls is not flagged twice)."""

    rule: str
    references: list[str]
    identity: list[str]


@dataclass
class DetectorView(ResidentView):
    """The detector's copy of a resident's view: the same fold, and what the rules found on it."""

    findings: list[Remembered] = field(default_factory=list)

    def remember(self, finding: Finding) -> None:
        self.findings.append(Remembered(finding.rule, list(finding.references), list(finding.identity)))

    @classmethod
    def from_document(cls, d: Document) -> DetectorView:
        view = super().from_document(d)
        view.findings = [Remembered(f["rule"], f["references"], f["identity"]) for f in d.get("findings", ())]
        return view


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def day(text: str) -> str:
    return when(text).strftime("%-d %b %Y")


def parallel_referrals(view: ResidentView, recorded: RecordedEvent, _: Thresholds) -> list[Finding]:
    event = recorded.event
    if not isinstance(event, ReferralMade | ReferralHandedOff):
        return []
    this = view.referral(event.referral_id)
    findings = []
    for other in view.referrals:
        if (other.referral_id != this.referral_id and other.status in OPEN and this.status in OPEN
                and other.need == this.need and other.to_team != this.to_team):
            refs = tuple(sorted((this.referral_id, other.referral_id)))
            severity: Severity = "high" if "urgent" in (this.urgency, other.urgency) else "medium"
            findings.append(Finding("parallel_referrals", severity, refs,
                                    f"Two open referrals for {this.need}: to {other.to_team} (made "
                                    f"{day(other.made_at)}) and to {this.to_team} (made {day(this.made_at)}). "
                                    "Check whether one team can do this before both contact the resident."))
    return findings


def repeat_assessment(view: ResidentView, recorded: RecordedEvent, limits: Thresholds) -> list[Finding]:
    event = recorded.event
    if not isinstance(event, AssessmentStarted):
        return []
    this = view.assessment(event.assessment_id)
    started = when(this.started_at)
    earlier = [a for a in view.assessments if a.assessment_id != this.assessment_id
               and a.kind == this.kind and timedelta(0) <= started - when(a.started_at)
               <= timedelta(days=limits.repeat_assessment_days)]
    if not earlier:
        return []
    last = max(earlier, key=lambda a: (a.started_at, a.assessment_id))
    who = "the same team again" if last.team == this.team else f"{this.team} after {last.team}"
    return [Finding("repeat_assessment", "medium", (last.assessment_id, this.assessment_id),
                    f"A {this.kind} assessment was started by {who} within {limits.repeat_assessment_days} days "
                    f"(first on {day(last.started_at)}). Share the first assessment instead of repeating it.")]


def tell_my_story_again(view: ResidentView, recorded: RecordedEvent, limits: Thresholds) -> list[Finding]:
    event = recorded.event
    if not isinstance(event, ContactRecorded) or view.care_coordinator:
        return []
    findings = []
    for need in event.needs:
        if any(r.need == need and r.status in OPEN for r in view.referrals):
            continue
        window = _run_of_calls(view.contacts, need, event.contact_id, recorded.envelope.occurred_at, limits)
        if not window:
            continue
        refs = tuple(c.contact_id for c in window)
        # One flag per run of calls about a need: a fourth call in the same run is the same failure demand.
        if any(set(run) & set(refs) for run in _raised_runs(view, need)):
            continue
        findings.append(Finding("tell_my_story_again", "high" if len(window) > limits.story_contacts else "medium",
                                refs, f"{len(window)} contacts about {need} in {limits.story_days} days and no open "
                                "referral or coordinator for it: the resident is telling their story again. "
                                "Refer, or assign a coordinator.", identity=(need, refs[0])))
    return findings


def _run_of_calls(contacts: list[Contact], need: str, contact_id: str, at: datetime, limits: Thresholds
                  ) -> list[Contact]:
    """The earliest window of `story_days` that holds this contact and enough contacts about `need`. The contact
    may have been typed up late, so the window can reach after it as well as before.

    Windows are found by bisection over the sorted times: a resident with hundreds of calls about one need made
    the scan of every window over every call a third of a busy process's time."""
    span = timedelta(days=limits.story_days)
    calls = [c for c in contacts if need in c.needs]
    # In time order, not text order: "12:00:00Z" sorts after "12:00:00.5Z" as text. The position breaks a tie
    # between two calls of one id (never written, but a sort must not compare the calls themselves). Plain tuples
    # and no key function: this sort runs at every call, over every call about the need (hot residents: hundreds).
    timed = sorted([(datetime.fromisoformat(c.at), c.contact_id, k) for k, c in enumerate(calls)])
    times = [t for t, _, _ in timed]
    about = [calls[k] for _, _, k in timed]
    mine = bisect_left(timed, (at, contact_id))  # this call's place, found by its time when that is its own
    if mine == len(timed) or timed[mine][1] != contact_id:
        found = next((k for k, (_, cid, _) in enumerate(timed) if cid == contact_id), None)
        if found is None:
            return []
        mine = found
    for start in times[bisect_left(times, at - span):bisect_right(times, at)]:
        first, last = bisect_left(times, start), bisect_right(times, start + span)  # every call in [start, +span]
        if last - first >= limits.story_contacts and first <= mine < last:
            return about[first:last]
    return []


def _raised_runs(view: ResidentView, need: str) -> list[list[str]]:
    """Runs of calls about `need` already found: by the detector (it remembers its findings in its copy of the
    view), or flagged in the stream (a flag is about `need` when every call it names was about it)."""
    every: list[Flag | ResolvedFlag] = [*view.open_flags, *view.resolved_flags]
    flags = [f for f in every if f.rule == "tell_my_story_again"]
    needs_of = {c.contact_id: c.needs for c in view.contacts} if flags else {}
    flagged = [f.references for f in flags if all(need in needs_of.get(r, ()) for r in f.references)]
    remembered = view.findings if isinstance(view, DetectorView) else []
    found = [f.references for f in remembered
             if f.rule == "tell_my_story_again" and f.identity[:1] == [need]]
    return flagged + found


def handoff_ping_pong(view: ResidentView, recorded: RecordedEvent, limits: Thresholds) -> list[Finding]:
    event = recorded.event
    if not isinstance(event, ReferralHandedOff):
        return []
    referral = view.referral(event.referral_id)
    now = recorded.envelope.occurred_at
    history = referral.history[:-1]  # everything before this handoff
    held_before = [h for h in history
                   if h.team == event.to_team or (isinstance(h, Handoff) and h.to_team == event.to_team)]
    if not any(now - when(h.at) <= timedelta(days=limits.ping_pong_days) for h in held_before):
        return []
    return [Finding("handoff_ping_pong", "high", (event.referral_id,),
                    f"Referral for {referral.need} handed back to {event.to_team}, which already had it within "
                    f"{limits.ping_pong_days} days ({event.from_team} → {event.to_team}). Agree who owns it.")]


RULES: tuple[Callable[[ResidentView, RecordedEvent, Thresholds], list[Finding]], ...] = (
    parallel_referrals,
    repeat_assessment,
    tell_my_story_again,
    handoff_ping_pong,
)


def findings_for(view: ResidentView, recorded: RecordedEvent, limits: Thresholds) -> list[Finding]:
    return [finding for rule in RULES for finding in rule(view, recorded, limits)]


def two_coordinators(resident_id: str, coordinator: Coordinator | None, linked: Mapping[str, ResidentView]
                     ) -> list[Finding]:
    """Rule 5, over a resident and the records linked to it (possible once two records of one person are linked)."""
    if not coordinator:
        return []
    findings = []
    for other_id, other in sorted(linked.items()):
        theirs = other.care_coordinator
        if theirs and (theirs.team_id, theirs.worker) != (coordinator.team_id, coordinator.worker):
            refs = tuple(sorted((resident_id, other_id)))
            findings.append(Finding("two_coordinators", "high", refs,
                                    f"Two care coordinators for one person: {coordinator.worker} "
                                    f"({coordinator.team_id}) and {theirs.worker} ({theirs.team_id}) on "
                                    "linked records. Agree one."))
    return findings


def still_duplicated(view: ResidentView, flag: Flag) -> bool:
    """Whether an open flag's cause is still there. Only parallel referrals and two coordinators end by themselves;
    the other rules describe something that already happened."""
    if flag.rule == "parallel_referrals":
        refs = {r.referral_id: r for r in view.referrals if r.referral_id in flag.references}
        if len(refs) < 2:
            return True  # a referral on another record: leave it to people
        a, b = refs.values()
        return a.status in OPEN and b.status in OPEN and a.need == b.need and a.to_team != b.to_team
    return True
