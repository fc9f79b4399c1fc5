"""Drills: a loopback three-node cluster (tests/cluster.py), the app on it at three replicas, and real child
processes to kill. Each drill gets a fresh cluster: drills kill nodes."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from frontdoor.bootstrap import start_services, stop_services
from frontdoor.services import Services
from frontdoor.settings import Settings
from tests.cluster import LoopbackCluster
from tests.conftest import bounded, database_url
from tests.drills import postgres
from tests.drills.postgres import PrivatePostgres
from tests.integration.conftest import SECRET


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LoopbackCluster]:
    running = LoopbackCluster(tmp_path / "cluster").start()
    yield running
    running.stop()


@pytest.fixture
def cluster_settings(cluster: LoopbackCluster, engine: AsyncEngine, tmp_path: Path) -> Settings:
    """The app given all three URLs, streams and buckets at three replicas (the engine fixture empties the DB)."""
    return Settings(nats_url=cluster.url, stream_replicas=3, database_url=database_url(tmp_path),
                    data_dir=tmp_path / "data", jwt_secret=SECRET, lease_ttl_s=2.0)


@pytest.fixture
async def cluster_services(cluster_settings: Settings) -> AsyncIterator[Services]:
    running = await start_services(cluster_settings, run_projections=True)
    yield running
    await bounded(stop_services(running), "the app's services on the cluster", 30)


@pytest.fixture(scope="session")
def private_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivatePostgres]:
    """A PostgreSQL of the drills' own, which they may restart; skipped where it cannot be started here."""
    if not postgres.available():
        pytest.skip("no initdb/pg_ctl usable here (need /usr/lib/postgresql/*/bin and a non-root user)")
    server = PrivatePostgres(Path(tempfile.mkdtemp(prefix="frontdoor-pg-")))
    try:
        server.init()
        server.start()
    except Exception as exc:
        pytest.skip(f"a private PostgreSQL could not be started: {exc}")
    yield server
    server.stop("immediate")
    shutil.rmtree(server.root, ignore_errors=True)
