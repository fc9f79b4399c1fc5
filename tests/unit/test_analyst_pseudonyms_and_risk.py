"""What an analyst sees of a person (pseudonyms, age bands, districts) and the people-at-risk score, pure."""

from __future__ import annotations

import hmac

import pytest

from projections.analyst.pseudonyms import Pseudonyms, age_band, postcode_district
from projections.analyst.risk import RiskFacts, score


def test_pseudonyms_are_keyed_stable_and_say_nothing_of_the_id() -> None:
    one, same, other = Pseudonyms(b"k" * 32), Pseudonyms(b"k" * 32), Pseudonyms(b"j" * 32)
    rid = "0196b000-0000-7000-8000-000000000001"
    assert one.of(rid) == same.of(rid) != other.of(rid)
    assert len(one.of(rid)) == 32 and rid not in one.of(rid)
    assert one.of(rid) != one.of(rid[:-1] + "2")
    with pytest.raises(ValueError):
        Pseudonyms(b"short")


@pytest.mark.parametrize("key", [b"k" * 16, bytes(range(32)), b"\xff" * 64, b"q" * 65, bytes(range(200))])
def test_a_pseudonym_is_the_hmac_sha256_of_the_id_under_the_key(key: bytes) -> None:
    pseudonyms = Pseudonyms(key)
    for raw in ("0196b000-0000-7000-8000-000000000001", "worker:Ann Example", "Zoë", ""):
        assert pseudonyms.of(raw) == hmac.digest(key, raw.encode(), "sha256").hex()[:32]
        assert pseudonyms.of(raw) == hmac.digest(key, raw.encode(), "sha256").hex()[:32]  # and once remembered


@pytest.mark.parametrize(("born", "on", "band"), [
    ("2010-05-01", "2026-05-01", "0-17"), ("2008-05-01", "2026-05-01", "18-39"),
    ("1962-05-02", "2026-05-01", "40-64"), ("1961-05-01", "2026-05-01", "65-74"),
    ("1941-12-10", "2026-11-23", "75-84"), ("1941-11-22", "2026-11-23", "85+")])
def test_an_age_band_replaces_the_birth_date(born: str, on: str, band: str) -> None:
    assert age_band(born, on) == band


@pytest.mark.parametrize(("postcode", "district"), [
    ("SO14 7LY", "SO14"), ("so147ly", "SO14"), ("EC1A 1BB", "EC1A"), ("W1A 0AX", "W1A"), ("SO14", "SO14"),
    ("Flat 2, 14 High Street", None), ("", None), (None, None)])
def test_only_the_postcode_district_is_kept_and_anything_else_typed_there_is_dropped(
        postcode: str | None, district: str | None) -> None:
    assert postcode_district(postcode) == district


def test_the_score_adds_capped_points_each_with_its_reason() -> None:
    quiet = score(RiskFacts(teams_involved=1, has_coordinator=True))
    busy = score(RiskFacts(falls_contacts=5, safeguarding_contacts=1, most_contacts_one_need=4,
                           most_contacted_need="housing", long_waits=1, handoffs=2, teams_involved=3, open_flags=1))

    assert quiet.score == 0 and quiet.reasons == ()
    assert busy.score == 9 + 4 + 4 + 3 + 4 + 3 + 2
    assert busy.reasons == ("+9 5 contacts about falls", "+4 1 safeguarding contact", "+4 2 handoffs between teams",
                            "+4 4 contacts about housing", "+3 1 referral waited over 28 days",
                            "+3 no care coordinator with 3 teams involved", "+2 1 open duplicate-work flag")
