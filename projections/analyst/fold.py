"""The analyst fold: raw envelopes (orjson dicts, no pydantic) in stream order, pseudonymised rows out.

The whole state is plain lists, dicts and numbers, so it can be saved with `marshal` as a checkpoint and a
resumed replay continues exactly where the saved one stopped. Rows keep the order of the events that created
them, which makes the output of the same stream the same, byte for byte. Times are microseconds since the
epoch (UTC) of `occurred_at`: when the thing happened, not when it was typed in.

Free text never enters the state: summaries, reasons, outcomes, notes, link evidence and flag explanations
(rule 6 explanations name the person) are dropped here, and text fields that people type into (caller
relationship, cluster) are kept only when they are words of a known vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from events.catalogue import EVENT_TYPES
from events.upcasting import upcast
from projections.analyst.pseudonyms import Pseudonyms, age_band, postcode_district
from projections.analyst.risk import FALLS, SAFEGUARDING, RiskFacts, most_contacted, score, waited_long

Rows = dict[str, list[tuple[Any, ...]]]  # table name -> rows, in the order of the events that made them
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICRO = timedelta(microseconds=1)
DAY_US = 86_400_000_000
RELATIONSHIPS = frozenset({
    "self", "daughter", "son", "wife", "husband", "partner", "spouse", "mother", "father", "sister", "brother",
    "grandchild", "friend", "neighbour", "carer", "GP", "district nurse", "nurse", "pharmacist", "social worker",
    "paramedic", "police", "housing officer", "professional", "relative", "other"})
# Referral rows: the output columns (schema.TABLES["referrals"]) and, last, the count of steps so far.
(R_REF, R_RES, R_CONTACT, R_FROM, R_FIRST, R_TO, R_NEED, R_URGENCY, R_STATUS, R_MADE, R_ACCEPTED, R_COMPLETED,
 R_CLOSED, R_WAIT_ACC, R_WAIT_COMP, R_HANDOFFS, R_HO_FROM, R_HO_TO, R_STEPS) = range(19)
CLOSING = {"ReferralCompleted": "completed", "ReferralDeclined": "declined", "ReferralWithdrawn": "withdrawn"}


def micros(text: str) -> int:
    return (datetime.fromisoformat(text) - EPOCH) // MICRO


def days(start: int | None, end: int | None) -> float | None:
    return None if start is None or end is None else round((end - start) / DAY_US, 3)


def new_state() -> dict[str, Any]:
    return {"residents": {}, "contacts": [], "contact_needs": [], "referrals": {}, "referral_steps": [],
            "assessments": {}, "coordinator_changes": [], "consent_decisions": [], "flags": {},
            "flag_references": [], "links": {}, "latest": 0, "seq": 0}


class AnalystFold:
    def __init__(self, pseudonyms: Pseudonyms, *, clusters: frozenset[str] | None = None,
                 state: dict[str, Any] | None = None) -> None:
        self._p = pseudonyms
        self._clusters = clusters
        self.state = state if state is not None else new_state()
        # Per event type: its handler here and the catalogue's current version (older ones are upcast).
        self._handlers = {kind: (getattr(self, "_" + kind), cls.version) for kind, cls in EVENT_TYPES.items()
                          if hasattr(self, "_" + kind)}

    def apply(self, seq: int, envelope: dict[str, Any]) -> None:
        s = self.state
        s["seq"] = seq
        kind = envelope["type"]
        handler = self._handlers.get(kind)
        if handler is None:
            return  # a type the tables do not use
        act, version = handler
        data = envelope["data"]
        if envelope["version"] != version:
            if envelope["version"] > version:
                raise ValueError(f"event {seq}: {kind} v{envelope['version']} is newer than this release knows")
            data = upcast(kind, envelope["version"], data, version)
        occurred = envelope["occurred_at"]
        at = micros(occurred)
        if at > s["latest"]:
            s["latest"] = at
        act(self._p.of(envelope["resident_id"]), data, at, occurred)

    # -- residents -------------------------------------------------------------------------------------------
    def _ResidentRegistered(self, resident: str, d: dict[str, Any], at: int, on: str) -> None:
        # [age band, cluster, district, registered_at, birth date (kept to re-band a correction), registered on]
        self.state["residents"][resident] = [age_band(d["date_of_birth"], on), self._cluster(d.get("cluster")),
                                             postcode_district(d.get("postcode")), at, d["date_of_birth"], on]

    def _ResidentDetailsCorrected(self, resident: str, d: dict[str, Any], _at: int, _on: str) -> None:
        row = self.state["residents"].get(resident)
        if row is None:
            return
        if d.get("date_of_birth") is not None:
            row[4] = d["date_of_birth"]
            row[0] = age_band(row[4], row[5])
        if d.get("postcode") is not None:
            row[2] = postcode_district(d["postcode"])
        if d.get("cluster") is not None:
            row[1] = self._cluster(d["cluster"])

    def _cluster(self, cluster: str | None) -> str | None:
        if cluster is None or self._clusters is None or cluster in self._clusters:
            return cluster
        return "other"

    def _ConsentRecorded(self, resident: str, d: dict[str, Any], at: int, _on: str) -> None:
        scope = d.get("scope") or ["all_partners"]
        self.state["consent_decisions"].append(
            (resident, at, d["decision"], "all_partners" if "all_partners" in scope else "listed", len(scope)))

    # -- contacts --------------------------------------------------------------------------------------------
    def _ContactRecorded(self, resident: str, d: dict[str, Any], at: int, _on: str) -> None:
        contact = self._p.of(d["contact_id"])
        caller = d.get("caller")
        relationship = caller.get("relationship") if caller else None
        if relationship not in RELATIONSHIPS:
            relationship = "other"
        needs = d.get("needs")
        needs = sorted(set(needs)) if needs else []
        self.state["contacts"].append((contact, resident, at, d["channel"], relationship, "; ".join(needs),
                                       d.get("urgency", "routine"), bool(d.get("safeguarding")), d["outcome"]))
        contact_needs = self.state["contact_needs"]
        for need in needs:  # a loop, not extend(generator): making the generator costs more than its one or two needs
            contact_needs.append((contact, resident, need, at))

    # -- referrals -------------------------------------------------------------------------------------------
    def _ReferralMade(self, resident: str, d: dict[str, Any], at: int, _on: str) -> None:
        referral = self._p.of(d["referral_id"])
        self.state["referrals"][referral] = [
            referral, resident, self._p.maybe(d.get("contact_id")), d.get("from_team"), d["to_team"], d["to_team"],
            d["need"], d.get("urgency", "routine"), "made", at, None, None, None, None, None, 0, None, None, 0]
        self._step(referral, resident, "made", at, d["to_team"], None)

    def _ReferralAccepted(self, _resident: str, d: dict[str, Any], at: int, _on: str) -> None:
        row = self._referral(d)
        if row is None:
            return
        row[R_STATUS] = "accepted"
        if row[R_ACCEPTED] is None:
            row[R_ACCEPTED] = at
            row[R_WAIT_ACC] = days(row[R_MADE], at)
        self._step(row[R_REF], row[R_RES], "accepted", at, d["team"], None)

    def _close(self, d: dict[str, Any], at: int, step: str) -> None:
        row = self._referral(d)
        if row is None:
            return
        row[R_STATUS] = step
        row[R_CLOSED] = at
        if step == "completed":
            row[R_COMPLETED] = at
            row[R_WAIT_COMP] = days(row[R_MADE], at)
        self._step(row[R_REF], row[R_RES], step, at, d.get("team") or row[R_TO], None)

    def _ReferralCompleted(self, _resident: str, d: dict[str, Any], at: int, _on: str) -> None:
        self._close(d, at, "completed")

    def _ReferralDeclined(self, _resident: str, d: dict[str, Any], at: int, _on: str) -> None:
        self._close(d, at, "declined")

    def _ReferralWithdrawn(self, _resident: str, d: dict[str, Any], at: int, _on: str) -> None:
        self._close(d, at, "withdrawn")

    def _ReferralHandedOff(self, _resident: str, d: dict[str, Any], at: int, _on: str) -> None:
        row = self._referral(d)
        if row is None:
            return
        row[R_STATUS] = "made"
        row[R_TO] = d["to_team"]
        row[R_HANDOFFS] += 1
        row[R_HO_FROM], row[R_HO_TO] = d["from_team"], d["to_team"]
        self._step(row[R_REF], row[R_RES], "handed_off", at, d["from_team"], d["to_team"])

    def _referral(self, d: dict[str, Any]) -> list[Any] | None:
        row: list[Any] | None = self.state["referrals"].get(self._p.of(d["referral_id"]))
        return row

    def _step(self, referral: str, resident: str, step: str, at: int, team: str, to_team: str | None) -> None:
        row = self.state["referrals"][referral]
        row[R_STEPS] += 1
        self.state["referral_steps"].append((referral, resident, row[R_STEPS], step, at, team, to_team,
                                             days(row[R_MADE], at)))

    # -- assessments, coordinators, links --------------------------------------------------------------------
    def _AssessmentStarted(self, resident: str, d: dict[str, Any], at: int, _on: str) -> None:
        assessment = self._p.of(d["assessment_id"])
        self.state["assessments"][assessment] = [assessment, resident, d["team"], d["kind"], at, None, None]

    def _AssessmentCompleted(self, _resident: str, d: dict[str, Any], at: int, _on: str) -> None:
        row = self.state["assessments"].get(self._p.of(d["assessment_id"]))
        if row is not None:
            row[5], row[6] = at, days(row[4], at)

    def _CareCoordinatorAssigned(self, resident: str, d: dict[str, Any], at: int, _on: str) -> None:
        self.state["coordinator_changes"].append((resident, at, d["team_id"], self._p.of("worker:" + d["worker"]),
                                                  self._p.maybe(d["replaces"] and "worker:" + d["replaces"])))

    def _ResidentsLinked(self, resident: str, d: dict[str, Any], at: int, _on: str) -> None:
        other = self._p.of(d["other_resident_id"])
        self.state["links"][f"{resident}|{other}"] = [resident, other, at, None]

    def _ResidentsUnlinked(self, resident: str, d: dict[str, Any], at: int, _on: str) -> None:
        other = self._p.of(d["other_resident_id"])
        for key in (f"{resident}|{other}", f"{other}|{resident}"):
            link = self.state["links"].get(key)
            if link is not None and link[3] is None:
                link[3] = at

    # -- duplicated work -------------------------------------------------------------------------------------
    def _DuplicationFlagged(self, resident: str, d: dict[str, Any], at: int, _on: str) -> None:
        flag = self._p.of(d["flag_id"])
        if flag in self.state["flags"]:
            return  # raised once: a flag id is deterministic, a second raise is the same flag
        references = [self._p.of(r) for r in d["references"]]
        self.state["flags"][flag] = [flag, resident, d["rule"], d["severity"], at, "open", None, None, None,
                                     len(references)]
        self.state["flag_references"].extend((flag, r) for r in references)

    def _DuplicationResolved(self, _resident: str, d: dict[str, Any], at: int, _on: str) -> None:
        row = self.state["flags"].get(self._p.of(d["flag_id"]))
        if row is not None and row[5] == "open":
            row[5], row[6], row[7], row[8] = "resolved", d["resolution"], at, days(row[4], at)

    # -- the tables --------------------------------------------------------------------------------------------
    def tables(self) -> Rows:
        s = self.state
        residents = [(rid, *row[:4]) for rid, row in s["residents"].items()]
        tables: dict[str, list[tuple[Any, ...]]] = {
            "residents": residents,
            "contacts": list(map(tuple, s["contacts"])),
            "contact_needs": list(map(tuple, s["contact_needs"])),
            "referrals": [tuple(row[:R_STEPS]) for row in s["referrals"].values()],
            "referral_steps": list(map(tuple, s["referral_steps"])),
            "assessments": [tuple(row) for row in s["assessments"].values()],
            "coordinator_changes": list(map(tuple, s["coordinator_changes"])),
            "consent_decisions": list(map(tuple, s["consent_decisions"])),
            "flags": [tuple(row) for row in s["flags"].values()],
            "flag_references": list(map(tuple, s["flag_references"])),
            "links": [tuple(row) for row in s["links"].values()],
        }
        tables["people_at_risk"] = self._at_risk(s["residents"])
        return tables

    def _at_risk(self, residents: dict[str, list[Any]]) -> list[tuple[Any, ...]]:
        """Scored as of the latest moment in the export (so the same events always give the same table)."""
        s = self.state
        now = s["latest"] / 1e6
        # One tally per registered resident, found with one look-up per row (facts about anyone else are unused).
        tallies = {resident: _Tally() for resident in residents}
        for contact in s["contacts"]:
            tally = tallies.get(contact[1])
            if tally is None:
                continue
            needs = contact[5].split("; ") if contact[5] else []
            tally.falls += FALLS in needs
            tally.safeguarding += contact[7] or SAFEGUARDING in needs
            counts = tally.per_need
            for need in needs:
                counts[need] = counts.get(need, 0) + 1
        for row in s["referrals"].values():
            tally = tallies.get(row[R_RES])
            if tally is None:
                continue
            tally.long_waits += waited_long(row[R_MADE] / 1e6, None if row[R_ACCEPTED] is None else
                                            row[R_ACCEPTED] / 1e6, row[R_STATUS] == "made", now)
            tally.handoffs += row[R_HANDOFFS]
        for step in s["referral_steps"]:
            if step[3] != "accepted" and (tally := tallies.get(step[1])) is not None:
                tally.teams.update(t for t in (step[5], step[6]) if t)
        for row in s["assessments"].values():
            if (tally := tallies.get(row[1])) is not None:
                tally.teams.add(row[2])
        for change in s["coordinator_changes"]:
            if (tally := tallies.get(change[0])) is not None:
                tally.coordinated = True
                tally.teams.add(change[2])
        for row in s["flags"].values():
            if row[5] == "open" and (tally := tallies.get(row[1])) is not None:
                tally.open_flags += 1
        scored = []
        for resident, row in residents.items():
            tally = tallies[resident]
            most, need = most_contacted(tally.per_need)
            risk = score(RiskFacts(falls_contacts=tally.falls, safeguarding_contacts=tally.safeguarding,
                                   most_contacts_one_need=most, most_contacted_need=need, long_waits=tally.long_waits,
                                   handoffs=tally.handoffs, teams_involved=len(tally.teams),
                                   has_coordinator=tally.coordinated, open_flags=tally.open_flags))
            if risk.score > 0:
                scored.append((resident, row[1], risk))
        scored.sort(key=lambda t: (-t[2].score, t[0]))
        return [(resident, cluster, rank, risk.score, "; ".join(risk.reasons))
                for rank, (resident, cluster, risk) in enumerate(scored, start=1)]


@dataclass(slots=True)
class _Tally:
    """What the score needs to know of one resident, counted over the fold's rows."""

    falls: int = 0
    safeguarding: int = 0
    per_need: dict[str, int] = field(default_factory=dict)
    long_waits: int = 0
    handoffs: int = 0
    teams: set[str] = field(default_factory=set)
    coordinated: bool = False
    open_flags: int = 0
