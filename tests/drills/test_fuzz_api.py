"""Schemathesis over /openapi.json, signed in as each role, every operation: no server error (but the promised
read-model-behind 503) and no response that breaks its own schema. Bounded here; `make drills` runs it long."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from frontdoor.api.auth import ROLES, issue_token
from frontdoor.embedded_nats import free_port
from tests.drills.processes import Process
from tests.integration.conftest import SECRET

LONG = os.environ.get("FRONTDOOR_DRILL_LONG") == "1"
EXAMPLES, SECONDS = (200, 600) if LONG else (5, 10)
ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> object:
    root = tmp_path_factory.mktemp("fuzz")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDOOR_")}
    env |= {"FRONTDOOR_DATA_DIR": str(root / "data"), "FRONTDOOR_JWT_SECRET": SECRET,
            "FRONTDOOR_LOG_FORMAT": "json", "FRONTDOOR_READ_WAIT_S": "0.5"}
    port = free_port()
    process = Process("fuzzed", port, ["serve", "--host", "127.0.0.1", "--port", str(port), "--demo"], env,
                      root / "serve.log").start()
    try:
        process.wait_healthy(90)
        yield process
    finally:
        process.stop()


@pytest.mark.parametrize("role", ROLES)
def test_no_server_errors_and_no_responses_breaking_the_schema(server: Process, role: str, tmp_path: Path) -> None:
    token = issue_token(SECRET, sub=f"fuzz-{role}", role=role, team_id="dn-central" if role == "team" else None)
    env = os.environ | {"SCHEMATHESIS_HOOKS": "tests.drills.fuzz_hooks",
                        "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(
        [SCHEMATHESIS, "run", f"{server.base_url}/openapi.json", "-H", f"Authorization: Bearer {token}",
         "--checks", "no_unexplained_server_error,response_schema_conformance",
         "--phases", "examples,coverage,fuzzing", "-n", str(EXAMPLES), "--max-time", str(SECONDS),
         "--seed", "14", "--request-timeout", "10", "--no-color", "--warnings", "off", "--generation-database", "none",
         "--report-dir", str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=SECONDS * 4 + 60, cwd=tmp_path)  # its crash cache goes there
    tail = "\n".join(done.stdout.splitlines()[-80:])
    assert done.returncode == 0, f"schemathesis as {role} found failures:\n{tail}\n{done.stderr[-2000:]}"
