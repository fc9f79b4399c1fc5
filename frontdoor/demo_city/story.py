"""One resident's history as a list of commands with their times: registration, consent, then episodes of a
contact, a referral to a team that serves the need in the resident's cluster, and what the team did with it.

An ordinary history never duplicates work by itself (the rules of DESIGN §5 stay quiet on it), so every flag
the detector raises on a synthetic city comes from what `truth` injects on purpose:
- one open referral per need at a time (a new one only after the last ended),
- at most one assessment of each kind,
- contacts about one need at least 15 days apart,
- handoffs only ever to a team that has not had the referral.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from events.catalogue import Caller
from events.envelope import Actor
from events.ids import derived_id
from events.vocabulary import AssessmentKind, ContactOutcome, Need, Urgency
from frontdoor.demo_city import words
from frontdoor.demo_city.people import Person
from frontdoor.domain import commands as c
from frontdoor.teams import TeamDirectory

HANDLERS = 12
CONTACT_SPACING = timedelta(days=15)  # more than the 14-day window of tell-my-story-again


@dataclass(frozen=True, slots=True)
class Step:
    command: c.Command
    actor: Actor
    correlation_id: str
    key: str  # the idempotency key: fixes the event ids, so writing the city again writes nothing new


def resident_id(city: str, index: int) -> str:
    return derived_id("demo", city, "resident", str(index))


def office(at: datetime) -> datetime:
    """The same moment, or the next one in office hours (08:00-18:00): calls and visits happen by day."""
    if at.hour < 8:
        return datetime.combine(at.date(), time(8, at.minute, at.second), at.tzinfo)
    if at.hour >= 18:
        return datetime.combine(at.date() + timedelta(days=1), time(9, at.minute, at.second), at.tzinfo)
    return at


class Story:
    """Collects the steps of one resident; each helper adds one command and returns the new thing's id."""

    def __init__(self, *, city: str, index: int, rng: random.Random, teams: TeamDirectory, person: Person,
                 end: datetime) -> None:
        self.city, self.index, self.rng, self.teams, self.person, self.end = city, index, rng, teams, person, end
        self.resident_id = resident_id(city, index)
        self.handler = Actor(id=f"demo-ch-{rng.randrange(HANDLERS):02d}", role="call_handler")
        self.strict = False  # while injecting: a step after the end is a planning bug, not a story cut short
        self._steps: list[tuple[datetime, int, Step]] = []
        self._count = 0
        self.case = self.new_id("case")

    def new_id(self, kind: str) -> str:
        self._count += 1
        return derived_id("demo", self.city, str(self.index), kind, str(self._count))

    def later(self, at: datetime, low: float, high: float) -> datetime:
        """Some random time between `low` and `high` days after `at`, in office hours."""
        return office(at + timedelta(seconds=int(self.rng.uniform(low, high) * 86_400)))

    def add(self, command: c.Command, actor: Actor | None = None) -> bool:
        """False (and nothing added) when the step would happen after the story's end: work still in progress."""
        if command.at > self.end:
            if self.strict:
                raise ValueError(f"injected step {type(command).__name__} falls after the end of the story")
            return False
        step = Step(command, actor or self.handler, self.case, f"demo:{self.city}:{self.index}:{len(self._steps)}")
        self._steps.append((command.at, len(self._steps), step))
        return True

    def steps(self) -> tuple[Step, ...]:
        return tuple(step for _, _, step in sorted(self._steps, key=lambda item: (item[0], item[1])))

    @staticmethod
    def team(team_id: str) -> Actor:
        return Actor(id=f"demo-{team_id}", role="team", team_id=team_id)

    def serving(self, need: Need, *, besides: tuple[str, ...] = ()) -> list[str]:
        return [t.id for t in self.teams.serving(need, self.person.cluster) if t.id not in besides]

    # --- one command each -------------------------------------------------------------------------------

    def register(self, at: datetime) -> None:
        p = self.person
        self.add(c.RegisterResident(at=at, nhs_number=p.nhs_number, given_name=p.given_name,
                                    family_name=p.family_name, date_of_birth=p.date_of_birth, postcode=p.postcode,
                                    gp_practice=p.gp_practice, cluster=p.cluster))
        decision = "granted" if self.rng.random() < 0.9 else "refused"
        self.add(c.RecordConsent(at=at + timedelta(minutes=self.rng.randint(2, 9)), decision=decision,
                                 scope=["all_partners"], basis="explicit, on the phone", recorded_by=self.handler.id))

    def contact(self, at: datetime, need: Need, outcome: ContactOutcome, *, summary: str | None = None) -> str:
        relationship, channel, professional = self.rng.choice(words.CALLERS)
        if professional:
            caller = Caller(relationship=relationship, organisation=self.person.gp_practice)
        elif relationship == "self":
            caller = Caller(relationship="self", name=f"{self.person.given_name} {self.person.family_name}")
        else:
            caller = Caller(relationship=relationship,
                            name=f"{self.rng.choice(words.RELATIVE_NAMES)} {self.person.family_name}")
        contact_id = self.new_id("contact")
        self.case = self.new_id("case")
        self.add(c.RecordContact(at=at, contact_id=contact_id, channel=channel, caller=caller, needs=[need],
                                 urgency=self.urgency(), safeguarding=need == "safeguarding",
                                 summary=summary or self.rng.choice(words.SUMMARIES[need]), outcome=outcome))
        return contact_id

    def urgency(self) -> Urgency:
        return self.rng.choices(("routine", "soon", "urgent"), (70, 25, 5))[0]

    def refer(self, at: datetime, need: Need, to_team: str, contact_id: str | None) -> str:
        referral_id = self.new_id("referral")
        self.add(c.MakeReferral(at=at, referral_id=referral_id, to_team=to_team, need=need, urgency=self.urgency(),
                                reason=words.REASONS[need], contact_id=contact_id))
        return referral_id

    def accept(self, at: datetime, referral_id: str, team: str) -> None:
        self.add(c.AcceptReferral(at=at, referral_id=referral_id, by_team=team), self.team(team))

    def decline(self, at: datetime, referral_id: str, team: str) -> None:
        self.add(c.DeclineReferral(at=at, referral_id=referral_id, by_team=team,
                                   reason=self.rng.choice(words.DECLINES)), self.team(team))

    def complete(self, at: datetime, referral_id: str, team: str) -> None:
        self.add(c.CompleteReferral(at=at, referral_id=referral_id, by_team=team,
                                    outcome=self.rng.choice(words.COMPLETIONS)), self.team(team))

    def withdraw(self, at: datetime, referral_id: str) -> None:
        self.add(c.WithdrawReferral(at=at, referral_id=referral_id, reason=self.rng.choice(words.WITHDRAWALS)))

    def hand_off(self, at: datetime, referral_id: str, team: str, to_team: str, reason: str | None = None) -> None:
        self.add(c.HandOffReferral(at=at, referral_id=referral_id, by_team=team, to_team=to_team,
                                   reason=reason or self.rng.choice(words.HANDOFFS)), self.team(team))

    def assess(self, at: datetime, team: str, kind: AssessmentKind, *, done_after: float | None = None) -> str:
        assessment_id = self.new_id("assessment")
        self.add(c.StartAssessment(at=at, assessment_id=assessment_id, team=team, kind=kind), self.team(team))
        if done_after is not None:
            self.add(c.CompleteAssessment(at=self.later(at, done_after, done_after + 7), assessment_id=assessment_id,
                                          by_team=team, outcome=self.rng.choice(words.ASSESSMENT_OUTCOMES)),
                     self.team(team))
        return assessment_id

    def coordinate(self, at: datetime, team: str, worker: str) -> None:
        self.add(c.AssignCareCoordinator(at=at, team_id=team, worker=worker), self.team(team))


