"""Known duplicated work, injected on purpose, and near misses that look alike but are not duplicates; the
truth file a detector's precision and recall are measured against (DESIGN §5).

Each scenario keeps its need (or assessment kind) to itself, so the resident's ordinary history cannot add to
it or spoil it, and returns what it injected. Thresholds: 28 days (repeat assessment), 3 contacts in 14 days
(tell-my-story-again), 30 days (ping-pong); injected cases stay well inside them, near misses well outside.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from events.vocabulary import ASSESSMENT_KINDS, NEEDS, AssessmentKind, ContactOutcome, Need
from frontdoor.demo_city import words
from frontdoor.demo_city.story import Ordinary, Story


@dataclass(frozen=True, slots=True)
class WorkTruth:
    """Duplicated work (why_not None) or a near miss (why_not says why it is not a duplicate)."""

    rule: str
    resident_id: str
    references: tuple[str, ...]
    why_not: str | None = None

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"rule": self.rule, "resident_id": self.resident_id,
                                 "references": list(self.references)}
        return found if self.why_not is None else {**found, "why_not": self.why_not}


@dataclass(frozen=True, slots=True)
class PeopleTruth:
    resident_ids: tuple[str, str]
    # typo | nickname | missing_nhs_number | moved_house | transposed_date (day and month) | initial |
    # prefix_name (Gwen for Gwendoline) | transposed_digits (12 for 21, 1974 for 1947)
    kind: str


@dataclass(frozen=True, slots=True)
class Truth:
    seed: int
    residents: int
    duplicate_work: tuple[WorkTruth, ...] = ()
    duplicate_people: tuple[PeopleTruth, ...] = ()
    near_misses: tuple[WorkTruth, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "residents": self.residents,
            "duplicate_work": [w.to_json() for w in self.duplicate_work],
            "duplicate_people": [{"resident_ids": list(p.resident_ids), "kind": p.kind} for p in self.duplicate_people],
            "near_misses": [n.to_json() for n in self.near_misses],
        }


Injection = Callable[[Story, datetime], WorkTruth]
Scenario = Callable[[Story], tuple[Ordinary, Injection]]


def _need(story: Story, *, teams: int, besides: tuple[Need, ...] = ()) -> Need:
    """One of the resident's own needs that enough teams of the cluster serve, else any such need."""
    for pool in (story.person.needs, NEEDS):
        found = [n for n in pool if n not in besides and len(story.serving(n)) >= teams]
        if found:
            return story.rng.choice(found)
    raise ValueError(f"no need is served by {teams} teams in cluster {story.person.cluster}")


def _assessors(story: Story, kind: AssessmentKind) -> list[str]:
    return [t.id for t in story.teams.teams if t.cluster == story.person.cluster and kind in words.team_kinds(t.id)]


def _kind(story: Story, *, teams: int, besides: tuple[AssessmentKind, ...] = ()) -> AssessmentKind:
    found = [k for k in ASSESSMENT_KINDS if k not in besides and len(_assessors(story, k)) >= teams]
    if not found:
        raise ValueError(f"no assessment kind is done by {teams} teams in cluster {story.person.cluster}")
    return story.rng.choice(found)


def _refer_accept(story: Story, at: datetime, need: Need, team: str) -> tuple[str, str, datetime]:
    """A contact that ends in a referral the team accepts: (contact id, referral id, when accepted)."""
    contact_id = story.contact(at, need, "referred")
    referral_id = story.refer(at + timedelta(minutes=story.rng.randint(10, 60)), need, team, contact_id)
    accepted = story.later(at, 0.3, 2)
    story.accept(accepted, referral_id, team)
    return contact_id, referral_id, accepted


def parallel_referrals(story: Story) -> tuple[Ordinary, Injection]:
    need = _need(story, teams=2)

    def inject(story: Story, at: datetime) -> WorkTruth:
        first, second = story.rng.sample(story.serving(need), 2)
        _, a, _ = _refer_accept(story, at, need, first)
        again = story.later(at, 3, 10)  # someone else calls (often the GP) and refers elsewhere
        b = story.refer(again + timedelta(minutes=15), need, second, story.contact(again, need, "referred"))
        if story.rng.random() < 0.5:
            story.accept(story.later(again, 0.5, 2), b, second)
        return WorkTruth("parallel_referrals", story.resident_id, (a, b))

    return Ordinary(avoid_needs=frozenset({need})), inject


def parallel_different_needs(story: Story) -> tuple[Ordinary, Injection]:
    one = _need(story, teams=1)
    other = _need(story, teams=2, besides=(one,))

    def inject(story: Story, at: datetime) -> WorkTruth:
        first = story.rng.choice(story.serving(one))
        _, a, _ = _refer_accept(story, at, one, first)
        second = story.rng.choice(story.serving(other, besides=(first,)))
        _, b, _ = _refer_accept(story, story.later(at, 2, 8), other, second)
        return WorkTruth("parallel_referrals", story.resident_id, (a, b), f"different needs: {one}, {other}")

    return Ordinary(avoid_needs=frozenset({one, other})), inject


