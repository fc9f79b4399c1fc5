"""Continuous HTTP writes for drills: N clients, each recording contacts with an Idempotency-Key and retrying
the same key until it gets a 2xx, so "every 2xx write is in the stream exactly once" can be checked."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import nats.errors

from events.catalogue import ContactRecorded
from events.store import JetStreamEventStore

CONTACT: dict[str, Any] = {"channel": "phone", "caller": {"relationship": "self"}, "needs": ["mobility and falls"],
                           "urgency": "routine", "safeguarding": False, "summary": "drill", "outcome": "advice"}
REQUEST_TIMEOUT_S = 15.0  # beyond the server's own bounds (5 s publish, 5 s read wait): past it, a request hung


@dataclass
class Attempt:
    started: float
    finished: float
    status: int | None  # None: no answer (connection refused, reset, or the client's timeout)
    error: str | None = None


@dataclass
class Writes:
    accepted: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # key -> (resident, contact, seq)
    attempts: list[Attempt] = field(default_factory=list)
    timeouts: int = 0
    abandoned: list[str] = field(default_factory=list)

    def first_success_after(self, moment: float) -> float | None:
        """Seconds from `moment` to the end of the first successful request that started after it."""
        ends = [a.finished for a in self.attempts if a.started >= moment and a.status is not None
                and 200 <= a.status < 300]
        return min(ends) - moment if ends else None

    def failures(self) -> Counter[str]:
        return Counter(str(a.status or a.error) for a in self.attempts if not (a.status and 200 <= a.status < 300))


async def write_contacts(base_url: str, token: str, residents: list[str], *, clients: int, stop: asyncio.Event,
                         writes: Writes, give_up_after_s: float = 60.0) -> None:
    """Each client writes one contact after another until `stop`; a failed write is retried with its key until it
    succeeds (or `give_up_after_s` passes, when it is listed as abandoned)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_S,
                                 headers={"Authorization": f"Bearer {token}"},
                                 limits=httpx.Limits(max_connections=clients * 2)) as http:
        await asyncio.gather(*(_client(http, i, residents[i % len(residents)], stop, writes, give_up_after_s)
                               for i in range(clients)))


async def _client(http: httpx.AsyncClient, number: int, resident_id: str, stop: asyncio.Event, writes: Writes,
                  give_up_after_s: float) -> None:
    n = 0
    while not stop.is_set():
        key = f"drill-{number}-{n}"
        n += 1
        first = time.monotonic()
        while True:
            started = time.monotonic()
            try:
                response = await http.post(f"/residents/{resident_id}/contacts", json=CONTACT,
                                           headers={"Idempotency-Key": key})
            except httpx.TimeoutException:
                writes.timeouts += 1
                writes.attempts.append(Attempt(started, time.monotonic(), None, "timeout"))
            except httpx.TransportError as exc:
                writes.attempts.append(Attempt(started, time.monotonic(), None, type(exc).__name__))
            else:
                writes.attempts.append(Attempt(started, time.monotonic(), response.status_code))
                if 200 <= response.status_code < 300:
                    body = response.json()
                    writes.accepted[key] = (resident_id, body["contact_id"], body["seq"])
                    break
            if time.monotonic() - first > give_up_after_s:
                writes.abandoned.append(key)
                break
            await asyncio.sleep(0.05)


async def contacts_in_stream(store: JetStreamEventStore, *, within: float = 30.0) -> Counter[str]:
    """Every ContactRecorded in the stream by contact id. Reading creates a consumer, which needs the cluster's meta
    leader: after a node was killed that may still be being elected (Raft waits 4-9 s before it even asks, longer on
    a loaded machine), so a read that times out is tried again from the start, for at most `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        found: Counter[str] = Counter()
        try:
            async for recorded in store.read_all():
                if isinstance(recorded.event, ContactRecorded):
                    found[recorded.event.contact_id] += 1
        except nats.errors.TimeoutError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(1.0)
            continue
        return found


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def varied_work(http: httpx.AsyncClient, team_headers: dict[str, dict[str, str]], *, people: int = 6) -> None:
    """Registrations (one person twice), contacts, consent, referrals through their steps, parallel referrals
    and assessments: every projection gets rows, and the detector raises flags."""
    ids = []
    for n in range(people):
        person = {"given_name": "Alan" if n < 2 else f"Person{n}", "family_name": "Turing" if n < 2 else "Drill",
                  "date_of_birth": "1942-06-23" if n < 2 else f"1950-02-{n + 10}", "postcode": "SO15 5QF"}
        ids.append(_ok(await http.post("/residents", json=person))["resident_id"])
    dn, ot = team_headers["dn-central"], team_headers["ot-central"]
    for n, resident in enumerate(ids):
        for k in range(n % 3 + 1):
            _ok(await http.post(f"/residents/{resident}/contacts", json=CONTACT | {"summary": f"call {k}"}))
        _ok(await http.post(f"/residents/{resident}/consent", json={"decision": "granted", "scope": ["nhs"]}))
        referral = _ok(await http.post(f"/residents/{resident}/referrals",
                                       json={"to_team": "dn-central", "need": "mobility and falls"}))["referral_id"]
        _ok(await http.post(f"/referrals/{referral}/accept", headers=dn))
        if n % 2:
            _ok(await http.post(f"/referrals/{referral}/handoff", headers=dn,
                                json={"to_team": "ot-central", "reason": "OT"}))
            _ok(await http.post(f"/referrals/{referral}/accept", headers=ot))
        _ok(await http.post(f"/residents/{resident}/referrals",
                            json={"to_team": "dn-north", "need": "long-term condition"}))
        _ok(await http.post(f"/residents/{resident}/referrals",
                            json={"to_team": "dn-central", "need": "long-term condition"}))  # parallel: a flag
        _ok(await http.post(f"/residents/{resident}/assessments", json={"kind": "OT", "team": "ot-central"}))
