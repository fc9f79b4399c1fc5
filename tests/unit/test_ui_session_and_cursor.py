"""The pages' signed session and the lists' cursors: what is altered, stale or another's is refused."""

from __future__ import annotations

import base64
import time

import orjson
import pytest

from frontdoor.application import paging
from frontdoor.application.who import Principal
from frontdoor.domain.errors import InvalidCommand
from frontdoor.teams import load_teams
from frontdoor.ui import session
from frontdoor.ui.glance import timeline

SECRET = "unit-secret-0123456789abcdef0123456789"
WHO = Principal("ch-1", "call_handler")


def test_a_sealed_session_opens_with_its_secret_only() -> None:
    value, max_age = session.seal(SECRET, WHO, token_exp=int(time.time()) + 60)
    opened = session.unseal(SECRET, value)
    assert opened is not None and opened.principal == WHO and 0 < max_age <= 60
    assert session.unseal("another-secret-0123456789abcdef012345", value) is None


def test_an_altered_session_is_no_session() -> None:
    value, _ = session.seal(SECRET, WHO, token_exp=int(time.time()) + 60)
    body, mac = value.split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raised = base64.urlsafe_b64encode(orjson.dumps(claims | {"role": "admin"})).rstrip(b"=").decode()
    assert session.unseal(SECRET, f"{raised}.{mac}") is None
    assert session.unseal(SECRET, value + "x") is None
    assert session.unseal(SECRET, "not a session") is None


def test_a_session_lasts_no_longer_than_its_token_or_a_shift() -> None:
    value, _ = session.seal(SECRET, WHO, token_exp=int(time.time()) - 1)
    assert session.unseal(SECRET, value) is None
    _, max_age = session.seal(SECRET, WHO, token_exp=int(time.time()) + 10 * 24 * 3600)
    assert max_age <= session.SESSION_S


def test_each_session_has_its_own_csrf_token() -> None:
    a = session.unseal(SECRET, session.seal(SECRET, WHO, token_exp=int(time.time()) + 60)[0])
    b = session.unseal(SECRET, session.seal(SECRET, WHO, token_exp=int(time.time()) + 60)[0])
    assert a is not None and b is not None
    assert session.csrf_for(SECRET, a.sid) != session.csrf_for(SECRET, b.sid)


def test_a_cursor_is_read_back_only_by_its_own_list() -> None:
    cursor = paging.encode("flags", {"after": [12, "f-1"]})
    assert paging.key_of(paging.decode("flags", cursor)["after"], 2) == (12, "f-1")  # type: ignore[index]
    for wrong in ("caseload", "residents"):
        with pytest.raises(InvalidCommand):
            paging.decode(wrong, cursor)
    for junk in ("%%%", "bm90IGpzb24", base64.urlsafe_b64encode(b"[1,2]").decode()):
        with pytest.raises(InvalidCommand):
            paging.decode("flags", junk)
    with pytest.raises(InvalidCommand):
        paging.key_of([{"x": 1}, "a"], 2)


def test_the_timeline_merges_every_kind_of_work_newest_first() -> None:
    view = {
        "contacts": [{"at": "2026-11-01T09:00:00Z", "channel": "phone", "caller": {"relationship": "self"},
                      "needs": ["housing"], "summary": "", "recorded_by": "ch"}],
        "referrals": [{"need": "housing", "history": [
            {"step": "made", "team": "housing-central", "at": "2026-11-01T09:05:00Z"},
            {"step": "accepted", "team": "housing-central", "at": "2026-11-03T10:00:00Z"}]}],
        "assessments": [{"kind": "housing", "team": "housing-central", "started_at": "2026-11-02T10:00:00Z",
                         "completed_at": None, "outcome": None, "record": "other"}],
    }
    moments = timeline(view, load_teams(None))
    assert [m.kind for m in moments] == ["accepted", "assessment_started", "made", "contact"]
    assert moments[1].linked and not moments[0].linked
