"""How much of a rebuild is done, as its progress bar shows it (frontdoor.rebuild.done_of)."""

from __future__ import annotations

from frontdoor.rebuild import Done, done_of


def test_every_projections_events_count_not_only_the_least_advanced_ones() -> None:
    ends = {"resident_view": 1_000, "caseload": 1_000, "audit_log": 0}
    assert done_of(ends, {"resident_view": 1_000, "caseload": 400, "audit_log": 0}) == Done(1_400, 2_000)


def test_a_projection_with_an_empty_stream_does_not_hold_the_progress_at_zero() -> None:
    assert done_of({"resident_view": 500, "audit_log": 0}, {"resident_view": 250, "audit_log": 0}).applied == 250


def test_a_position_past_the_end_seen_counts_only_up_to_it() -> None:
    """The ends are read first, then the positions: a runner may be past the end read a moment before."""
    assert done_of({"flags": 100}, {"flags": 130}) == Done(100, 100)


def test_a_projection_not_heard_from_counts_as_not_started() -> None:
    assert done_of({"flags": 100, "caseload": 100}, {"caseload": 100}) == Done(100, 200)
