"""Possible duplicate residents (DESIGN §5, rule 6): the same person registered again, imperfectly, scores at
least the threshold; twins, spouses and people with different NHS numbers score below it; and blocking puts a
re-registration with day and month swapped in front of the original at all."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from projections.people_matching import Person, blocking_keys, date_similarity, given_similarity, probe_keys, score
from projections.rules import Thresholds

MATCH = Thresholds().person_match

MARGARET = Person(resident_id="resident-1", given_name="Margaret", family_name="Thompson",
                  date_of_birth=date(1941, 3, 7), postcode="SO15 2JP", nhs_number="9434765919")


def registered_again(*, given_name: str = MARGARET.given_name, family_name: str = MARGARET.family_name,
                     date_of_birth: date = MARGARET.date_of_birth, postcode: str = MARGARET.postcode) -> Person:
    """Margaret at the front door again, with no NHS number to hand (so nothing proves who she is)."""
    return Person("resident-2", given_name, family_name, date_of_birth, postcode, nhs_number=None)


# The same person, registered again


@pytest.mark.parametrize(
    "again",
    [
        registered_again(),
        registered_again(given_name="Peggy"),
        registered_again(given_name="Margret"),
        registered_again(family_name="Tompson"),
        registered_again(date_of_birth=date(1941, 7, 3)),
        registered_again(postcode="SO50 9NT"),
        registered_again(given_name="Peggy", date_of_birth=date(1941, 7, 3), postcode="SO50 9NT"),
        registered_again(given_name="Madge", date_of_birth=date(1914, 3, 7)),
        registered_again(given_name="M"),
        registered_again(given_name="Marg", date_of_birth=date(1941, 3, 17)),
    ],
    ids=["missing NHS number", "nickname", "typo in given name", "typo in family name", "day and month swapped",
         "moved house", "nickname, swapped date and moved house", "nickname, year's digits swapped", "initial",
         "name cut short, day mistyped"],
)
def test_the_same_person_registered_again_is_a_possible_duplicate(again: Person) -> None:
    assert score(MARGARET, again) >= MATCH
    assert score(again, MARGARET) == score(MARGARET, again)


def test_a_nickname_is_a_close_given_name_both_ways() -> None:
    assert given_similarity("Margaret", "Peggy") == given_similarity("peggy", "MARGARET") == 0.95


@pytest.mark.parametrize(("full", "short"), [
    ("Valerie", "Val"), ("Catherine", "Kate"), ("Katherine", "Kath"), ("Gwendoline", "Gwen"), ("Josephine", "Jo"),
    ("Reginald", "Reg"), ("Alfred", "Alf"), ("Mildred", "Millie"), ("Florence", "Flossie"), ("Rosemary", "Rosie"),
])
def test_nicknames_and_names_cut_short_outside_any_hand_written_table_are_close_given_names(full: str,
                                                                                          short: str) -> None:
    assert given_similarity(full, short) >= 0.9
    assert given_similarity(short.upper(), full) == given_similarity(full, short)


def test_an_initial_is_a_close_given_name_only_with_the_whole_birth_date() -> None:
    assert given_similarity("J", "John") == given_similarity("john", "j.") >= 0.85
    assert given_similarity("J", "Mary") == 0.0
    john = replace(MARGARET, given_name="John", nhs_number=None)
    initial = replace(john, resident_id="resident-2", given_name="J")
    assert score(john, initial) >= MATCH
    assert score(john, replace(initial, date_of_birth=date(1941, 3, 17))) < MATCH  # and a mistyped day: too little


def test_day_and_month_swapped_is_a_close_date_of_birth() -> None:
    assert date_similarity(date(1941, 3, 7), date(1941, 7, 3)) == 0.9
    assert date_similarity(date(1941, 3, 7), date(1941, 3, 8)) == 0.75  # one part mistyped
    assert date_similarity(date(1941, 3, 7), date(1938, 11, 20)) == 0.0


# Different people who look alike


def test_twins_with_different_given_names_are_not_a_duplicate() -> None:
    twin = registered_again(given_name="Elizabeth")
    assert score(MARGARET, twin) < MATCH


@pytest.mark.parametrize(("one", "other"), [("John", "Joan"), ("Daniel", "Danielle"), ("Gerald", "Geraldine"),
                                            ("Denis", "Denise"), ("Carl", "Carly"), ("Paul", "Pauline"),
                                            ("Marcus", "Marie"), ("Robert", "Rosie"), ("Ross", "Rosie")])
def test_twins_with_similar_given_names_are_not_a_duplicate(one: str, other: str) -> None:
    first = replace(MARGARET, given_name=one, nhs_number=None)
    twin = replace(first, resident_id="resident-2", given_name=other)
    assert score(first, twin) < MATCH


def test_spouses_at_one_address_are_not_a_duplicate() -> None:
    # As alike as spouses get: born a fortnight apart, given names that share a start.
    spouse = registered_again(given_name="Mark", date_of_birth=date(1941, 3, 21))
    assert score(MARGARET, spouse) < MATCH


def test_people_with_different_nhs_numbers_are_not_a_duplicate_however_alike() -> None:
    namesake = replace(MARGARET, resident_id="resident-2", nhs_number="9434765870")
    assert score(MARGARET, namesake) < MATCH


# Blocking: who is compared with whom at all


def test_a_re_registration_with_day_and_month_swapped_is_compared_with_the_original() -> None:
    # She moved district and her surname was mistyped (another sound), so only the swapped date can find her.
    again = registered_again(family_name="Tompson", date_of_birth=date(1941, 7, 3), postcode="SO50 9NT")

    assert blocking_keys(again) & blocking_keys(MARGARET) == set()
    assert probe_keys(again) & blocking_keys(MARGARET) == {"dob:1941-03-07"}
    assert score(MARGARET, again) >= MATCH


def test_a_re_registration_with_the_years_digits_swapped_is_compared_with_the_original() -> None:
    # 1941 typed as 1914, and nothing else in common with the original's blocks but the family name's sound.
    again = registered_again(given_name="Peggy", date_of_birth=date(1914, 3, 7), postcode="SO50 9NT")

    assert blocking_keys(again) & blocking_keys(MARGARET) == set()
    assert probe_keys(again) & blocking_keys(MARGARET) == {"fam:0MPSN:1941"}
    assert score(MARGARET, again) >= MATCH
