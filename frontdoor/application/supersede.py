"""Use case: an operator marks a message on a resident's subject as superseded (issue 9). A message this release
cannot read made every command on the resident and every `as_of` fail; once marked, folds skip it and the
resident works again. Nothing is deleted: the mark is an event (`EventSuperseded`) on the same subject."""

from __future__ import annotations

from events.catalogue import EventSuperseded
from events.codec import wrap
from events.errors import ConcurrencyConflict
from events.subjects import resident_subject
from frontdoor.application.answers import Answer
from frontdoor.application.commanding import now
from frontdoor.application.idempotency import new_id, once
from frontdoor.application.who import Asked, Principal
from frontdoor.domain.errors import TooManyConflicts, WorkNotFound
from frontdoor.handling import attempts
from frontdoor.services import Services


async def supersede_event(services: Services, who: Principal, asked: Asked, resident_id: str, seq: int,
                          reason: str) -> Answer:
    async def run() -> Answer:
        found = await services.store.message(seq)
        if found is None or found[0] != resident_subject(resident_id):
            raise WorkNotFound(f"no message at stream sequence {seq} on this resident's subject", field="seq")
        event = EventSuperseded(sequence=seq, reason=reason)
        envelope = wrap(event, event_id=new_id("event", who, asked.idempotency), resident_id=resident_id,
                        actor=who.actor, occurred_at=now(), correlation_id=asked.correlation_id)
        # Not through `decide`: the resident's history cannot be folded until this is written.
        for _ in attempts(services.settings.command_retries, services.settings.command_patience_s):
            last = await services.store.last_subject_seq(resident_id)
            try:
                result = await services.store.append(resident_id, [envelope], expected_seq=last)
            except ConcurrencyConflict:
                continue
            services.states.forget(resident_id)
            return Answer({"resident_id": resident_id, "superseded": seq, "seq": result.seq}, 201)
        raise TooManyConflicts(f"resident {resident_id} kept changing; try again")

    return await once(services.idempotency, who, asked.idempotency, run)
