"""The one fold of a resident's events: the document it writes, and what links and unlinks do to both records.

Links: an event changes the record whose stream it is on; a version-1 (one-sided, `both_records=False`) link
or unlink changes the other record as well; unlinking a record that is not linked changes nothing."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from events.catalogue import ContactRecorded, EventSuperseded
from events.envelope import RecordedEvent
from projections.resident_view import ResidentView, apply, fold_into, fold_records, fold_view, touches
from projections.rules import DetectorView, Finding
from tests.unit.fold_story import A, B, Streams, linked, registered, unlinked, varied_history

GOLDEN = Path(__file__).parent / "data" / "resident_view_document.json"


def links_after(streams: Streams) -> dict[str, list[str]]:
    """Each record's links after folding every event onto every view it touches, as the projections do."""
    views: dict[str, ResidentView] = {}
    for recorded in streams.events:
        fold_into(views, recorded, ResidentView)
    return {rid: view.linked_residents for rid, view in sorted(views.items())}


def given(*steps: tuple[str, object]) -> Streams:
    s = Streams()
    s.add(A, registered("Ada"))
    s.add(B, registered("Ada"))
    for resident_id, event in steps:
        s.add(resident_id, event)  # type: ignore[arg-type]
    return s


# The document.


def test_the_typed_fold_writes_the_document_the_dict_fold_wrote() -> None:
    streams = varied_history()

    view = fold_view(A, streams.of(A))

    assert view.document() == orjson.loads(GOLDEN.read_bytes())


def test_a_stored_document_loads_back_to_the_same_view() -> None:
    view = fold_view(A, varied_history().of(A))

    assert ResidentView.load(view.to_json()) == view
    assert ResidentView.load(view.to_json()).to_json() == view.to_json()


def test_a_document_written_after_every_event_is_orjsons_dump_of_the_view_byte_for_byte() -> None:
    """The contacts written before are taken as they were serialised (only new ones are serialised again): after
    every event, for the view, the detector's copy, a view loaded from its document and a copy of the contacts
    list, the document is exactly what a whole dump of the view gives."""
    views: dict[str, ResidentView] = {A: ResidentView(A)}
    copies: dict[str, DetectorView] = {A: DetectorView(A)}
    for recorded in varied_history().of(A):
        for folded in (views, copies):
            fold_into(folded, recorded, type(folded[A]))  # type: ignore[arg-type]
            assert folded[A].to_json() == orjson.dumps(folded[A])
        loaded = ResidentView.load(views[A].to_json())
        assert loaded.to_json() == views[A].to_json()
    view = views[A]
    view.to_json()
    view.contacts = list(view.contacts[:1])  # a new list, shorter: nothing of the old one may be reused
    assert view.to_json() == orjson.dumps(view)
    assert b'"findings"' in copies[A].to_json() and copies[A].to_json() == orjson.dumps(copies[A])


def test_the_detectors_copy_is_the_view_plus_what_it_found_and_loads_back() -> None:
    streams = varied_history()
    copy = DetectorView(A)
    for recorded in streams.of(A):
        apply(copy, recorded)
    copy.remember(Finding("tell_my_story_again", "medium", ("call-1", "call-2"), "…", identity=("housing", "call-1")))

    document = orjson.loads(copy.to_json())

    assert document.pop("findings") == [{"rule": "tell_my_story_again", "references": ["call-1", "call-2"],
                                         "identity": ["housing", "call-1"]}]
    assert document == fold_view(A, streams.of(A)).document()
    assert DetectorView.load(copy.to_json()) == copy


def test_a_detector_document_written_before_it_remembered_anything_loads_with_no_findings() -> None:
    document = fold_view(B, given().of(B)).document()  # no "findings" key: a record only ever linked to

    assert DetectorView.from_document(document).findings == []


# Links and unlinks.


def test_a_one_sided_link_links_both_records() -> None:
    assert links_after(given((A, linked(A, B, both_records=False)))) == {A: [B], B: [A]}


def test_a_link_written_to_both_records_changes_only_its_own_stream_record() -> None:
    assert links_after(given((A, linked(A, B)))) == {A: [B], B: []}
    assert links_after(given((A, linked(A, B)), (B, linked(B, A)))) == {A: [B], B: [A]}


def test_a_one_sided_unlink_from_the_other_record_unlinks_both() -> None:
    story = given((A, linked(A, B, both_records=False)), (B, unlinked(B, A, both_records=False)))

    assert links_after(story) == {A: [], B: []}


def test_an_unlink_written_to_both_records_changes_only_its_own_stream_record() -> None:
    both_linked = ((A, linked(A, B)), (B, linked(B, A)))

    assert links_after(given(*both_linked, (B, unlinked(B, A)))) == {A: [B], B: []}
    assert links_after(given(*both_linked, (B, unlinked(B, A)), (A, unlinked(A, B)))) == {A: [], B: []}


def test_old_one_sided_links_and_new_two_sided_unlinks_fold_together() -> None:
    story = given((A, linked(A, B, both_records=False)), (B, unlinked(B, A)), (A, unlinked(A, B)),
                  (B, linked(B, A)), (A, linked(A, B)))

    assert links_after(story) == {A: [B], B: [A]}


def test_unlinking_a_record_that_is_not_linked_changes_nothing_but_the_version() -> None:
    story = given()
    before = fold_view(A, story.of(A))
    story.add(A, unlinked(A, B, both_records=False))

    after = fold_view(A, story.of(A))

    assert after.linked_residents == [] and after.version == story.events[-1].seq
    after.version, after.updated_at = before.version, before.updated_at
    assert after == before
    assert links_after(story) == {A: [], B: []}


def test_a_one_sided_link_does_not_move_the_other_records_version() -> None:
    story = given((A, linked(A, B, both_records=False)))
    views: dict[str, ResidentView] = {}
    for recorded in story.events:
        fold_into(views, recorded, ResidentView)

    assert views[B].version == 2 and views[A].version == 3  # B's own registration, A's link


def test_an_event_cannot_be_folded_onto_a_record_it_does_not_touch() -> None:
    story = given((A, linked(A, B)))

    assert touches(story.events[-1]) == (A,)
    with pytest.raises(ValueError, match="does not change"):
        apply(ResidentView(B), story.events[-1])


def test_records_folded_together_see_each_others_one_sided_links() -> None:
    story = given((A, linked(A, B, both_records=False)))

    alone = fold_view(B, story.of(B))
    together = fold_records({A: story.of(A), B: story.of(B)})

    assert alone.linked_residents == []  # B's own stream does not say it
    assert together[B].linked_residents == [A] and together[A].linked_residents == [B]


def test_an_operators_superseded_mark_changes_nothing_in_the_view() -> None:
    story = given()
    story.add(A, ContactRecorded(contact_id="c1", channel="phone", caller={"relationship": "self"},  # type: ignore[arg-type]
                                 outcome="advice"))
    before = fold_view(A, story.of(A))
    mark: RecordedEvent = story.add(A, EventSuperseded(sequence=3, reason="unreadable"))

    after = fold_view(A, story.of(A))

    assert (after.version, after.updated_at) == (mark.seq, mark.envelope.occurred_at.isoformat().replace("+00:00", "Z"))
    after.version, after.updated_at = before.version, before.updated_at
    assert after == before
