"""The plan of a synthetic city: who lives in it, which residents carry injected duplication or a near miss,
and each resident's history, all a pure function of (seed, residents, day). Nothing here does I/O.

The people are made up front (small); a resident's history is made when asked for, from a generator seeded
by the city and the resident's index, so a large city is written without holding all its commands at once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import zip_longest

from events.envelope import Actor
from frontdoor.demo_city import people as p
from frontdoor.demo_city import words
from frontdoor.demo_city.story import Ordinary, Step, Story, ordinary_history, resident_id
from frontdoor.demo_city.truth import DUPLICATE_WORK, NEAR_MISSES, PeopleTruth, Truth, WorkTruth
from frontdoor.domain import commands
from frontdoor.teams import TeamDirectory

# Cases that are two records: one person registered twice, or two people who only look alike.
PAIRS = ("two_coordinators", "duplicate_person", "spouses", "twins")
PERSON_KINDS = ("typo", "nickname", "missing_nhs_number", "moved_house", "transposed_date", "initial", "prefix_name",
                "transposed_digits")
WORK_CASES = (*DUPLICATE_WORK, "two_coordinators", "duplicate_person")
NEAR_CASES = (*NEAR_MISSES, "spouses", "twins")
DUPLICATED_SHARE = 0.035  # of cases (a pair is one case): with pairs, about 4-5 % of records carry duplication
NEAR_MISS_SHARE = 0.03
WHY_NOT = {"spouses": "spouses: same surname and address, different first names and dates of birth",
           "twins": "twins: same surname, date of birth and address, different first names and NHS numbers"}


@dataclass(frozen=True, slots=True)
class Role:
    case: str
    kind: str = ""  # of a duplicate person: how the second registration differs
    partner: int | None = None  # the other record of a pair
    second: bool = False  # the later record of a pair


@dataclass(frozen=True, slots=True)
class ResidentPlan:
    index: int
    resident_id: str
    steps: tuple[Step, ...]
    truth: tuple[WorkTruth, ...] = ()
    after: str | None = None  # write this resident only once that one's registration is in the stream


def choose_cases(residents: int) -> list[str]:
    """Every rule at least once (when the city is big enough), then in proportion; at most half the records."""
    work = [WORK_CASES[i % len(WORK_CASES)] for i in range(max(len(WORK_CASES), round(DUPLICATED_SHARE * residents)))]
    near = [NEAR_CASES[i % len(NEAR_CASES)] for i in range(max(len(NEAR_CASES), round(NEAR_MISS_SHARE * residents)))]
    chosen: list[str] = []
    records = 0
    for case in (c for pair in zip_longest(work, near) for c in pair if c is not None):
        size = 2 if case in PAIRS else 1
        if records + size <= residents // 2:
            chosen.append(case)
            records += size
    return chosen


def city_name(seed: int, residents: int) -> str:
    return f"{seed}:{residents}"


def resident_ids(seed: int, residents: int) -> frozenset[str]:
    """Every resident id of the city of (seed, residents), whatever day it was written."""
    name = city_name(seed, residents)
    return frozenset(resident_id(name, index) for index in range(residents))


class City:
    def __init__(self, *, seed: int, residents: int, teams: TeamDirectory, today: date) -> None:
        self.seed, self.size, self.teams = seed, residents, teams
        self.name = city_name(seed, residents)  # in every id: two cities of different sizes never collide
        self.end = datetime.combine(today, time(0), UTC)
        rng = random.Random(f"roles:{self.name}")
        self.roles: dict[int, Role] = {}
        cases = choose_cases(residents)
        slots = iter(rng.sample(range(residents), sum(2 if c in PAIRS else 1 for c in cases)))
        kinds = 0
        for case in cases:
            if case not in PAIRS:
                self.roles[next(slots)] = Role(case)
                continue
            a, b = sorted((next(slots), next(slots)))
            kind = PERSON_KINDS[kinds % len(PERSON_KINDS)] if case in ("two_coordinators", "duplicate_person") else ""
            kinds += bool(kind)
            self.roles[a] = Role(case, kind, partner=b)
            self.roles[b] = Role(case, kind, partner=a, second=True)
        self.people = self._people(today)

    def _people(self, today: date) -> list[p.Person]:
        maker = p.PeopleMaker(self.name, today=today)
        made: list[p.Person] = []
        for index in range(self.size):
            role = self.roles.get(index)
            if role is None or role.case not in PAIRS:
                made.append(maker.person())
            elif not role.second:
                made.append(_first(maker, role))
            else:
                assert role.partner is not None
                made.append(_second(maker, made[role.partner], role))
        return made

    def resident_id(self, index: int) -> str:
        return resident_id(self.name, index)

    def start(self, index: int) -> datetime:
        """When the resident was registered: most in the first months of the half year, some recently; the
        later record of a pair weeks after the first."""
        role = self.roles.get(index)
        rng = random.Random(f"start:{self.name}:{index}")
        if role is not None and role.second and role.partner is not None:
            return self.start(role.partner) + timedelta(days=rng.uniform(20, 90))
        if role is not None or rng.random() < 0.85:
            low, high = (185, 150) if role is not None else (185, 90)
        else:
            low, high = 90, 7
        return self.end - timedelta(seconds=int(rng.uniform(high, low) * 86_400))

    def resident(self, index: int) -> ResidentPlan:
        role = self.roles.get(index)
        story = Story(city=self.name, index=index, rng=random.Random(f"story:{self.name}:{index}"),
                      teams=self.teams, person=self.people[index], end=self.end)
        start = self.start(index)
        truth: tuple[WorkTruth, ...] = ()
        if role is None:
            ordinary_history(story, start, Ordinary())
        elif role.case in DUPLICATE_WORK or role.case in NEAR_MISSES:
            options, inject = {**DUPLICATE_WORK, **NEAR_MISSES}[role.case](story)
            ordinary_history(story, start, options)
            story.strict = True
            truth = (inject(story, story.later(start, 3, 20)),)
        elif role.case == "two_coordinators":
            ordinary_history(story, start, Ordinary(coordinator=False, episodes=(1, 3)))
            story.strict = True
            team, worker = self._coordinators(index, role)
            story.coordinate(story.later(start, 1, 10), team, worker)
            if role.second and role.partner is not None:  # later, an admin finds they are one person
                story.add(commands.LinkResidents(at=story.later(start, 11, 15), resident_id=story.resident_id,
                                          other_resident_id=self.resident_id(role.partner),
                                          evidence="same person registered twice", decided_by="demo-admin"),
                          Actor(id="demo-admin", role="admin"))
        else:  # a duplicate person, a spouse or a twin: one coordinator at most between the two records
            coordinate = None if role.case != "duplicate_person" or not role.second else False
            ordinary_history(story, start, Ordinary(coordinator=coordinate, episodes=(1, 3)))
        after = self.resident_id(role.partner) if role is not None and role.second and role.partner is not None \
            else None
        return ResidentPlan(index, story.resident_id, story.steps(), truth, after)

    def _coordinators(self, index: int, role: Role) -> tuple[str, str]:
        """Two different coordinators, one for each record of the pair, from the teams of each one's cluster."""
        assert role.partner is not None
        first = min(index, role.partner)
        rng = random.Random(f"coordinators:{self.name}:{first}")
        chosen: list[tuple[str, str]] = []
        for record in sorted((index, role.partner)):
            teams = [t.id for t in self.teams.teams if t.cluster == self.people[record].cluster
                     and (not chosen or t.id != chosen[0][0])]
            workers = [w for w in words.WORKERS if not chosen or w != chosen[0][1]]
            chosen.append((rng.choice(teams), rng.choice(workers)))
        return chosen[0] if index == first else chosen[1]

    def truth(self) -> Truth:
        work: list[WorkTruth] = []
        near: list[WorkTruth] = []
        same_person: list[PeopleTruth] = []
        for index, role in sorted(self.roles.items()):
            if role.case in DUPLICATE_WORK or role.case in NEAR_MISSES:
                for found in self.resident(index).truth:
                    (work if found.why_not is None else near).append(found)
            elif not role.second and role.partner is not None:
                pair = (self.resident_id(index), self.resident_id(role.partner))
                if role.case in ("two_coordinators", "duplicate_person"):
                    same_person.append(PeopleTruth(pair, role.kind))
                if role.case == "two_coordinators":  # flagged once the admin links the two records
                    work.append(WorkTruth("two_coordinators", pair[0], pair))
                if role.case in WHY_NOT:
                    near.append(WorkTruth("possible_duplicate_resident", pair[1], pair, WHY_NOT[role.case]))
        return Truth(self.seed, self.size, tuple(work), tuple(same_person), tuple(near))


