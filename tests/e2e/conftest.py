"""The real thing end to end: `frontdoor serve` in a subprocess against the session's nats-server, and Debian's
Chromium driven by Playwright. Playwright's own browser downloads are not used (nor reachable): install Chromium
with `apt-get install -y chromium`."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from frontdoor.api.auth import issue_token
from frontdoor.embedded_nats import EmbeddedNats

SECRET = "e2e-test-secret-0123456789abcdef0123456789"
CHROMIUM = Path(os.environ.get("FRONTDOOR_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
START_DEADLINE_S = 60.0
STOP_DEADLINE_S = 15.0


@dataclass(frozen=True)
class RunningServer:
    url: str
    log: Path

    def token(self, role: str, *, team: str | None = None, sub: str = "e2e-call-handler") -> str:
        return issue_token(SECRET, sub=sub, role=role, team_id=team)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _frontdoor_command() -> str:
    beside_python = Path(sys.executable).parent / "frontdoor"
    found = str(beside_python) if beside_python.exists() else shutil.which("frontdoor")
    if found is None:
        pytest.fail("the `frontdoor` console script is not installed (pip install -e '.[dev]')")
    return found


def _log_tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else "(no log)"


# Package scope: one server for every e2e test, stopped as soon as they are done. It shares the session's
# nats-server, and its projections use the same durable consumer names as the integration tests' in-process
# services: left running for the whole session, it would take their deliveries.
@pytest.fixture(scope="package")
def server(nats_server: EmbeddedNats, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data_dir = tmp_path_factory.mktemp("frontdoor-e2e")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = data_dir / "serve.log"
    env = os.environ | {"FRONTDOOR_NATS_URL": nats_server.url, "FRONTDOOR_DATA_DIR": str(data_dir),
                        "FRONTDOOR_JWT_SECRET": SECRET}
    env.pop("FRONTDOOR_DATABASE_URL", None)  # the read models of this run, in its own data dir
    with log.open("wb") as out:
        process = subprocess.Popen([_frontdoor_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_until_healthy(process, url, log)
        yield RunningServer(url=url, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_DEADLINE_S)


def _wait_until_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_DEADLINE_S
    last = "no answer yet"
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"frontdoor serve exited with {process.returncode}:\n{_log_tail(log)}")
            try:
                response = client.get(f"{url}/health")
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.TransportError as exc:
                last = repr(exc)
            time.sleep(0.1)  # a poll interval under a deadline, not a wait-and-hope
    pytest.fail(f"frontdoor serve was not healthy after {START_DEADLINE_S:g}s ({last}):\n{_log_tail(log)}")


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def sign_in_over_http(http: httpx.AsyncClient, token: str) -> None:
    """Through the sign-in form, as a browser does: its page sets the cookie its CSRF token is bound to."""
    form = await http.get("/")
    found = CSRF.search(form.text)
    assert found, form.text
    signed = await http.post("/", data={"token": token, "csrf": found.group(1), "next": ""})
    assert signed.status_code == 303, signed.text


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: install it with `apt-get update && apt-get install -y chromium` "
                    "(the browser tests do not skip: the UI is part of the product)")
    return CHROMIUM


@pytest.fixture(scope="package")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    """Playwright's async API, on the session's event loop: its sync API would hold a loop of its own open and
    break every asyncio test that runs after it."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser, server: RunningServer) -> AsyncIterator[Page]:
    context = await browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900},
                                        locale="en-GB")
    context.set_default_timeout(15_000)
    opened = await context.new_page()
    yield opened
    await context.close()


AXE_VERSION = "4.14.1"  # pinned: a new axe release may add rules, which is a deliberate upgrade


@pytest.fixture(scope="session")
def axe_source(tmp_path_factory: pytest.TempPathFactory) -> str:
    """axe-core from npm, installed into this test run only (never a dependency of the product)."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is needed for the accessibility checks (axe-core): apt-get install -y npm")
    prefix = tmp_path_factory.mktemp("axe")
    done = subprocess.run([npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--silent",
                           f"axe-core@{AXE_VERSION}"], capture_output=True, text=True, timeout=180, check=False)
    script = prefix / "node_modules" / "axe-core" / "axe.min.js"
    if done.returncode != 0 or not script.exists():
        pytest.fail(f"npm install axe-core@{AXE_VERSION} failed: {done.stderr[-2000:]}")
    return script.read_text()


@pytest.fixture
async def axe_page(browser: Browser, server: RunningServer) -> AsyncIterator[Page]:
    """A page whose context lets axe's script in: the pages' CSP allows no script at all, rightly."""
    context = await browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900},
                                        locale="en-GB", bypass_csp=True)
    context.set_default_timeout(15_000)
    opened = await context.new_page()
    yield opened
    await context.close()
