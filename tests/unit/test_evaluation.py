"""Scoring flags against a truth file: right, wrong and missed, per rule and for identity linking."""

from __future__ import annotations

import re
from typing import Any

import pytest

from frontdoor.demo_city.plan import resident_ids
from frontdoor.evaluation import Scope, TruthFileError, check_truth, evaluate, in_scope

TRUTH: dict[str, Any] = {
    "duplicate_work": [
        {"rule": "parallel_referrals", "resident_id": "r1", "references": ["a", "b"]},
        {"rule": "repeat_assessment", "resident_id": "r2", "references": ["x", "y"]},
    ],
    "duplicate_people": [{"resident_ids": ["p1", "p2"], "kind": "typo"}],
    "near_misses": [{"rule": "parallel_referrals", "resident_id": "r3", "references": ["c", "d"], "why_not": "."}],
}


def flag(rule: str, *refs: str) -> dict[str, Any]:
    return {"rule": rule, "references": list(refs)}


def by_rule(flags: list[dict[str, Any]]) -> dict[str, Any]:
    return {s.rule: s for s in evaluate(TRUTH, flags)}


def test_every_injected_case_found_and_nothing_else_is_perfect() -> None:
    scores = by_rule([flag("parallel_referrals", "b", "a"), flag("repeat_assessment", "x", "y"),
                      flag("possible_duplicate_resident", "p2", "p1")])
    assert all(s.precision == 1.0 and s.recall == 1.0 for s in scores.values())


def test_a_flagged_near_miss_costs_precision_and_a_missed_case_costs_recall() -> None:
    scores = by_rule([flag("parallel_referrals", "a", "b"), flag("parallel_referrals", "c", "d")])
    assert scores["parallel_referrals"].precision == 0.5 and scores["parallel_referrals"].recall == 1.0
    assert scores["repeat_assessment"].recall == 0.0 and scores["repeat_assessment"].missed == 1
    assert scores["possible_duplicate_resident"].f1 == 0.0


def test_people_pairs_must_match_exactly() -> None:
    scores = by_rule([flag("possible_duplicate_resident", "p1", "p3")])
    assert scores["possible_duplicate_resident"].true_positives == 0
    assert scores["possible_duplicate_resident"].false_positives == 1


@pytest.mark.parametrize(("truth", "says"), [
    ([], "JSON object"),
    ({"duplicate_work": {}}, "duplicate_work must be a list"),
    ({"duplicate_work": [{"rule": "parallel_referrals"}]}, "duplicate_work[0] needs rule and references"),
    ({"duplicate_people": [{"resident_ids": "r-1"}]}, "duplicate_people[0]: resident_ids must be a list of ids"),
])
def test_a_truth_file_of_another_shape_is_refused_with_what_is_wrong(truth: object, says: str) -> None:
    with pytest.raises(TruthFileError, match=re.escape(says)):
        check_truth(truth)


def test_the_truth_file_demo_city_writes_passes_the_check() -> None:
    assert check_truth(TRUTH) == TRUTH


def test_only_the_flags_on_the_truth_files_city_are_scored() -> None:
    """`serve --demo` writes a city of its own beside the one being evaluated: its flags are not wrong answers."""
    ours = sorted(resident_ids(5, 3))
    truth = {**TRUTH, "seed": 5, "residents": 3,
             "duplicate_people": [{"resident_ids": ours[:2], "kind": "nickname"}]}
    flags = [{"rule": "possible_duplicate_resident", "resident_id": ours[1], "references": ours[:2]},
             {"rule": "parallel_referrals", "resident_id": ours[2], "references": ["a", "b"]},
             {"rule": "possible_duplicate_resident", "resident_id": "elsewhere-2",
              "references": ["elsewhere-1", "elsewhere-2"]},
             {"rule": "parallel_referrals", "resident_id": "elsewhere-3", "references": ["e", "f"]}]

    kept, scope = in_scope(truth, flags)
    scores = {s.rule: s for s in evaluate(truth, flags)}

    assert kept == flags[:2]
    assert (scope.residents, scope.scored, scope.left_out) == (3, 2, 2)
    assert scope.describe() == ("scored: 2 flags on the truth file's 3 residents (seed 5); "
                                "left out: 2 on other residents")
    assert scores["possible_duplicate_resident"].precision == scores["parallel_referrals"].precision == 1.0


def test_a_truth_file_without_seed_and_size_scores_every_flag() -> None:
    flags = [flag("parallel_referrals", "a", "b")]
    assert in_scope(TRUTH, flags) == (flags, Scope(None, None, 1, 0))