def _first(maker: p.PeopleMaker, role: Role) -> p.Person:
    """The earlier record of a pair, drawn so that its kind of second registration is possible: a formal name
    with diminutives, a name long enough to cut short, a birth date whose digits can be swapped."""
    female = maker.rng.random() < 0.58
    formal = maker.formal_name(female) if role.kind == "nickname" else None
    if role.kind == "prefix_name":
        while formal is None or p.cut_short(formal) == formal:
            formal = maker.faker.first_name_female() if female else maker.faker.first_name_male()
    while True:
        first = maker.person(given_name=formal, female=female, with_number=True,
                             swappable_dob=role.kind == "transposed_date")
        # A day whose digits swap (the same on any day the city is written, unlike the year's digits)
        if role.kind != "transposed_digits" or p.day_swapped(first.date_of_birth) is not None:
            return first


def _second(maker: p.PeopleMaker, first: p.Person, role: Role) -> p.Person:
    """The later record of a pair: the same person registered again (imperfectly), or a spouse or a twin."""
    if role.case == "spouses":
        return maker.spouse_of(first)
    if role.case == "twins":
        return maker.twin_of(first)
    again = replace(first, nhs_number=None)  # a second claim on the number would be refused
    rng = maker.rng
    if role.kind == "typo":
        if rng.random() < 0.6:
            return replace(again, family_name=p.typo(first.family_name, rng))
        return replace(again, given_name=p.typo(first.given_name, rng))
    if role.kind == "nickname":
        return replace(again, given_name=rng.choice(p.DIMINUTIVES[first.given_name]))
    if role.kind == "initial":
        return replace(again, given_name=first.given_name[:1])
    if role.kind == "prefix_name":
        return replace(again, given_name=p.cut_short(first.given_name))
    if role.kind == "transposed_digits":
        swaps = p.digit_swaps(first.date_of_birth)  # the day's, and the year's when they differ
        return replace(again, date_of_birth=swaps[int(rng.random() * len(swaps))])  # one draw, however many
    if role.kind == "moved_house":
        cluster = rng.choice(p.CLUSTERS)
        postcode = maker.postcode(cluster)
        while postcode == first.postcode:
            postcode = maker.postcode(cluster)
        return replace(again, postcode=postcode, cluster=cluster, gp_practice=rng.choice(p.GP_PRACTICES[cluster]))
    if role.kind == "transposed_date":
        return replace(again, date_of_birth=p.transposed(first.date_of_birth))
    return again  # missing_nhs_number: the same details, without the number


def plan_city(*, seed: int, residents: int, teams: TeamDirectory, today: date) -> City:
    if residents < 1:
        raise ValueError("a city has at least one resident")
    return City(seed=seed, residents=residents, teams=teams, today=today)
