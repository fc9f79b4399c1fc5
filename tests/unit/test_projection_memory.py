"""What projections keep in memory between batches: recent documents (as JSON text) and decoded events."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from events.catalogue import Caller, ContactRecorded
from events.codec import encode, wrap
from events.envelope import Actor
from projections.decoded_events import DecodedEvents
from projections.recent_documents import RecentDocuments


def test_documents_come_back_as_last_kept_parsed_or_from_their_text() -> None:
    recent = RecentDocuments(orjson.loads, capacity=10, parsed=1)
    first, second = {"contacts": [1]}, {"contacts": [2]}
    recent.keep({"r1": first}, {"r1": '{"contacts":[1]}'})
    recent.keep({"r2": second}, {"r2": '{"contacts":[2]}'})  # r1 leaves the parsed tier, its text stays

    found, missing = recent.take(["r1", "r2", "r3"])

    assert missing == {"r3"}
    assert found["r2"] is second  # the most recent: not parsed again
    assert found["r1"] == first and found["r1"] is not first  # parsed from the text that was written
    found["r1"]["contacts"].append(9)  # changed but never kept again (its transaction failed, say)
    assert recent.take(["r1"])[0] == {"r1": {"contacts": [1]}}


def test_the_oldest_documents_go_first_and_forget_drops_them_all() -> None:
    recent = RecentDocuments(orjson.loads, capacity=2, parsed=0)
    recent.keep({}, {"a": "{}", "b": "{}"})
    recent.take(["a"])
    recent.keep({}, {"a": '{"v":2}', "c": "{}"})  # a was written again: b is now the oldest

    assert recent.take(["a", "b", "c"]) == ({"a": {"v": 2}, "c": {}}, {"b"})
    recent.keep({"d": {"v": 4}}, {"d": '{"v":4}'})
    recent.forget()
    assert len(recent) == 0 and recent.take(["a", "d"]) == ({}, {"a", "d"})


def _payload(n: int) -> bytes:
    event = ContactRecorded(contact_id=f"c{n}", channel="phone", caller=Caller(relationship="self"), needs=[],
                            summary="call", outcome="advice")
    data, _headers = encode(wrap(event, event_id=f"e{n}", resident_id="r1", actor=Actor(id="a", role="call_handler"),
                                 occurred_at=datetime(2026, 11, 23, tzinfo=UTC), correlation_id="c"))
    return data


def test_an_event_is_decoded_once_per_stream_and_sequence() -> None:
    decoded = DecodedEvents(capacity=2)

    first = decoded.get("CARE", 1, _payload(1))
    again = decoded.get("CARE", 1, _payload(1))
    other_stream = decoded.get("AUDIT", 1, _payload(1))

    assert again is first and other_stream is not first
    assert decoded.decoded == 2
    assert first.seq == 1 and isinstance(first.event, ContactRecorded) and first.event.contact_id == "c1"
    decoded.get("CARE", 2, _payload(2))  # over capacity: the oldest goes
    assert decoded.get("CARE", 1, _payload(1)) is not first and decoded.decoded == 4
