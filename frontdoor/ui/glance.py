"""The joined-up view as a call handler reads it: newest first, open work before closed, team names not ids, and
each referral's life as a row of steps. Pure functions of the view document and the team directory."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from events.vocabulary import NEEDS
from frontdoor.teams import Team, TeamDirectory

RECENT_CONTACTS = 10
OPEN = ("made", "accepted")
STEP_WORDS = {"made": "Referred", "accepted": "Accepted", "declined": "Declined", "completed": "Completed",
              "withdrawn": "Withdrawn", "handed_off": "Handed off"}
STATUS_WORDS = {"made": "waiting for the team", "accepted": "accepted", "declined": "declined",
                "completed": "completed", "withdrawn": "withdrawn"}


@dataclass(frozen=True, slots=True)
class Step:
    kind: str  # made, accepted, declined, completed, withdrawn, handed_off: also the CSS class of its dot
    words: str
    team: str
    at: str
    note: str | None


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True, slots=True)
class Moment:
    """One line of the merged timeline: a contact, a referral step or an assessment, from any agency."""
    at: str
    kind: str  # contact, referral step (made, accepted, …), assessment_started, assessment_completed
    words: str
    who: str
    note: str | None
    linked: bool  # on a linked record of the same person


def glance(view: dict[str, Any], directory: TeamDirectory, *, now: datetime | None = None) -> dict[str, Any]:
    """`now`: the moment days waiting are counted to (the as-of moment when the page shows the past)."""
    details = view["details"]
    today = now or datetime.now(UTC)
    contacts = sorted(view["contacts"], key=lambda c: _moment(c["at"]), reverse=True)
    referrals = sorted(view["referrals"], key=lambda r: _moment(r["made_at"]), reverse=True)
    referrals.sort(key=lambda r: r["status"] not in OPEN)  # stable: open work first, each part newest first
    return {
        "id": view["resident_id"],
        "details": details,
        "cluster": _cluster_name(directory, details.get("cluster")),
        "consent": view["consent"],
        "coordinator": view["care_coordinator"],
        "flags": view["open_flags"],
        "referrals": [r | {"steps": steps(r, directory), "status_words": STATUS_WORDS.get(r["status"], r["status"]),
                           "days_waiting": _days(r["waiting_since"], today) if r["status"] in OPEN else None}
                      for r in referrals],
        "timeline": timeline(view, directory),
        "open_referrals": sum(r["status"] in OPEN for r in referrals),
        "assessments": sorted(view["assessments"], key=lambda a: _moment(a["started_at"]), reverse=True),
        "recent_contacts": contacts[:RECENT_CONTACTS],
        "earlier_contacts": contacts[RECENT_CONTACTS:],
        "teams_involved": view["teams_involved"],
        "linked": view.get("linked_records", []),
        "version": view["version"],
    }


def steps(referral: dict[str, Any], directory: TeamDirectory) -> list[Step]:
    def name(team_id: str | None) -> str:
        team = directory.get(team_id) if team_id else None
        return team.name if team else (team_id or "")

    out = []
    for h in referral["history"]:
        kind = h["step"]
        team = f"{name(h['team'])} to {name(h.get('to_team'))}" if kind == "handed_off" else name(h["team"])
        out.append(Step(kind=kind, words=STEP_WORDS.get(kind, kind), team=team, at=h["at"], note=h.get("note")))
    return out


def timeline(view: dict[str, Any], directory: TeamDirectory) -> list[Moment]:
    """Contacts, referral steps and assessments of every agency (and of linked records) as one story, newest
    first (at one instant too: the later step first)."""
    def name(team_id: str | None) -> str:
        team = directory.get(team_id) if team_id else None
        return team.name if team else (team_id or "the front door")

    moments: list[Moment] = []
    for c in view["contacts"]:
        caller = "the resident" if c["caller"]["relationship"] == "self" else c["caller"]["relationship"]
        needs = f" about {', '.join(c['needs'])}" if c["needs"] else ""
        moments.append(Moment(c["at"], "contact", f"Contact by {c['channel'].replace('_', ' ')} from {caller}{needs}",
                              c["recorded_by"], c["summary"] or None, "record" in c))
    for r in view["referrals"]:
        for s in steps(r, directory):
            words = f"{s.words}: {r['need']}"
            moments.append(Moment(s.at, s.kind, words, s.team, s.note, "record" in r))
    for a in view["assessments"]:
        moments.append(Moment(a["started_at"], "assessment_started", f"Assessment started: {a['kind']}",
                              name(a["team"]), None, "record" in a))
        if a.get("completed_at"):
            moments.append(Moment(a["completed_at"], "assessment_completed", f"Assessment completed: {a['kind']}",
                                  name(a["team"]), a.get("outcome"), "record" in a))
    moments.sort(key=lambda m: _moment(m.at))  # stable, so reversed the later of two equal times comes first
    moments.reverse()
    return moments


def _days(since: str, now: datetime) -> int:
    return max((now - _moment(since)).days, 0)


def teams_near(details: dict[str, Any], directory: TeamDirectory) -> tuple[list[Team], bool]:
    """The teams of the resident's cluster, or every team when the cluster is unknown or has none.
    The flag says whether the list was narrowed to the cluster."""
    cluster = details.get("cluster")
    near = [t for t in directory.teams if cluster and t.cluster == cluster]
    return (near, True) if near else (list(directory.teams), False)


def referral_choices(teams: list[Team], narrowed: bool) -> list[tuple[str, list[Choice]]]:
    """One group per need, each listing the teams that serve it: choosing one says both the team and the need."""
    groups: list[tuple[str, list[Choice]]] = []
    for need in NEEDS:
        serving = [t for t in teams if need in t.needs]
        if serving:
            groups.append((need, [Choice(f"{need}|{t.id}", t.name if narrowed else f"{t.name} ({t.cluster})")
                                  for t in serving]))
    return groups


def _cluster_name(directory: TeamDirectory, cluster: str | None) -> str | None:
    if not cluster:
        return None
    return next((c.name for c in directory.clusters if c.id == cluster), cluster)


def _moment(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))
