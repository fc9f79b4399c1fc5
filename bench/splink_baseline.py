"""Issue 5: identity linking against Splink, the open-source probabilistic record linker, on the same records.

The city of `bench.detector_quality` (its SEED; written once per process): its registrations as the read
model `residents` holds them (given name, family name, date of birth, postcode, NHS number where given: the
detector knows that different NHS numbers are different people, so Splink is told the numbers too) go to Splink
5 with the DuckDB backend, deduplicating one table. Model, the way Splink's tutorial builds one:
- comparisons: `NameComparison` (Jaro-Winkler 0.92 / 0.88 / 0.7, term-frequency adjusted) for each name; date
  of birth as exact, day and month swapped, one edit (Damerau-Levenshtein on the ISO string), within a year,
  else; `PostcodeComparison` (full, sector, district, area); `ExactMatch` on the NHS number (null when either
  record has none);
- blocking like our detector's: same date of birth; same postcode district and birth year; same family-name
  soundex and birth year;
- training: lambda from deterministic rules (recall 0.7), u by random sampling (1e7 pairs), then EM twice,
  blocked on both names (estimates date of birth and postcode) and on date of birth (estimates the names).
Pairs at or above a match probability of 0.95 (a threshold picked without looking at the truth) are Splink's
answer; for information, also its best threshold chosen with the truth (an upper bound no real user gets).
A pair is right when both ids are a `duplicate_people` pair of the truth file (spouses and twins are near
misses). Goal: our identity-linking F1 >= Splink's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

import jellyfish

from bench.common import Row, info_row, ratio_row
from bench.detector_quality import FULL, QUICK, scored_city
from frontdoor.evaluation import Score

NAME = "splink_baseline"
THRESHOLD = 0.95
GOAL = 1.0  # our F1 / Splink's F1
Pair = frozenset[str]


def records(registrations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in registrations:
        born: date = r["date_of_birth"]
        swapped = _swapped(born)
        out.append({
            "unique_id": r["resident_id"],
            "given_name": r["given_name"].strip().lower(),
            "family_name": r["family_name"].strip().lower(),
            "date_of_birth": born.isoformat(),
            "dob_swapped": swapped.isoformat() if swapped else None,
            "birth_year": born.year,
            "postcode": " ".join(r["postcode"].upper().split()),
            "postcode_district": r["postcode"].upper().split()[0] if r["postcode"].split() else r["postcode"],
            "family_soundex": jellyfish.soundex(r["family_name"]),
            "nhs_number": (r.get("nhs_number") or "").replace(" ", "") or None,
        })
    return out


def _swapped(born: date) -> date | None:
    try:
        other = date(born.year, born.day, born.month)
    except ValueError:
        return None
    return other if other != born else None


@dataclass(frozen=True, slots=True)
class Linked:
    scored: list[tuple[Pair, float]]  # every blocked pair with its match probability
    seconds: float


def link(rows: list[dict[str, Any]]) -> Linked:
    """Splink 5, DuckDB in memory: settings, training, prediction (all pairs the blocking rules make)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    began = time.perf_counter()
    dob = cl.CustomComparison(output_column_name="date_of_birth", comparison_levels=[
        cll.NullLevel("date_of_birth"),
        cll.ExactMatchLevel("date_of_birth"),
        cll.CustomLevel("date_of_birth_l = dob_swapped_r", "day and month swapped"),
        cll.DamerauLevenshteinLevel("date_of_birth", 1),
        cll.AbsoluteDateDifferenceLevel("date_of_birth", input_is_string=True, threshold=1, metric="year"),
        cll.ElseLevel(),
    ])
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
                     cl.NameComparison("family_name").configure(term_frequency_adjustments=True),
                     dob, cl.PostcodeComparison("postcode"), cl.ExactMatch("nhs_number")],
        blocking_rules_to_generate_predictions=[block_on("date_of_birth"),
                                                block_on("postcode_district", "birth_year"),
                                                block_on("family_soundex", "birth_year")],
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(rows, table_name="residents"), settings, log_level=logging.ERROR)
    training = linker.training
    training.estimate_probability_two_random_records_match(
        [block_on("given_name", "family_name", "date_of_birth"), block_on("given_name", "family_name", "postcode")],
        recall=0.7)
    training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
    training.estimate_parameters_using_expectation_maximisation(block_on("given_name", "family_name"))
    training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    predictions = linker.inference.predict().as_record_list()
    scored = [(frozenset((p["unique_id_l"], p["unique_id_r"])), float(p["match_probability"])) for p in predictions]
    return Linked(scored, time.perf_counter() - began)


