"""A realistic mixed load over HTTP for 60 s against a running front door with a demo city in it, and the same
clients against the bare FastAPI app (bench/bare_app.py) in the same run.

    python -m bench.mixed_load --base URL --database SQLALCHEMY_URL --secret JWT_SECRET [--seconds 60]
                               [--clients 20] [--bare URL] [--label NAME] [--out FILE.json]

The mix follows what the demo city holds (`demo-city --seed 20261130`, 2,000 residents: 3,520 contacts, 2,529
referrals, 4,257 referral steps — 2,417 accepts, 1,381 completions, 272 declines, 185 handoffs): a call handler
finds the caller (a search per contact) and opens the joined-up view before each contact, referral and step. So
per 100 operations: 15 searches, 43 views, 15 contacts, 10 referrals, 17 referral steps (accept a made referral as
its team, else complete an accepted one). Residents, referrals and their teams come from the read models.

Each of N clients runs closed-loop (one request at a time), picking operations with those weights from one seeded
random stream. Per operation: requests, throughput, p50, p99 and errors (any status other than the operation's
success, including a 409 where another client acted first on the same referral: counted, and reported apart).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import percentile
from frontdoor.api.auth import issue_token
from projections.database import async_url
from projections.tables import referrals, residents

MIX = {"search": 15, "view": 43, "contact": 15, "referral": 10, "referral_step": 17}
NEEDS = ("mobility and falls", "personal care", "long-term condition", "social isolation", "housing")
CONTACT = {"channel": "phone", "caller": {"relationship": "self"}, "needs": ["mobility and falls"],
           "urgency": "routine", "safeguarding": False, "summary": "mixed load", "outcome": "advice"}


@dataclass
class City:
    people: list[tuple[str, str, str]]  # resident_id, family name, postcode
    made: list[tuple[str, str]] = field(default_factory=list)  # referral_id, to_team
    accepted: list[tuple[str, str]] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    conflicts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    statuses: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))


async def load_city(database_url: str, sample: int, seed: int) -> City:
    engine = create_async_engine(async_url(database_url))
    try:
        async with engine.connect() as conn:
            people = [(r, f, p) for r, f, p in await conn.execute(
                select(residents.c.resident_id, residents.c.family_name, residents.c.postcode))]
            rows = list(await conn.execute(select(referrals.c.referral_id, referrals.c.to_team, referrals.c.status)
                                           .where(referrals.c.status.in_(("made", "accepted")))))
    finally:
        await engine.dispose()
    rng = random.Random(seed)
    rng.shuffle(people)
    rng.shuffle(rows)
    city = City(people=people[:sample])
    city.made = [(r, t) for r, t, s in rows if s == "made"]
    city.accepted = [(r, t) for r, t, s in rows if s == "accepted"]
    city.teams = sorted({t for _, t, _ in rows}) or ["dn-central"]
    return city


class Operations:
    def __init__(self, city: City, secret: str, rng: random.Random) -> None:
        self.city = city
        self.rng = rng
        self.secret = secret
        self.handler = {"Authorization": f"Bearer {issue_token(secret, sub='bench-ch', role='call_handler')}"}
        self._team_headers: dict[str, dict[str, str]] = {}

    def team(self, team_id: str) -> dict[str, str]:
        if team_id not in self._team_headers:
            token = issue_token(self.secret, sub=f"bench-{team_id}", role="team", team_id=team_id)
            self._team_headers[team_id] = {"Authorization": f"Bearer {token}"}
        return self._team_headers[team_id]

    def person(self) -> tuple[str, str, str]:
        return self.rng.choice(self.city.people)

    async def run(self, op: str, http: httpx.AsyncClient) -> tuple[int, bool]:
        """Sends one operation; returns (status, success)."""
        if op == "search":
            _, family, postcode = self.person()
            q = family if self.rng.random() < 0.7 else postcode
            r = await http.get("/residents", params={"q": q}, headers=self.handler)
            return r.status_code, r.status_code == 200
        if op == "view":
            r = await http.get(f"/residents/{self.person()[0]}", headers=self.handler)
            return r.status_code, r.status_code == 200
        if op == "contact":
            r = await http.post(f"/residents/{self.person()[0]}/contacts", json=CONTACT, headers=self.handler)
            return r.status_code, r.status_code == 201
        if op == "referral":
            team = self.rng.choice(self.city.teams)
            body = {"to_team": team, "need": self.rng.choice(NEEDS), "urgency": "routine", "reason": "mixed load"}
            r = await http.post(f"/residents/{self.person()[0]}/referrals", json=body, headers=self.handler)
            if r.status_code == 201:
                self.city.made.append((r.json()["referral_id"], team))
            return r.status_code, r.status_code == 201
        if self.city.made:  # a referral step: accept what waits, else complete what was accepted
            referral, team = self.city.made.pop(self.rng.randrange(len(self.city.made)))
            r = await http.post(f"/referrals/{referral}/accept", headers=self.team(team))
            if r.status_code == 200:
                self.city.accepted.append((referral, team))
            return r.status_code, r.status_code == 200
        if self.city.accepted:
            referral, team = self.city.accepted.pop(self.rng.randrange(len(self.city.accepted)))
            r = await http.post(f"/referrals/{referral}/complete", json={"outcome": "done"}, headers=self.team(team))
            return r.status_code, r.status_code == 200
        return 0, False


async def drive(base: str, ops: Operations, seconds: float, clients: int, seed: int) -> Tally:
    tally = Tally()
    names, weights = list(MIX), list(MIX.values())
    deadline = time.monotonic() + seconds

    async def client(number: int, http: httpx.AsyncClient) -> None:
        rng = random.Random(seed * 1000 + number)
        while time.monotonic() < deadline:
            op = rng.choices(names, weights)[0]
            started = time.perf_counter()
            try:
                status, ok = await ops.run(op, http)
            except httpx.HTTPError:
                status, ok = -1, False
            tally.latencies[op].append(time.perf_counter() - started)
            tally.statuses[op][status] += 1
            if not ok:
                if status == 409:
                    tally.conflicts[op] += 1
                else:
                    tally.errors[op] += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
        await asyncio.gather(*(client(i, http) for i in range(clients)))
    return tally


async def drive_bare(base: str, seconds: float, clients: int, seed: int) -> Tally:
    """The same clients and weights against the bare app: reads are GET /health, writes POST a contact."""
    tally = Tally()
    names, weights = list(MIX), list(MIX.values())
    deadline = time.monotonic() + seconds

    async def client(number: int, http: httpx.AsyncClient) -> None:
        rng = random.Random(seed * 1000 + number)
        while time.monotonic() < deadline:
            op = rng.choices(names, weights)[0]
            started = time.perf_counter()
            if op in ("search", "view"):
                r = await http.get("/health")
            else:
                r = await http.post("/residents/x/contacts", json=CONTACT)
            tally.latencies[op].append(time.perf_counter() - started)
            tally.statuses[op][r.status_code] += 1
            if r.status_code >= 300:
                tally.errors[op] += 1

    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        await asyncio.gather(*(client(i, http) for i in range(clients)))
    return tally


def summary(tally: Tally, seconds: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    everything: list[float] = []
    for op in MIX:
        lat = tally.latencies.get(op, [])
        everything += lat
        out[op] = {"requests": len(lat), "per_s": round(len(lat) / seconds, 1),
                   "p50_ms": round(percentile(lat, 50) * 1000, 1) if lat else None,
                   "p99_ms": round(percentile(lat, 99) * 1000, 1) if lat else None,
                   "errors": tally.errors.get(op, 0), "conflicts_409": tally.conflicts.get(op, 0),
                   "statuses": {str(k): v for k, v in sorted(tally.statuses.get(op, {}).items())}}
    out["all"] = {"requests": len(everything), "per_s": round(len(everything) / seconds, 1),
                  "p50_ms": round(percentile(everything, 50) * 1000, 1) if everything else None,
                  "p99_ms": round(percentile(everything, 99) * 1000, 1) if everything else None}
    return out


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    city = await load_city(args.database, args.sample, args.seed)
    result: dict[str, Any] = {"label": args.label, "seconds": args.seconds, "clients": args.clients,
                              "residents_sampled": len(city.people), "referrals_made": len(city.made),
                              "referrals_accepted": len(city.accepted), "mix": MIX}
    ops = Operations(city, args.secret, random.Random(args.seed))
    result["frontdoor"] = summary(await drive(args.base, ops, args.seconds, args.clients, args.seed), args.seconds)
    if args.bare:
        result["bare"] = summary(await drive_bare(args.bare, args.seconds, args.clients, args.seed), args.seconds)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="A realistic mixed HTTP load against a demo city")
    parser.add_argument("--base", required=True)
    parser.add_argument("--database", required=True, help="the read models' SQLAlchemy URL (to pick residents)")
    parser.add_argument("--secret", required=True, help="the server's FRONTDOOR_JWT_SECRET")
    parser.add_argument("--bare", help="base URL of bench/bare_app.py, run with the same clients afterwards")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--sample", type=int, default=20000, help="residents the clients pick among")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--label", default="")
    parser.add_argument("--out")
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    text = json.dumps(result, indent=1)
    if args.out:
        with open(args.out, "w") as file:
            file.write(text)
    print(text)


if __name__ == "__main__":
    main()
