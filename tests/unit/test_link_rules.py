"""Links are facts about two records: decided on both at once, written to both (issue 10).

    given(mine=[…], theirs=[…]).when(LinkResidents(…)).then(mine=[…], theirs=[…])
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import reduce

import pytest

from events.catalogue import (
    DuplicationFlagged,
    DuplicationResolved,
    Event,
    ResidentRegistered,
    ResidentsLinked,
    ResidentsUnlinked,
)
from frontdoor.domain import commands as c
from frontdoor.domain.errors import DomainError, IllegalStep, InvalidCommand, ResidentNotFound, WorkNotFound
from frontdoor.domain.evolve import evolve
from frontdoor.domain.links import decide_pair
from frontdoor.domain.state import INITIAL_STATE

AT = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
A, B = "r-a", "r-b"
ADA = ResidentRegistered(given_name="Ada", family_name="Lovelace", date_of_birth=date(1941, 12, 10),
                         postcode="SO14 7LY")
ADDIE = ResidentRegistered(given_name="Addie", family_name="Lovelace", date_of_birth=date(1941, 12, 10),
                           postcode="SO14 7LY")


def linked(me: str, other: str, *, both: bool = True) -> ResidentsLinked:
    return ResidentsLinked(resident_id=me, other_resident_id=other, evidence="same person", decided_by="admin-1",
                           both_records=both)


def unlinked(me: str, other: str) -> ResidentsUnlinked:
    return ResidentsUnlinked(resident_id=me, other_resident_id=other, evidence="not the same", decided_by="admin-1")


LINK = c.LinkResidents(at=AT, resident_id=A, other_resident_id=B, evidence="same person", decided_by="admin-1")
LINK_FROM_B = LINK.model_copy(update={"resident_id": B, "other_resident_id": A})
UNLINK_FROM_B = c.UnlinkResidents(at=AT, resident_id=B, other_resident_id=A, evidence="not the same",
                                  decided_by="admin-1")
PERSON_FLAG = DuplicationFlagged(flag_id="flag-6", rule="possible_duplicate_resident", severity="medium",
                                 references=[B, A], explanation="Addie may be Ada")


@dataclass(frozen=True)
class When:
    mine: list[Event]
    theirs: list[Event]
    command: c.LinkResidents | c.UnlinkResidents | c.ResolveFlag

    def _decide(self) -> tuple[list[Event], list[Event]]:
        me = getattr(self.command, "resident_id", A)
        other = getattr(self.command, "other_resident_id", B if me == A else A)
        return decide_pair(self.command, reduce(evolve, self.mine, INITIAL_STATE),
                           reduce(evolve, self.theirs, INITIAL_STATE), mine_id=me, theirs_id=other)

    def then(self, *, mine: list[Event], theirs: list[Event]) -> None:
        assert self._decide() == (mine, theirs)

    def then_raises(self, error: type[DomainError]) -> DomainError:
        with pytest.raises(error) as raised:
            self._decide()
        return raised.value


@dataclass(frozen=True)
class Given:
    mine: list[Event]
    theirs: list[Event]

    def when(self, command: c.LinkResidents | c.UnlinkResidents | c.ResolveFlag) -> When:
        return When(self.mine, self.theirs, command)


def given(*, mine: list[Event], theirs: list[Event]) -> Given:
    return Given(mine, theirs)


def test_a_link_is_written_to_both_records() -> None:
    given(mine=[ADA], theirs=[ADDIE]).when(LINK).then(mine=[linked(A, B)], theirs=[linked(B, A)])


def test_linking_again_from_the_other_side_writes_nothing() -> None:
    given(mine=[ADDIE, linked(B, A)], theirs=[ADA, linked(A, B)]).when(LINK_FROM_B).then(mine=[], theirs=[])


def test_a_one_sided_v1_link_is_completed_on_the_record_that_lacks_it() -> None:
    given(mine=[ADDIE], theirs=[ADA, linked(A, B, both=False)]).when(LINK_FROM_B).then(
        mine=[linked(B, A)], theirs=[])


def test_either_record_can_unlink_and_the_unlink_is_written_to_both() -> None:
    given(mine=[ADDIE, linked(B, A)], theirs=[ADA, linked(A, B)]).when(UNLINK_FROM_B).then(
        mine=[unlinked(B, A)], theirs=[unlinked(A, B)])


def test_a_v1_link_on_the_other_record_only_can_be_unlinked_from_this_one() -> None:
    given(mine=[ADDIE], theirs=[ADA, linked(A, B, both=False)]).when(UNLINK_FROM_B).then(
        mine=[unlinked(B, A)], theirs=[unlinked(A, B)])


def test_unlinking_records_that_are_not_linked_is_refused() -> None:
    given(mine=[ADDIE], theirs=[ADA]).when(UNLINK_FROM_B).then_raises(IllegalStep)


def test_a_record_cannot_be_linked_to_itself() -> None:
    error = given(mine=[ADA], theirs=[ADA]).when(LINK.model_copy(update={"other_resident_id": A})).then_raises(
        InvalidCommand)
    assert error.field == "other_resident_id"


def test_linking_to_a_record_that_does_not_exist_names_the_other_record() -> None:
    error = given(mine=[ADA], theirs=[]).when(LINK).then_raises(ResidentNotFound)
    assert error.field == "other_resident_id"


def test_linking_two_records_closes_the_possible_duplicate_flag_between_them() -> None:
    closed = DuplicationResolved(flag_id="flag-6", resolution="linked_records", by="admin-1",
                                 note="records linked: same person")
    given(mine=[ADA], theirs=[ADDIE, PERSON_FLAG]).when(LINK).then(
        mine=[linked(A, B)], theirs=[linked(B, A), closed])


def test_resolving_the_flag_as_linked_records_resolves_it_and_links_both_in_one_decision() -> None:
    resolve = c.ResolveFlag(at=AT, flag_id="flag-6", resolution="linked_records", by="coord-1", note="one person")
    when = given(mine=[ADDIE, PERSON_FLAG], theirs=[ADA]).when(resolve)
    mine, theirs = decide_pair(resolve, reduce(evolve, when.mine, INITIAL_STATE),
                               reduce(evolve, when.theirs, INITIAL_STATE), mine_id=B, theirs_id=A)
    assert mine == [DuplicationResolved(flag_id="flag-6", resolution="linked_records", by="coord-1",
                                        note="one person"),
                    ResidentsLinked(resident_id=B, other_resident_id=A, evidence="one person", decided_by="coord-1")]
    assert theirs == [ResidentsLinked(resident_id=A, other_resident_id=B, evidence="one person",
                                      decided_by="coord-1")]


def test_resolving_an_unknown_flag_by_linking_is_refused() -> None:
    resolve = c.ResolveFlag(at=AT, flag_id="nope", resolution="linked_records", by="coord-1")
    with pytest.raises(WorkNotFound):
        decide_pair(resolve, reduce(evolve, [ADDIE], INITIAL_STATE), reduce(evolve, [ADA], INITIAL_STATE),
                    mine_id=B, theirs_id=A)
