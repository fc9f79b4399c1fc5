"""The NATS server configuration that keeps teams apart (DESIGN §9 "NATS security").

One account per team, not users with permissions in one shared account. In a shared account a team's request may
name any reply subject, and whatever answers it (the JetStream API, a pull consumer delivering messages, our own
command replies) publishes into the account where the streams listen: a reply addressed to `care.<id>` would be
stored in CARE. An account of its own has no streams and sees only what it imports, and every reply that crosses
back is remapped by the server (`_R_.…`), so no request of a team can write into ours. Inside its account the
team's user also has subject permissions, so a forbidden publish or subscribe is refused outright (a permissions
violation) rather than going nowhere.

What each team account imports from FRONTDOOR (the account holding the streams), and nothing else:
- `$JS.API.CONSUMER.INFO.TEAMS.team-<id>`: clients look their durable up before pulling from it;
- `$JS.API.CONSUMER.MSG.NEXT.TEAMS.team-<id>` (a streamed response: one pull gives several messages);
- `$JS.ACK.TEAMS.team-<id>.>`: acknowledgements of what that durable delivered;
- `cmd.<id>.>`: its own commands, answered by the front door (request-reply).
The durable is created by the front door (filter `team.<id>.>`): a team can create no consumer at all.

Replies reach a team on its inboxes, the only subjects it may subscribe to: `_INBOX_<id>.>` (the prefix we advise:
nats-py `inbox_prefix=`, FastStream `NatsBroker(inbox_prefix=…)`) or the default `_INBOX.>`, harmless in an account
of its own. The JetStream API prefix `frontdoor.api` is required: the team account's own `$JS.API.>` answers
"JetStream not enabled for account" before any import could.

Passwords are random (`secrets.token_urlsafe`) and kept in `credentials.json` (mode 0600) beside the config, which
is what `frontdoor team-credentials` reads. The configuration itself holds only bcrypt hashes, so `auth.conf` can
be mounted into every node of a cluster without handing out anyone's password.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import bcrypt

FRONTDOOR_ACCOUNT = "FRONTDOOR"
FRONTDOOR_USER = "frontdoor"
SERVER_CONF = "nats-server.conf"
AUTH_CONF = "auth.conf"
FRONTDOOR_URL = "frontdoor.url"
CREDENTIALS = "credentials.json"
# 10 rounds: about 50 ms a check, paid once per connection by the server; hashes are kept, not recomputed.
BCRYPT_ROUNDS = 10
# A team id becomes one subject token and part of account, user and consumer names: nothing else allowed.
TEAM_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class NatsConfigError(ValueError):
    pass


def team_account(team_id: str) -> str:
    return f"TEAM_{team_id}"


def team_durable(team_id: str) -> str:
    return f"team-{team_id}"


def team_inbox_prefix(team_id: str) -> str:
    return f"_INBOX_{team_id}"


def team_inboxes(team_id: str) -> list[str]:
    """What a team may subscribe to: replies and pulled messages. The plain `_INBOX.>` too: in an account of its own
    nobody else's replies pass there, and a client with default settings can then send commands."""
    return [f"{team_inbox_prefix(team_id)}.>", "_INBOX.>"]


# The JetStream API prefix a team client sets (nats-py `nc.jetstream(prefix=…)`, FastStream
# `NatsBroker(js_options={"prefix": …})`): the team account's own `$JS.API.>` answers "JetStream not enabled".
TEAM_API_PREFIX = "frontdoor.api"
TEAMS = "TEAMS"


@dataclass(frozen=True)
class Identity:
    user: str
    password: str
    bcrypt_hash: str


def _new_identity(user: str) -> Identity:
    password = secrets.token_urlsafe(32)  # URL-safe: it goes into nats://user:password@host URLs as it is
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS, prefix=b"2a")).decode()
    return Identity(user=user, password=password, bcrypt_hash=hashed)


