"""A small team system on the front door's NATS interface (docs/asyncapi.json): a starting point for a team.

    TEAM_ID=ot-central TEAM_NATS_URL=$(frontdoor team-credentials ot-central) python team_system.py
    TEAM_ID=ot-central TEAM_NATS_URL=… python team_system.py complete REFERRAL_ID "walking with a frame"

It reads the team's own durable feed (`team-<team_id>` on TEAMS), keeps a local caseload in SQLite, accepts every
new referral addressed to the team, and completes one when asked. What a team client must set, because its NATS
account holds only its own feed and commands:
- the inbox prefix `_INBOX_<team_id>` (where replies and pulls arrive; the default `_INBOX` is allowed too);
- the JetStream API prefix `frontdoor.api` (its account has no JetStream of its own; the front door answers).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

from caseload import Caseload
from faststream import AckPolicy, FastStream
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub

TEAM_ID = os.environ["TEAM_ID"]
NATS_URL = os.environ["TEAM_NATS_URL"]
CASELOAD = Path(os.environ.get("CASELOAD_DB", f"var/caseload-{TEAM_ID}.db"))  # beside `make run`'s data
INBOX = f"_INBOX_{TEAM_ID}"
API_PREFIX = "frontdoor.api"
log = logging.getLogger("team_system")

broker = NatsBroker(NATS_URL, inbox_prefix=INBOX, js_options={"prefix": API_PREFIX}, name=f"team-{TEAM_ID}")
app = FastStream(broker)
CASELOAD.parent.mkdir(parents=True, exist_ok=True)
caseload = Caseload(CASELOAD)


async def command(name: str, body: dict[str, Any]) -> dict[str, Any]:
    """Request-reply on cmd.<team_id>.<name>: the reply is CommandDone or a problem object (RFC 9457)."""
    response = await broker.request(body, subject=f"cmd.{TEAM_ID}.{name}", timeout=15)
    answer: dict[str, Any] = await response.decode()  # type: ignore[assignment]
    return answer


# A pull of n lingers until n messages or the timeout: a short timeout keeps a quiet feed prompt (within 0.25 s),
# and a busy one still comes 50 at a time.
@broker.subscriber(f"team.{TEAM_ID}.>", durable=f"team-{TEAM_ID}", stream=JStream(name="TEAMS", declare=False),
                   pull_sub=PullSub(batch_size=50, timeout=0.25), inbox_prefix=f"{INBOX}.".encode(),
                   ack_policy=AckPolicy.MANUAL)
async def on_feed(message: dict[str, Any], raw: NatsMessage) -> None:
    source_seq = int(raw.headers["Frontdoor-Source-Seq"])
    if not caseload.applied(source_seq):  # else: a redelivery after a crash; applied already
        data = message["data"]
        if message["type"] == "ReferralMade" and data["to_team"] == TEAM_ID:
            # Before the caseload commits: a crash in between accepts again, which the key makes harmless.
            answer = await command("accept", {"referral_id": data["referral_id"],
                                              "idempotency_key": f"accept-{data['referral_id']}"})
            if not answer.get("ok") and answer.get("status") != 409:  # 409: no longer open (withdrawn, …)
                raise RuntimeError(f"accept {data['referral_id']}: {answer}")  # not acked: comes again
            log.info("accepted %s (%s)", data["referral_id"], data["need"])
        caseload.apply(source_seq, message, TEAM_ID)
    await raw.ack()


async def complete(referral_id: str, outcome: str) -> None:
    async with broker:
        await broker.connect()
        answer = await command("complete", {"referral_id": referral_id, "outcome": outcome,
                                            "idempotency_key": f"complete-{referral_id}"})
    print(answer)
    if not answer.get("ok"):
        sys.exit(1)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if sys.argv[1:2] == ["complete"]:
        asyncio.run(complete(sys.argv[2], sys.argv[3]))
    else:
        asyncio.run(app.run())
