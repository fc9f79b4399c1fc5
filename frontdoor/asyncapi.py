"""The AsyncAPI 3.0 document of the team interface (DESIGN §9): each team's feed on TEAMS and the commands on
`cmd.<team_id>.<command>` with their replies, every payload with its JSON schema from the pydantic models that
produce or check it. Served at `GET /asyncapi.json` and written to docs/asyncapi.json by `frontdoor spec`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from frontdoor.nats_config import TEAM_API_PREFIX, team_inbox_prefix
from frontdoor.team_messages import COMMAND_BODIES, CommandDone, CommandProblem
from projections.team_feed import FeedMessage

REF = "#/components/schemas/{model}"
FEED_HEADERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "Frontdoor-Type": {"type": "string", "description": "the event type, as in the subject"},
        "Nats-Msg-Id": {"type": "string", "description": "'<source seq>:<team>': a redelivery is the same message"},
        "Frontdoor-Source-Seq": {"type": "string", "description": "the event's sequence in the CARE stream"},
    },
    "required": ["Frontdoor-Type", "Nats-Msg-Id", "Frontdoor-Source-Seq"],
}
TEAM_ID = {"description": "the team's id in the directory (GET /teams); a team's NATS identity can use only its own"}


def _schemas(models: list[type[BaseModel]]) -> tuple[dict[str, Any], dict[str, Any]]:
    refs, top = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    return {m.__name__: refs[(m, "validation")] for m in models}, top.get("$defs", {})


def _message(name: str, payload: dict[str, Any], summary: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "title": name, "summary": summary, "contentType": "application/json",
            "payload": payload, **extra}


def asyncapi_document() -> dict[str, Any]:
    models: list[type[BaseModel]] = [FeedMessage, CommandDone, CommandProblem, *COMMAND_BODIES.values()]
    refs, schemas = _schemas(models)
    messages: dict[str, Any] = {
        "FeedMessage": _message("FeedMessage", refs["FeedMessage"], "an event a team may see, minimised (feed v1)",
                                headers=FEED_HEADERS),
        "CommandDone": _message("CommandDone", refs["CommandDone"], "the command was carried out"),
        "CommandProblem": _message("CommandProblem", refs["CommandProblem"],
                                   "the command was refused: a problem object (RFC 9457), as over HTTP"),
    }
    channels: dict[str, Any] = {
        "teamFeed": {
            "address": "team.{team_id}.{event_type}",
            "title": "team.<team_id>.<EventType>",
            "description": "Stream TEAMS. A team's feed, read only through its durable consumer team-<team_id> "
            "(filter team.<team_id>.>, explicit ack), which the front door creates. Work addressed to the team, and "
            "updates on residents it is involved with while consent allows.",
            "parameters": {"team_id": TEAM_ID, "event_type": {"description": "the event type (DESIGN §4)"}},
            "messages": {"FeedMessage": {"$ref": "#/components/messages/FeedMessage"}},
        },
        "commandReply": {
            "address": None,
            "title": "the request's reply subject",
            "description": "the inbox of the request: a team client uses the inbox prefix "
            f"{team_inbox_prefix('<team_id>')}",
            "messages": {"CommandDone": {"$ref": "#/components/messages/CommandDone"},
                         "CommandProblem": {"$ref": "#/components/messages/CommandProblem"}},
        },
    }
    operations: dict[str, Any] = {
        "sendTeamFeed": {"action": "send", "channel": {"$ref": "#/channels/teamFeed"},
                         "summary": "the front door publishes each team's feed",
                         "messages": [{"$ref": "#/channels/teamFeed/messages/FeedMessage"}]},
    }
    for command, body in COMMAND_BODIES.items():
        name = body.__name__
        messages[name] = _message(name, refs[name], (body.__doc__ or "").strip().splitlines()[0],
                                  headers={"type": "object", "properties": {"Idempotency-Key": {"type": "string"}}})
        channel = f"command.{command}"
        channels[channel] = {
            "address": f"cmd.{{team_id}}.{command}",
            "title": f"cmd.<team_id>.{command}",
            "description": (body.__doc__ or "").strip(),
            "parameters": {"team_id": TEAM_ID},
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[f"receive.{command}"] = {
            "action": "receive", "channel": {"$ref": f"#/channels/{channel}"},
            "summary": f"a team asks the front door to {command.replace('-', ' ')} (request-reply)",
            "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"}],
            "reply": {"channel": {"$ref": "#/channels/commandReply"},
                      "messages": [{"$ref": "#/channels/commandReply/messages/CommandDone"},
                                   {"$ref": "#/channels/commandReply/messages/CommandProblem"}]},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "frontdoor team interface",
            "version": "1.0.0",
            "description": "What team systems use over NATS: their own feed on TEAMS and commands on "
            "cmd.<team_id>.<command> (request-reply). Connect with the URL `frontdoor team-credentials TEAM` prints, "
            f"the inbox prefix _INBOX_<team_id> and the JetStream API prefix {TEAM_API_PREFIX}.",
        },
        "defaultContentType": "application/json",
        "servers": {"development": {"host": "127.0.0.1:4222", "protocol": "nats",
                                    "description": "the embedded server of `make run` listens on a free port: "
                                    "`frontdoor team-credentials TEAM` prints its address"}},
        "channels": channels,
        "operations": operations,
        "components": {"schemas": {**schemas, **{k: v for k, v in refs.items() if "$ref" not in v}},
                       "messages": messages},
    }