def load_identities(folder: Path) -> dict[str, Identity]:
    """The stored identities: `frontdoor` and one per team id."""
    try:
        stored = json.loads((folder / CREDENTIALS).read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise NatsConfigError(f"cannot read {folder / CREDENTIALS}: {exc}") from exc
    return {name: Identity(**fields) for name, fields in stored.items()}


def ensure_identities(folder: Path, team_ids: Iterable[str], *, rotate: Iterable[str] = ()) -> dict[str, Identity]:
    """Keeps every stored password (a restart must not lock teams out), makes one for each new team and for each
    name in `rotate`, and forgets teams no longer in the directory (revoked)."""
    ids = list(team_ids)
    for team_id in ids:
        if not TEAM_ID.match(team_id):
            raise NatsConfigError(f"team id {team_id!r} cannot name a NATS account (letters, digits, - and _ only)")
    stored = load_identities(folder)
    renew = set(rotate)
    unknown = renew - set(ids) - {FRONTDOOR_USER}
    if unknown:
        raise NatsConfigError(f"no team {', '.join(sorted(unknown))} in the directory")
    identities: dict[str, Identity] = {}
    for name in [FRONTDOOR_USER, *ids]:
        kept = stored.get(name)
        identities[name] = kept if kept is not None and name not in renew else _new_identity(name)
    _write_private(folder / CREDENTIALS, json.dumps({n: vars(i) for n, i in identities.items()}, indent=1))
    return identities


def _write_private(path: Path, text: str) -> None:
    """Whole or not at all, and never readable by others, even for a moment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    descriptor = os.open(temporary, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)
    temporary.replace(path)


def _quoted(value: str) -> str:
    return json.dumps(value)  # a NATS config string is a JSON string


def _list(values: Iterable[str]) -> str:
    return "[" + ", ".join(_quoted(v) for v in values) + "]"


def team_imports(team_id: str) -> list[tuple[str, str]]:
    """(subject in FRONTDOOR, subject in the team's account) for what a team account imports: look-up of and
    pulls from its durable, acknowledgements of what that durable delivered, and its own commands."""
    durable = team_durable(team_id)
    return [
        (durable_info_export(team_id), f"{TEAM_API_PREFIX}.CONSUMER.INFO.{TEAMS}.{durable}"),
        (f"$JS.API.CONSUMER.MSG.NEXT.{TEAMS}.{durable}", f"{TEAM_API_PREFIX}.CONSUMER.MSG.NEXT.{TEAMS}.{durable}"),
        (f"$JS.ACK.{TEAMS}.{durable}.>", f"$JS.ACK.{TEAMS}.{durable}.>"),
        (f"cmd.{team_id}.>", f"cmd.{team_id}.>"),
    ]


def durable_info_export(team_id: str) -> str:
    """Where a team's look-ups of its durable arrive in FRONTDOOR. The JetStream API answers a request for the
    account it came from, and team accounts have no JetStream ("JetStream not enabled for account"), so the front
    door answers these itself (frontdoor/team_durables.py) with the durable's consumer info."""
    return f"frontdoor.durable-info.{team_id}"


def render_auth(identities: dict[str, Identity]) -> str:
    teams = [name for name in identities if name != FRONTDOOR_USER]
    frontdoor = identities[FRONTDOOR_USER]
    exports = []
    imports = []
    for team_id in teams:
        account = _quoted(team_account(team_id))
        for exported, local in team_imports(team_id):
            # A pull answers one request with many messages: the response is a stream, not a single reply.
            streamed = ", response_type: stream" if ".MSG.NEXT." in exported else ""
            exports.append(f"      {{ service: {_quoted(exported)}, accounts: [{account}]{streamed} }}")
            source = f"{{ account: {_quoted(FRONTDOOR_ACCOUNT)}, subject: {_quoted(exported)} }}"
            imports.append(f"      {{ service: {source}, to: {_quoted(local)} }}")
    lines = [
        "# Generated by `frontdoor nats-config`: one account for the front door, one per team (see",
        "# frontdoor/nats_config.py for why). Passwords are bcrypt hashes; the passwords are in credentials.json.",
        "accounts {",
        f"  {FRONTDOOR_ACCOUNT}: {{",
        "    jetstream: enabled",
        f"    users: [ {{ user: {_quoted(FRONTDOOR_USER)}, password: {_quoted(frontdoor.bcrypt_hash)} }} ]",
        "    exports: [",
        *exports,
        "    ]",
        "  }",
    ]
    for team_id in teams:
        identity = identities[team_id]
        imported = imports[4 * teams.index(team_id): 4 * teams.index(team_id) + 4]
        lines += [
            f"  {_quoted(team_account(team_id))}: {{",
            f"    users: [ {{ user: {_quoted(team_id)}, password: {_quoted(identity.bcrypt_hash)},",
            f"      permissions: {{ publish: {{ allow: {_list(local for _, local in team_imports(team_id))} }},",
            f"                     subscribe: {{ allow: {_list(team_inboxes(team_id))} }} }} }} ]",
            "    imports: [",
            *imported,
            "    ]",
            "  }",
        ]
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_server(*, host: str, port: int, store_dir: Path, name: str = "frontdoor") -> str:
    return "\n".join([
        "# Generated by `frontdoor nats-config`. Authentication and accounts are in auth.conf, which the nodes of",
        "# a cluster include as well.",
        f"server_name: {_quoted(name)}",
        f"listen: {_quoted(f'{host}:{port}')}",
        f"jetstream {{ store_dir: {_quoted(str(store_dir))} }}",
        "include \"auth.conf\"",
    ]) + "\n"


def url_with(identity: Identity, host: str, port: int) -> str:
    return f"nats://{identity.user}:{identity.password}@{host}:{port}"


def write_config(folder: Path, team_ids: Iterable[str], *, host: str, port: int,
                 rotate: Iterable[str] = ()) -> dict[str, Identity]:
    """Writes nats-server.conf, auth.conf, frontdoor.url and credentials.json into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    identities = ensure_identities(folder, team_ids, rotate=rotate)
    _write_private(folder / AUTH_CONF, render_auth(identities))
    # nats-server keeps its files under <store_dir>/jetstream: this puts them in folder/jetstream.
    # Absolute: nats-server reads a relative store_dir against its working directory, not the file's.
    _write_private(folder / SERVER_CONF, render_server(host=host, port=port, store_dir=folder.resolve()))
    # No newline: the file is the value of FRONTDOOR_NATS_URL, however it is read.
    _write_private(folder / FRONTDOOR_URL, url_with(identities[FRONTDOOR_USER], host, port))
    return identities


def team_url(folder: Path, team_id: str) -> str:
    """The NATS URL with `team_id`'s credentials, at the address the front door's own URL names. `folder` may also
    be a data directory: its embedded server keeps the configuration in `nats/` below it."""
    if not (folder / CREDENTIALS).exists() and (folder / "nats" / CREDENTIALS).exists():
        folder = folder / "nats"
    identities = load_identities(folder)
    if not identities:
        raise NatsConfigError(f"no generated NATS configuration in {folder} (run `frontdoor nats-config`)")
    identity = identities.get(team_id)
    if identity is None or team_id == FRONTDOOR_USER:
        raise NatsConfigError(f"no team {team_id} in the NATS configuration in {folder}")
    address = urlsplit((folder / FRONTDOOR_URL).read_text().strip())
    return url_with(identity, address.hostname or "127.0.0.1", address.port or 4222)
