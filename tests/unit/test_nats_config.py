"""The generated NATS configuration (DESIGN §9): one account per team importing only its own feed and commands,
passwords kept across runs and never in the configuration itself."""

from __future__ import annotations

import json
import re
from pathlib import Path

import bcrypt
import pytest

from frontdoor.nats_config import (
    AUTH_CONF,
    CREDENTIALS,
    FRONTDOOR_URL,
    SERVER_CONF,
    NatsConfigError,
    team_url,
    write_config,
)


def test_each_team_gets_an_account_that_imports_only_its_own_durable_and_commands(tmp_path: Path) -> None:
    write_config(tmp_path, ["ot-central", "dn-central"], host="127.0.0.1", port=4999)
    auth = (tmp_path / AUTH_CONF).read_text()
    ot = auth[auth.index('"TEAM_ot-central": {'):auth.index('"TEAM_dn-central": {')]
    assert "dn-central" not in ot
    assert re.findall(r'subscribe: \{ allow: (\[.*?\]) \}', ot) == ['["_INBOX_ot-central.>", "_INBOX.>"]']
    allowed = json.loads(re.findall(r'publish: \{ allow: (\[.*?\]) \}', ot)[0])
    assert allowed == ["frontdoor.api.CONSUMER.INFO.TEAMS.team-ot-central",
                       "frontdoor.api.CONSUMER.MSG.NEXT.TEAMS.team-ot-central",
                       "$JS.ACK.TEAMS.team-ot-central.>", "cmd.ot-central.>"]
    assert "jetstream" not in ot  # a team account has no JetStream of its own
    server = (tmp_path / SERVER_CONF).read_text()
    assert 'include "auth.conf"' in server and '"127.0.0.1:4999"' in server
    assert str(tmp_path.resolve()) in server  # the store, absolute


def test_passwords_are_kept_hashed_in_the_config_and_private_on_disk(tmp_path: Path) -> None:
    first = write_config(tmp_path, ["ot-central"], host="127.0.0.1", port=4999)
    auth = (tmp_path / AUTH_CONF).read_text()
    for identity in first.values():
        assert identity.password not in auth
        assert bcrypt.checkpw(identity.password.encode(), identity.bcrypt_hash.encode())
        assert identity.bcrypt_hash in auth
    for name in (AUTH_CONF, SERVER_CONF, FRONTDOOR_URL, CREDENTIALS):
        assert (tmp_path / name).stat().st_mode & 0o077 == 0, name
    again = write_config(tmp_path, ["ot-central", "new-team"], host="127.0.0.1", port=4999, rotate=["frontdoor"])
    assert again["ot-central"] == first["ot-central"]
    assert again["frontdoor"].password != first["frontdoor"].password
    assert (tmp_path / FRONTDOOR_URL).read_text() == f"nats://frontdoor:{again['frontdoor'].password}@127.0.0.1:4999"
    assert team_url(tmp_path, "new-team") == f"nats://new-team:{again['new-team'].password}@127.0.0.1:4999"
    revoked = write_config(tmp_path, ["new-team"], host="127.0.0.1", port=4999)
    assert "ot-central" not in revoked and "ot-central" not in (tmp_path / AUTH_CONF).read_text()


@pytest.mark.parametrize("bad", ["a.b", "*", ">", "a b", "", "x" * 65])
def test_a_team_id_that_cannot_be_a_subject_token_is_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(NatsConfigError):
        write_config(tmp_path, [bad], host="127.0.0.1", port=4999)


def test_unknown_teams_are_refused(tmp_path: Path) -> None:
    write_config(tmp_path, ["ot-central"], host="127.0.0.1", port=4999)
    with pytest.raises(NatsConfigError):
        team_url(tmp_path, "frontdoor")  # not a team
    with pytest.raises(NatsConfigError):
        team_url(tmp_path, "nobody")
    with pytest.raises(NatsConfigError):
        write_config(tmp_path, ["ot-central"], host="127.0.0.1", port=4999, rotate=["nobody"])