@dataclass(frozen=True, slots=True)
class Ordinary:
    """Options of an ordinary history: what an injected scenario keeps for itself."""

    avoid_needs: frozenset[Need] = frozenset()
    avoid_kinds: frozenset[AssessmentKind] = frozenset()
    coordinator: bool | None = None  # None: sometimes; False: never; True: always
    episodes: tuple[int, int] = (1, 4)


def ordinary_history(story: Story, start: datetime, options: Ordinary) -> None:
    rng = story.rng
    story.register(start)
    needs = [n for n in story.person.needs if n not in options.avoid_needs]
    busy_until: dict[Need, datetime] = {}  # no new contact about the need before then (spacing, open referral)
    kinds_done: set[AssessmentKind] = set(options.avoid_kinds)
    accepted_by: list[tuple[datetime, str]] = []
    at = start
    for _ in range(rng.randint(*options.episodes) if needs else 0):
        at = story.later(at, 7, 50)
        need = rng.choice(needs)
        if at < busy_until.get(need, at):
            continue  # its referral is still open: no second one
        referred = rng.random() < 0.7
        contact_id = story.contact(at, need, "referred" if referred else rng.choice(("advice", "signposted")))
        busy_until[need] = at + CONTACT_SPACING
        if referred:
            ends = _referral(story, at, need, contact_id, kinds_done, accepted_by)
            busy_until[need] = max(busy_until[need], ends)
    if options.coordinator if options.coordinator is not None else rng.random() < 0.25:
        _coordinator(story, start, accepted_by)


