"""The docker-compose deployment, read rather than run (no docker here): three routed NATS nodes with JetStream
and authentication, streams at three replicas, PostgreSQL, two APIs and two projectors, a health check on every
long-running service and every dependency on health. The node configs are also checked by nats-server itself."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from frontdoor.embedded_nats import nats_server_binary

ROOT = Path(__file__).resolve().parents[2]
NODES = ("nats-1", "nats-2", "nats-3")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def node_config(compose: dict[str, Any], node: str) -> tuple[Path, str]:
    mounts = [v for v in compose["services"][node]["volumes"] if v.endswith(":/etc/nats/nats.conf:ro")]
    assert len(mounts) == 1, f"{node} mounts no config at /etc/nats/nats.conf"
    path = ROOT / mounts[0].split(":")[0]
    return path, path.read_text()


def commands(compose: dict[str, Any], word: str) -> list[str]:
    return [name for name, s in compose["services"].items() if word in " ".join(s.get("command") or [])]


def test_three_nats_nodes_route_to_each_other_in_one_cluster(compose: dict[str, Any]) -> None:
    names = set()
    for node in NODES:
        _, text = node_config(compose, node)
        names.add(re.search(r"^server_name:\s*(\S+)", text, re.M).group(1))  # type: ignore[union-attr]
        cluster = re.search(r"cluster\s*\{(.*?)\n\}", text, re.S)
        assert cluster, f"{node} has no cluster block"
        assert re.search(r"^\s*name:\s*frontdoor", cluster.group(1), re.M)
        routes = set(re.findall(r"nats-route://([\w-]+):6222", cluster.group(1)))
        assert routes == set(NODES), f"{node} routes to {routes}"
        assert re.search(r"jetstream\s*\{[^}]*store_dir", text), f"{node} has no JetStream store"
        assert "include ./generated/auth.conf" in text, f"{node} does not include the generated authentication"
    assert names == set(NODES)


def test_node_configs_are_valid_for_nats_server(compose: dict[str, Any], tmp_path: Path) -> None:
    generated = tmp_path / "generated"
    generated.mkdir()
    (generated / "auth.conf").write_text('authorization { users = [ {user: "frontdoor", password: "x"} ] }\n')
    for node in NODES:
        _, text = node_config(compose, node)
        conf = tmp_path / f"{node}.conf"
        conf.write_text(text.replace("/data/jetstream", str(tmp_path / node)))
        checked = subprocess.run([str(nats_server_binary()), "-c", str(conf), "-t"], capture_output=True, text=True,
                                 timeout=30)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_apps_use_three_replicas_postgresql_and_the_generated_nats_credentials(compose: dict[str, Any]) -> None:
    services = compose["services"]
    apps = commands(compose, "frontdoor serve") + commands(compose, "frontdoor project")
    assert len(commands(compose, "frontdoor serve")) == 2 and len(commands(compose, "frontdoor project")) == 2
    assert services["postgres"]["image"].startswith("postgres:")
    for name in apps:
        env = services[name]["environment"]
        assert env["FRONTDOOR_STREAM_REPLICAS"] == "3"
        assert env["FRONTDOOR_DATABASE_URL"].startswith("postgresql")
        assert set(env["FRONTDOOR_NATS_NODES"].split(",")) == {f"{n}:4222" for n in NODES}
        assert "FRONTDOOR_NATS_URL" not in env  # it comes from the generated credentials
        assert "nats-config:/nats-config:ro" in services[name]["volumes"]
    init = services["nats-config"]
    assert "frontdoor nats-config --out /nats-config" in " ".join(init["command"])
    for node in NODES:
        assert "nats-config:/etc/nats/generated:ro" in services[node]["volumes"]
        assert services[node]["depends_on"]["nats-config"]["condition"] == "service_completed_successfully"


def test_every_service_has_a_health_check_and_waits_for_health(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        if name == "nats-config":
            assert service["restart"] == "no"  # a one-shot job: "completed", not "healthy"
            continue
        assert "healthcheck" in service, f"{name} has no health check"
        test = " ".join(service["healthcheck"]["test"])
        if name in NODES:
            assert "8222/healthz" in test
        elif name != "postgres":
            assert "/health" in test
        for dependency, condition in (service.get("depends_on") or {}).items():
            expected = "service_completed_successfully" if dependency == "nats-config" else "service_healthy"
            assert condition["condition"] == expected, f"{name} -> {dependency}"
    for name in commands(compose, "frontdoor project"):
        command = services[name]["command"]
        port = command[command.index("--metrics-port") + 1]
        assert f":{port}/health" in " ".join(services[name]["healthcheck"]["test"])


def test_the_entrypoint_builds_a_url_for_every_node_from_the_generated_credentials(tmp_path: Path) -> None:
    url_file = tmp_path / "frontdoor.url"
    url_file.write_text("nats://frontdoor:p%40ss@nats-1:4222\n")
    env = {"PATH": "/usr/bin:/bin", "FRONTDOOR_NATS_URL_FILE": str(url_file),
           "FRONTDOOR_NATS_NODES": "nats-1:4222,nats-2:4222,nats-3:4222"}
    done = subprocess.run(["sh", str(ROOT / "deploy/entrypoint.sh"), "sh", "-c", "echo $FRONTDOOR_NATS_URL"],
                          env=env, capture_output=True, text=True, timeout=10, check=True)
    assert done.stdout.strip().split(",") == [f"nats://frontdoor:p%40ss@nats-{n}:4222" for n in (1, 2, 3)]
