"""`GET /residents/{id}/fhir` and `frontdoor export-fhir`: the same Bundle, the same access rules and audit as the
joined-up view."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
from fhir.resources.R4B.bundle import Bundle
from nats.js import JetStreamContext

from events.subjects import AUDIT_STREAM
from frontdoor.embedded_nats import EmbeddedNats
from frontdoor.fhir_bundle import NHS_NUMBER_SYSTEM
from tests.conftest import database_url
from tests.integration.conftest import CONTACT, RESIDENT, SECRET, auth


async def test_the_fhir_bundle_is_served_and_exported_with_the_views_access_and_audit(
        client: httpx.AsyncClient, js: JetStreamContext, nats_server: EmbeddedNats, tmp_path: Path) -> None:
    rid = (await client.post("/residents", json=RESIDENT)).json()["resident_id"]
    await client.post(f"/residents/{rid}/contacts", json=CONTACT)
    seq = (await client.post(f"/residents/{rid}/referrals", json={
        "to_team": "ot-central", "need": "mobility and falls", "urgency": "soon", "reason": "two falls"})).json()["seq"]

    answer = await client.get(f"/residents/{rid}/fhir", params={"min_seq": seq}, headers={"X-Purpose": "fhir test"})

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/fhir+json"
    bundle = answer.json()
    Bundle.model_validate(bundle)
    patient = bundle["entry"][0]["resource"]
    assert patient["identifier"] == [{"system": NHS_NUMBER_SYSTEM, "value": "9434765919"}]
    assert {e["resource"]["resourceType"] for e in bundle["entry"]} == {
        "Patient", "Organization", "Communication", "ServiceRequest"}
    assert (await client.get(f"/residents/{rid}/fhir", headers=auth("team", "ot-central"))).status_code == 200
    assert (await client.get(f"/residents/{rid}/fhir", headers=auth("team", "dn-west"))).status_code == 403
    assert (await client.get(f"/residents/{rid}/fhir", headers=auth("analyst"))).status_code == 403
    last = (await js.stream_info(AUDIT_STREAM)).state.last_seq
    audit = [orjson.loads((await js.get_msg(AUDIT_STREAM, s)).data or b"{}")["data"] for s in range(1, last + 1)]
    assert any(a["resident_id"] == rid and a["purpose"] == "fhir test" for a in audit)

    env = {**os.environ, "FRONTDOOR_NATS_URL": nats_server.url, "FRONTDOOR_DATA_DIR": str(tmp_path / "cli"),
           "FRONTDOOR_DATABASE_URL": database_url(tmp_path), "FRONTDOOR_JWT_SECRET": SECRET}
    exported = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "frontdoor", "export-fhir", rid],
                                       env=env, capture_output=True, timeout=120, check=False)

    assert exported.returncode == 0, exported.stderr
    assert orjson.loads(exported.stdout) == bundle  # the Bundle alone on stdout
    last_now = (await js.stream_info(AUDIT_STREAM)).state.last_seq
    assert last_now == last + 1