def parallel_closed_first(story: Story) -> tuple[Ordinary, Injection]:
    need = _need(story, teams=2)

    def inject(story: Story, at: datetime) -> WorkTruth:
        first, second = story.rng.sample(story.serving(need), 2)
        _, a, accepted = _refer_accept(story, at, need, first)
        closed = story.later(accepted, 5, 15)
        how = "completed" if story.rng.random() < 0.7 else "withdrawn"
        if how == "completed":
            story.complete(closed, a, first)
        else:
            story.withdraw(closed, a)
        _, b, _ = _refer_accept(story, story.later(closed, 1, 5), need, second)
        return WorkTruth("parallel_referrals", story.resident_id, (a, b),
                         f"the first referral was {how} before the second was made")

    return Ordinary(avoid_needs=frozenset({need})), inject


def _repeat(gap: tuple[float, float], *, other_kind: bool) -> Scenario:
    def scenario(story: Story) -> tuple[Ordinary, Injection]:
        kind = _kind(story, teams=1 if other_kind else 2)
        second_kind = _kind(story, teams=1, besides=(kind,)) if other_kind else kind

        def inject(story: Story, at: datetime) -> WorkTruth:
            rng = story.rng
            team = rng.choice(_assessors(story, kind))
            others = [t for t in _assessors(story, second_kind) if t != team]
            again_by = team if (not others or rng.random() < 0.15) else rng.choice(others)
            x = story.assess(at, team, kind, done_after=rng.uniform(1, 5) if rng.random() < 0.6 else None)
            later = story.later(at, *gap)
            y = story.assess(later, again_by, second_kind)
            days = (later - at).days
            why = (f"a different kind ({kind}, then {second_kind})" if other_kind
                   else f"{days} days apart" if days > 28 else None)
            return WorkTruth("repeat_assessment", story.resident_id, (x, y), why)

        return Ordinary(avoid_kinds=frozenset({kind, second_kind})), inject

    return scenario


def _story_again(*, spread: bool, referral: bool) -> Scenario:
    def scenario(story: Story) -> tuple[Ordinary, Injection]:
        need = _need(story, teams=1 if referral else 0)

        def inject(story: Story, at: datetime) -> WorkTruth:
            rng = story.rng
            times = [at]
            for _ in range(3 if not spread and rng.random() < 0.25 else 2):
                # 3.5 days at most between calls (plus overnight): four calls still fall inside 14 days
                times.append(story.later(times[-1], 9, 10) if spread else story.later(times[-1], 0.5, 3.5))
            contacts, why = [], None
            if referral:  # the first call is referred at once; the next ones chase it
                contact_id, referral_id, _ = _refer_accept(story, at, need, rng.choice(story.serving(need)))
                contacts.append(contact_id)
                why = f"a referral for {need} ({referral_id}) is open"
            for when in times[len(contacts):]:
                summary = words.CHASING if referral else rng.choice(words.AGAIN) if contacts else None
                outcome: ContactOutcome = "advice" if referral else rng.choice(("advice", "signposted", "no_action"))
                contacts.append(story.contact(when, need, outcome, summary=summary))
            if spread:
                why = f"{len(times)} contacts over {(times[-1] - times[0]).days} days"
            return WorkTruth("tell_my_story_again", story.resident_id, tuple(contacts), why)

        return Ordinary(avoid_needs=frozenset({need}), coordinator=False), inject

    return scenario


def _ping_pong(*, back: bool) -> Scenario:
    def scenario(story: Story) -> tuple[Ordinary, Injection]:
        need = _need(story, teams=2)

        def inject(story: Story, at: datetime) -> WorkTruth:
            teams = story.serving(need)
            story.rng.shuffle(teams)
            route = [teams[0], teams[1], teams[0]] if back else teams[:3]
            _, referral_id, accepted = _refer_accept(story, at, need, route[0])
            for holder, to in pairwise(route):
                handed = story.later(accepted, 2, 5)
                story.hand_off(handed, referral_id, holder, to, words.HAND_BACK if to in route[:1] else None)
                accepted = story.later(handed, 0.3, 2)
                story.accept(accepted, referral_id, to)
            why = None if back else f"each handoff went to a team that had not had it ({' -> '.join(route)})"
            return WorkTruth("handoff_ping_pong", story.resident_id, (referral_id,), why)

        return Ordinary(avoid_needs=frozenset({need})), inject

    return scenario


# The injected duplicated work and the near misses, by name; the paired ones (people) live in `plan`.
DUPLICATE_WORK: dict[str, Scenario] = {
    "parallel_referrals": parallel_referrals,
    "repeat_assessment": _repeat((3, 26), other_kind=False),
    "tell_my_story_again": _story_again(spread=False, referral=False),
    "handoff_ping_pong": _ping_pong(back=True),
}
NEAR_MISSES: dict[str, Scenario] = {
    "parallel_different_needs": parallel_different_needs,
    "parallel_closed_first": parallel_closed_first,
    "repeat_after_28_days": _repeat((29, 45), other_kind=False),
    "repeat_other_kind": _repeat((3, 26), other_kind=True),
    "story_over_20_days": _story_again(spread=True, referral=False),
    "story_with_open_referral": _story_again(spread=False, referral=True),
    "handoff_to_new_team": _ping_pong(back=False),
}
