"""The tell-my-story window found by bisection is the one a plain scan of every window finds."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from projections.rules import Thresholds, _run_of_calls, when
from projections.view_parts import Caller, Contact

LIMITS = Thresholds()


def scan(contacts: list[Contact], need: str, contact_id: str, at: datetime) -> list[Contact]:
    """The rule as first written (but in time order): every candidate start, every call."""
    span = timedelta(days=LIMITS.story_days)
    about = sorted((c for c in contacts if need in c.needs), key=lambda c: (when(c.at), c.contact_id))
    for first in about:
        start = when(first.at)
        if not at - span <= start <= at:
            continue
        inside = [c for c in about if start <= when(c.at) <= start + span]
        if len(inside) >= LIMITS.story_contacts and any(c.contact_id == contact_id for c in inside):
            return inside
    return []


@pytest.mark.parametrize("seed", range(40))
def test_bisection_finds_the_same_window_as_a_scan(seed: int) -> None:
    rng = random.Random(seed)
    base = datetime(2026, 9, 1, tzinfo=UTC)
    contacts = []
    for n in range(rng.randint(0, 40)):
        at = base + timedelta(days=rng.choice([rng.randint(0, 90), rng.randint(0, 5)]), hours=rng.randint(0, 3),
                              microseconds=rng.choice([0, 0, 500_000]))  # with and without a fraction
        contacts.append(Contact(f"c{rng.randint(0, 10**6):07d}-{n}", "phone", Caller("self", None, None),
                                rng.sample(["housing", "falls"], rng.randint(0, 2)), "routine", False, "", "advice",
                                at.isoformat().replace("+00:00", "Z"), "t"))
    for contact in contacts:
        for need in ("housing", "falls"):
            # The event's own time may differ from the call's (typed up late): try both.
            for at in (when(contact.at), when(contact.at) + timedelta(days=rng.randint(0, 20))):
                assert _run_of_calls(contacts, need, contact.contact_id, at, LIMITS) == \
                    scan(contacts, need, contact.contact_id, at)