def score_pairs(found: set[Pair], truth: set[Pair]) -> Score:
    right = len(found & truth)
    return Score("possible_duplicate_resident", len(truth), len(found), right, len(found) - right,
                 len(truth) - right)


def best_threshold(scored: list[tuple[Pair, float]], truth: set[Pair]) -> tuple[float, Score]:
    """The cut with the highest F1, sweeping the pairs from the most probable down."""
    best = (THRESHOLD, score_pairs({p for p, m in scored if m >= THRESHOLD}, truth))
    ordered = sorted(scored, key=lambda x: -x[1])
    right = 0
    for i, (pair, m) in enumerate(ordered):
        right += pair in truth
        if i + 1 < len(ordered) and ordered[i + 1][1] == m:
            continue
        s = Score("possible_duplicate_resident", len(truth), i + 1, right, i + 1 - right, len(truth) - right)
        if s.f1 > best[1].f1:
            best = (m, s)
    return best


def describe(label: str, s: Score) -> str:
    return (f"{label}: {s.flagged} pairs, {s.true_positives} right, {s.false_positives} wrong, {s.missed} missed "
            f"of {s.expected}; P {s.precision:.3f} R {s.recall:.3f} F1 {s.f1:.3f}")


async def run(quick: bool = False) -> list[Row]:
    city = await scored_city(QUICK if quick else FULL)
    truth = {frozenset(p["resident_ids"]) for p in city.truth["duplicate_people"]}
    ours = next(s for s in city.scores if s.rule == "possible_duplicate_resident")
    linked = await asyncio.to_thread(link, records(city.registrations))
    splink = score_pairs({p for p, m in linked.scored if m >= THRESHOLD}, truth)
    cut, best = best_threshold(linked.scored, truth)
    blocked = {p for p, _ in linked.scored}
    print(f"[{NAME}] {len(city.registrations)} records; Splink 5 + DuckDB trained and predicted in "
          f"{linked.seconds:.1f}s; {len(blocked)} blocked pairs hold {len(blocked & truth)} of {len(truth)} truth "
          f"pairs")
    near = {frozenset(n["references"]): n["why_not"].split(":")[0] for n in city.truth["near_misses"]
            if n["rule"] == "possible_duplicate_resident"}
    wrong = [near.get(p, "other") for p, m in linked.scored if m >= THRESHOLD and p not in truth]
    print(f"[{NAME}] Splink's wrong pairs at p >= {THRESHOLD}: " + ", ".join(
        f"{wrong.count(k)} {k}" for k in sorted(set(wrong))) + f" (near misses in the truth: {len(near)})")
    print(f"[{NAME}] " + describe(f"frontdoor ({city.source})", ours))
    print(f"[{NAME}] " + describe(f"Splink at p >= {THRESHOLD}", splink))
    print(f"[{NAME}] " + describe(f"Splink at its best threshold p >= {cut} (chosen with the truth)", best))
    return [
        ratio_row(NAME, f"identity-linking F1, frontdoor vs Splink at p >= {THRESHOLD}", ours.f1, splink.f1,
                  "F1", GOAL),
        info_row(NAME, "identity-linking precision, frontdoor vs Splink", ours.precision, "fraction",
                 splink.precision),
        info_row(NAME, "identity-linking recall, frontdoor vs Splink", ours.recall, "fraction", splink.recall),
        info_row(NAME, f"identity-linking F1 vs Splink at its best threshold ({cut}, chosen with the truth)",
                 ours.f1, "F1", best.f1),
        info_row(NAME, "seconds: Splink train + predict (for information)", linked.seconds, "s"),
    ]


if __name__ == "__main__":
    from bench.common import table

    print(table(asyncio.run(run(quick=True))))