def _referral(story: Story, at: datetime, need: Need, contact_id: str, kinds_done: set[AssessmentKind],
              accepted_by: list[tuple[datetime, str]]) -> datetime:
    """Refer, then what the team does; returns when the referral ends (the story's end if it stays open)."""
    rng = story.rng
    tried: tuple[str, ...] = ()
    teams = story.serving(need)
    if not teams:
        return at
    team = rng.choice(teams)
    referral_id = story.refer(at + timedelta(minutes=rng.randint(5, 90)), need, team, contact_id)
    t = story.later(at, 0.2, 4)
    if rng.random() < 0.12:
        story.decline(t, referral_id, team)
        tried = (team,)
        others = story.serving(need, besides=tried)
        if not others or rng.random() < 0.4:
            return t
        team = rng.choice(others)
        again = story.later(t, 0.5, 2)
        referral_id = story.refer(again, need, team, contact_id)
        t = story.later(again, 0.2, 3)
    if not story.add(c.AcceptReferral(at=t, referral_id=referral_id, by_team=team), story.team(team)):
        return story.end
    accepted_by.append((t, team))
    kinds = [k for k in words.team_kinds(team) if k not in kinds_done]
    if kinds and rng.random() < 0.5:
        kinds_done.add(kinds[0])
        story.assess(story.later(t, 1, 10), team, kinds[0], done_after=rng.uniform(1, 14))
    fate = rng.random()
    if fate < 0.1:
        others = story.serving(need, besides=(*tried, team))
        if others:
            new_team = rng.choice(others)
            t = story.later(t, 3, 20)
            story.hand_off(t, referral_id, team, new_team)
            team, t = new_team, story.later(t, 0.5, 4)
            if not story.add(c.AcceptReferral(at=t, referral_id=referral_id, by_team=team), story.team(team)):
                return story.end
    if fate < 0.75:
        done = story.later(t, 14, 60)
        story.complete(done, referral_id, team)
        return min(done, story.end)
    return story.end


def _coordinator(story: Story, start: datetime, accepted_by: list[tuple[datetime, str]]) -> None:
    """A care coordinator from a team that took on the work (or a team of the cluster): one for some residents."""
    rng = story.rng
    if accepted_by:
        at, team = rng.choice(accepted_by)
    else:
        at, team = start, rng.choice([t.id for t in story.teams.teams if t.cluster == story.person.cluster])
    story.coordinate(story.later(at, 0.5, 5), team, rng.choice(words.WORKERS))
