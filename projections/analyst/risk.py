"""People at most risk of going into hospital (Dorset "Better Together"): an explainable score from events.

The score is a sum of points, each with the reason that earned it, so a coordinator sees why a person is on the
list and can disagree. Points are capped per reason so that one busy signal (forty calls) cannot drown the
others. The same pure `score` serves the analyst table (facts from the replay) and the live list
(`facts_from_view`, facts from the resident view document).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

LONG_WAIT_DAYS = 28  # a referral not accepted within four weeks: the resident is waiting without help
FALLS = "mobility and falls"
SAFEGUARDING = "safeguarding"


@dataclass(frozen=True, slots=True)
class RiskFacts:
    falls_contacts: int = 0
    safeguarding_contacts: int = 0
    most_contacts_one_need: int = 0
    most_contacted_need: str | None = None
    long_waits: int = 0
    handoffs: int = 0
    teams_involved: int = 0
    has_coordinator: bool = False
    open_flags: int = 0


@dataclass(frozen=True, slots=True)
class Risk:
    score: int
    reasons: tuple[str, ...]


def score(facts: RiskFacts) -> Risk:
    parts: list[tuple[int, str]] = []

    def add(points: int, reason: str) -> None:
        if points > 0:
            parts.append((points, f"+{points} {reason}"))

    add(3 * min(facts.falls_contacts, 3), _count(facts.falls_contacts, "contact about falls", "contacts about falls"))
    add(4 * min(facts.safeguarding_contacts, 3),
        _count(facts.safeguarding_contacts, "safeguarding contact", "safeguarding contacts"))
    if facts.most_contacts_one_need >= 3:
        add(2 * min(facts.most_contacts_one_need - 2, 4),
            f"{facts.most_contacts_one_need} contacts about {facts.most_contacted_need}")
    add(3 * min(facts.long_waits, 3),
        _count(facts.long_waits, f"referral waited over {LONG_WAIT_DAYS} days",
               f"referrals waited over {LONG_WAIT_DAYS} days"))
    add(2 * min(facts.handoffs, 4), _count(facts.handoffs, "handoff between teams", "handoffs between teams"))
    if not facts.has_coordinator and facts.teams_involved >= 2:
        add(3, f"no care coordinator with {facts.teams_involved} teams involved")
    add(2 * min(facts.open_flags, 3), _count(facts.open_flags, "open duplicate-work flag", "open duplicate-work flags"))
    parts.sort(key=lambda p: (-p[0], p[1]))
    return Risk(sum(p for p, _ in parts), tuple(r for _, r in parts))


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def waited_long(made_at: float, accepted_at: float | None, still_waiting: bool, now: float) -> bool:
    """Times in seconds. Accepted after the limit, or still unaccepted past it."""
    if accepted_at is not None:
        return accepted_at - made_at > LONG_WAIT_DAYS * 86400
    return still_waiting and now - made_at > LONG_WAIT_DAYS * 86400


def most_contacted(counts: dict[str, int]) -> tuple[int, str | None]:
    """The need most called about, leaving out falls and safeguarding (they already score on their own)."""
    counts = {n: c for n, c in counts.items() if n not in (FALLS, SAFEGUARDING)}
    if not counts:
        return 0, None
    need = min(counts, key=lambda n: (-counts[n], n))
    return counts[need], need


def facts_from_view(doc: dict[str, Any], now: datetime) -> RiskFacts:
    """The facts from a resident view document (projections.resident_view), as of `now`."""
    falls = safeguarding = 0
    per_need: dict[str, int] = {}
    for contact in doc.get("contacts", []):
        needs = contact.get("needs") or []
        falls += FALLS in needs
        safeguarding += bool(contact.get("safeguarding")) or SAFEGUARDING in needs
        for need in set(needs):
            per_need[need] = per_need.get(need, 0) + 1
    long_waits = handoffs = 0
    for referral in doc.get("referrals", []):
        history = referral.get("history", [])
        handoffs += sum(1 for h in history if h["step"] == "handed_off")
        accepted = next((_seconds(h["at"]) for h in history if h["step"] == "accepted"), None)
        long_waits += waited_long(_seconds(referral["made_at"]), accepted, referral["status"] == "made",
                                  now.timestamp())
    most, need = most_contacted(per_need)
    return RiskFacts(falls_contacts=falls, safeguarding_contacts=safeguarding, most_contacts_one_need=most,
                     most_contacted_need=need, long_waits=long_waits, handoffs=handoffs,
                     teams_involved=len(doc.get("teams_involved", [])),
                     has_coordinator=doc.get("care_coordinator") is not None,
                     open_flags=len(doc.get("open_flags", [])))


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()
