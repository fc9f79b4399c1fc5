"""Verified tokens are kept to spare the signature check, never to let a token through that would now fail."""

from __future__ import annotations

import time

import pytest

from frontdoor.api import auth
from frontdoor.api.auth import issue_token, verify_token
from frontdoor.api.problems import Problem

SECRET = "unit-secret-0123456789abcdef0123456789"


def test_a_kept_token_is_refused_once_it_expires() -> None:
    token = issue_token(SECRET, sub="ann", role="call_handler", ttl_s=1)
    assert verify_token(SECRET, token).sub == "ann"  # verified and kept
    assert (SECRET, token) in auth._verified
    expires = auth._verified[SECRET, token][1]
    time.sleep(max(0.0, expires - time.time()) + 0.05)
    with pytest.raises(Problem) as refused:
        verify_token(SECRET, token)
    assert refused.value.status == 401 and refused.value.code == "token-expired"


def test_a_kept_token_is_not_accepted_under_another_secret_or_altered() -> None:
    token = issue_token(SECRET, sub="ann", role="coordinator")
    verify_token(SECRET, token)
    with pytest.raises(Problem):
        verify_token("another-secret-0123456789abcdef01234567", token)
    head, payload, signature = token.split(".")
    with pytest.raises(Problem):
        verify_token(SECRET, f"{head}.{payload}.{signature[:-2]}AA")


def test_the_kept_tokens_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "VERIFIED_KEPT", 3)
    monkeypatch.setattr(auth, "_verified", {})
    for i in range(10):
        verify_token(SECRET, issue_token(SECRET, sub=f"user-{i}", role="analyst"))
    assert len(auth._verified) == 3
