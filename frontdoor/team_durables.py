"""Answers a team client's look-up of its own durable on TEAMS.

Clients (nats-py `pull_subscribe`, FastStream's pull subscriber) ask for the consumer's info before they pull. The
JetStream API answers for the account a request comes from, and a team's account has no JetStream, so the look-up
is imported from FRONTDOOR as `frontdoor.durable-info.<team_id>` (frontdoor/nats_config.py) and answered here with
the JetStream API's own response for `team-<team_id>`. Only that team's account imports that subject.
"""

from __future__ import annotations

from faststream import Path
from faststream.nats import NatsBroker

from events.subjects import TEAMS_STREAM
from frontdoor.services import Services


def add_durable_lookup(broker: NatsBroker, services: Services) -> None:
    @broker.subscriber("frontdoor.durable-info.{team_id}", queue="frontdoor-durable-info", include_in_schema=False)
    async def durable_info(team_id: str = Path()) -> bytes:
        answer = await services.nc.request(f"$JS.API.CONSUMER.INFO.{TEAMS_STREAM}.team-{team_id}", b"", timeout=5)
        return answer.data
