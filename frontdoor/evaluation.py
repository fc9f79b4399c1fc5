"""How well the detector does on a city with known answers: precision, recall and F1 per rule and for
identity linking. Pure: the truth file (from `demo-city --truth`) and the flags in, a report out.

A flag counts as right for an injected duplication when the rule is the same and they share a reference
(references are referral, assessment or contact ids, or the pair of resident ids); every other flag is wrong,
which is how the near misses are scored. Only the flags on the truth file's city count: its residents' ids follow
from its seed and size, so another city in the same store (the demo city of `serve --demo`) is left out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from events.vocabulary import Rule
from frontdoor.demo_city.plan import resident_ids

RULES: tuple[Rule, ...] = ("parallel_referrals", "repeat_assessment", "tell_my_story_again", "handoff_ping_pong",
                           "two_coordinators", "possible_duplicate_resident")


@dataclass(frozen=True, slots=True)
class Score:
    rule: str
    expected: int
    flagged: int
    true_positives: int
    false_positives: int
    missed: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.flagged if self.flagged else 1.0

    @property
    def recall(self) -> float:
        return (self.expected - self.missed) / self.expected if self.expected else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"precision": round(self.precision, 4), "recall": round(self.recall, 4),
                               "f1": round(self.f1, 4)}


class TruthFileError(ValueError):
    """The truth file is not what `demo-city --truth` writes."""


def check_truth(truth: Any) -> dict[str, Any]:
    """The truth file as `demo-city --truth` writes it, or a TruthFileError naming what is wrong."""
    if not isinstance(truth, dict):
        raise TruthFileError("expected a JSON object with duplicate_work, duplicate_people and near_misses")
    for key, fields in (("duplicate_work", ("rule", "references")), ("duplicate_people", ("resident_ids",)),
                        ("near_misses", ("rule", "references"))):
        items = truth.get(key, [])
        if not isinstance(items, list):
            raise TruthFileError(f"{key} must be a list")
        for n, item in enumerate(items):
            if not isinstance(item, dict) or any(not item.get(f) for f in fields):
                raise TruthFileError(f"{key}[{n}] needs {' and '.join(fields)}")
            if not isinstance(item[fields[-1]], list) or not all(isinstance(i, str) for i in item[fields[-1]]):
                raise TruthFileError(f"{key}[{n}]: {fields[-1]} must be a list of ids")
    return truth


def expected_items(truth: dict[str, Any]) -> dict[str, list[set[str]]]:
    items: dict[str, list[set[str]]] = {rule: [] for rule in RULES}
    for item in truth.get("duplicate_work", []):
        items.setdefault(item["rule"], []).append(set(item["references"]))
    for pair in truth.get("duplicate_people", []):
        items["possible_duplicate_resident"].append(set(pair["resident_ids"]))
    return items


@dataclass(frozen=True, slots=True)
class Scope:
    """Which flags were scored: those on the truth file's city (None when it names no seed and size: all)."""

    seed: int | None
    residents: int | None
    scored: int
    left_out: int

    def describe(self) -> str:
        if self.residents is None:
            return f"all {self.scored} flags scored (the truth file names no seed and size)"
        return (f"scored: {self.scored} flags on the truth file's {self.residents:,} residents (seed {self.seed}); "
                f"left out: {self.left_out} on other residents")

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def in_scope(truth: dict[str, Any], flags: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Scope]:
    """The flags on a resident of the truth file's city (either record of a pair of people will do)."""
    seed, size = truth.get("seed"), truth.get("residents")
    if not isinstance(seed, int) or not isinstance(size, int) or size < 1:
        return flags, Scope(None, None, len(flags), 0)
    city = resident_ids(seed, size)
    kept = [f for f in flags if f.get("resident_id") in city or any(r in city for r in f.get("references", ()))]
    return kept, Scope(seed, size, len(kept), len(flags) - len(kept))


def evaluate(truth: dict[str, Any], flags: list[dict[str, Any]]) -> list[Score]:
    flags, _ = in_scope(truth, flags)
    expected = expected_items(truth)
    scores = []
    for rule in RULES:
        wanted = expected.get(rule, [])
        found = [set(f["references"]) for f in flags if f["rule"] == rule]
        if rule == "possible_duplicate_resident":
            hits = [any(f == w for w in wanted) for f in found]
            covered = [any(f == w for f in found) for w in wanted]
        else:
            hits = [any(f & w for w in wanted) for f in found]
            covered = [any(f & w for f in found) for w in wanted]
        scores.append(Score(rule, len(wanted), len(found), sum(hits), len(found) - sum(hits),
                            len(wanted) - sum(covered)))
    return scores
