"""Deciding on two records at once: linking, unlinking, and resolving a possible duplicate person by linking.

A link is a fact about both records, so it is written to both (`both_records=True`) in one atomic batch, each
record's part checked against its own last sequence. Pure: both states come in, two lists of events go out
(the first for the record the command names, the second for the other one).
"""

from __future__ import annotations

from events.catalogue import DuplicationResolved, Event, ResidentsLinked, ResidentsUnlinked
from frontdoor.domain import commands as c
from frontdoor.domain.decide import decide
from frontdoor.domain.errors import IllegalStep, InvalidCommand, ResidentNotFound
from frontdoor.domain.state import ResidentState

PairOfEvents = tuple[list[Event], list[Event]]


def decide_pair(command: c.LinkResidents | c.UnlinkResidents | c.ResolveFlag, mine: ResidentState,
                theirs: ResidentState, *, mine_id: str, theirs_id: str) -> PairOfEvents:
    if mine_id == theirs_id:
        raise InvalidCommand("a record cannot be linked to itself", field="other_resident_id")
    if not mine.registered:
        raise ResidentNotFound("no resident is registered with this id")
    if not theirs.registered:
        raise ResidentNotFound(f"no resident {theirs_id}", field="other_resident_id")
    match command:
        case c.LinkResidents():
            return _link(mine, theirs, mine_id, theirs_id, evidence=command.evidence, by=command.decided_by)
        case c.UnlinkResidents():
            if theirs_id not in mine.linked and mine_id not in theirs.linked:
                raise IllegalStep(f"this record is not linked to {theirs_id}")
            # Written to both records even where one of them never said it was linked: a link of version 1
            # was written to one record only, and the other record's view showed it all the same.
            return ([_unlinked(mine_id, theirs_id, command)], [_unlinked(theirs_id, mine_id, command)])
        case c.ResolveFlag():
            resolved = decide(command, mine)  # refuses an unknown or already resolved flag
            mine_events, their_events = _link(mine, theirs, mine_id, theirs_id, evidence=command.note or
                                              f"resolved flag {command.flag_id} as one person", by=command.by,
                                              leave=command.flag_id)
            return [*resolved, *mine_events], their_events
    raise InvalidCommand(f"unknown command {type(command).__name__}")


def _link(mine: ResidentState, theirs: ResidentState, mine_id: str, theirs_id: str, *, evidence: str, by: str,
          leave: str | None = None) -> PairOfEvents:
    def side(state: ResidentState, me: str, other: str) -> list[Event]:
        events: list[Event] = []
        if other not in state.linked:
            events.append(ResidentsLinked(resident_id=me, other_resident_id=other, evidence=evidence, decided_by=by))
        # Linking the two records is the answer to a possible-duplicate flag between them: close it.
        events += [DuplicationResolved(flag_id=flag_id, resolution="linked_records", by=by,
                                       note=f"records linked: {evidence}"[:2000])
                   for flag_id, names in sorted(state.person_flags.items())
                   if other in names and flag_id != leave]
        return events

    return side(mine, mine_id, theirs_id), side(theirs, theirs_id, mine_id)


def _unlinked(me: str, other: str, command: c.UnlinkResidents) -> ResidentsUnlinked:
    return ResidentsUnlinked(resident_id=me, other_resident_id=other, evidence=command.evidence,
                             decided_by=command.decided_by)
