"""The conversation API, for developers and operators: read trackers, list conversations, send
messages or intents into a conversation, hand a conversation back from a person to the bot.

Every route needs `Authorization: Bearer <token>`, the token being the value of the environment
variable that `server.token_variable` names (PARLEY_API_TOKEN by default). Without that variable
the API answers 503 (api_disabled); with a wrong token, 401.

PII: values of the pack's PII slots are redacted from trackers and events (`[redacted]`) unless
the request asks `include_pii=true`; such reads are logged (who: the request id; what: the
conversation; never the values).
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from engine.dialogue.runtime import Assistant, TurnResult
from engine.dialogue.tracker import Tracker
from engine.server.errors import ApiError
from engine.server.rest import ERRORS
from engine.server.schemas import (
    MAX_SENDER_CHARS,
    AcceptHandoff,
    ConversationList,
    EndHandoff,
    ErrorBody,
    InjectIntent,
    InjectMessage,
    PackInfo,
    TurnAnswer,
)
from engine.server.service import rest_message
from engine.server.turns import TurnRunner, turn_runner

log = logging.getLogger("engine.server.api")

_bearer = HTTPBearer(auto_error=False, description="The value of the variable server.token_variable names.")


def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    settings = request.app.state.settings
    if not settings.api_token:
        raise ApiError(
            503,
            "api_disabled",
            f"the conversation API is disabled: the server's environment has no {settings.token_variable}. "
            f"Set {settings.token_variable} to a secret token, restart, and send "
            "Authorization: Bearer <token>",
        )
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), settings.api_token.encode()):
        raise ApiError(
            401,
            "unauthorized",
            "missing or wrong token: send Authorization: Bearer <token> with the server's API token",
            headers={"WWW-Authenticate": "Bearer"},
        )


AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or wrong bearer token."},
    404: ERRORS[404],
    503: {
        "model": ErrorBody,
        "description": "The API is disabled (no token on the server), or the conversation stayed busy, or a "
        "store failed.",
    },
}
router = APIRouter(
    prefix="/api", tags=["conversation API"], dependencies=[Depends(require_token)], responses=AUTH_ERRORS
)

Sender = Annotated[str, Path(min_length=1, max_length=MAX_SENDER_CHARS, description="The conversation's id.")]
IncludePii = Annotated[
    bool, Query(description="Show the values of PII slots instead of [redacted] (the read is logged).")
]


@router.get("/packs", response_model=list[PackInfo], summary="The packs served, and their models")
async def packs(request: Request) -> list[PackInfo]:
    registry = request.app.state.registry
    default = turn_runner(request).service.default_pack
    answer = []
    for name in registry.names:
        served = registry.served(name)
        pack = served.pack
        answer.append(
            PackInfo(
                name=name,
                version=pack.version,
                default=name == default,
                model_id=served.model_id,
                loaded_at=served.loaded_at,
                intents=len(pack.intents),
                flows=len(pack.flows),
            )
        )
    return answer


@router.get(
    "/packs/{pack}/conversations",
    response_model=ConversationList,
    summary="Conversations of a pack, most recently updated first",
)
async def conversations(
    pack: str,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    turns = turn_runner(request)
    turns.service.assistant(pack)  # UnknownPack: 404
    found = await turns.run(lambda: turns.service.trackers.conversations(pack, limit=limit, offset=offset))
    return {
        "pack": pack,
        "limit": limit,
        "offset": offset,
        "conversations": [
            {"sender_id": c.sender_id, "events": c.events, "started": c.started, "updated": c.updated}
            for c in found
        ],
    }


@router.get(
    "/packs/{pack}/conversations/{sender}/tracker",
    summary="A conversation's tracker, in Rasa's JSON shape",
    response_description="sender_id, slots, latest_message, events, paused, latest_action_name, ... "
    "(a conversation with no events yet has an empty tracker).",
)
async def tracker(
    pack: str, sender: Sender, request: Request, include_pii: IncludePii = False
) -> dict[str, Any]:
    turns = turn_runner(request)
    conversation = await turns.tracker(pack, sender)
    return _shown(turns, turns.service.assistant(pack), conversation, conversation.to_json(), include_pii)


@router.post(
    "/packs/{pack}/conversations/{sender}/messages",
    response_model=TurnAnswer,
    responses={413: ERRORS[413], 415: ERRORS[415], 422: ERRORS[422]},
    summary="Send a message into a conversation, as if the customer typed it",
)
async def inject_message(
    pack: str, sender: Sender, body: InjectMessage, request: Request, include_pii: IncludePii = False
) -> JSONResponse:
    turns = turn_runner(request)
    reply = await turns.message(
        pack,
        sender,
        body.text,
        channel=body.channel,
        metric_channel="api",
        metadata=body.metadata,
        message_id=body.message_id,
    )
    return await _answer(turns, pack, sender, reply.turn, include_pii)


@router.post(
    "/packs/{pack}/conversations/{sender}/intents",
    response_model=TurnAnswer,
    responses={413: ERRORS[413], 415: ERRORS[415], 422: ERRORS[422]},
    summary="Send an intent (with entity or slot values) into a conversation, as a button would",
    description='Sent as the payload `/intent{"name": value}`: read as given, without the NLU.',
)
async def inject_intent(
    pack: str, sender: Sender, body: InjectIntent, request: Request, include_pii: IncludePii = False
) -> JSONResponse:
    turns = turn_runner(request)
    served = turns.service.assistant(pack).pack
    if body.intent not in served.intents:
        raise ApiError(
            422,
            "unknown_intent",
            f"pack '{pack}' has no intent '{body.intent}'; its intents: {', '.join(sorted(served.intents))}",
        )
    unknown = sorted(set(body.entities) - set(served.slots) - set(served.entities))
    if unknown:
        raise ApiError(
            422,
            "unknown_entity",
            f"pack '{pack}' has no slot or entity {', '.join(map(repr, unknown))}; its slots: "
            f"{', '.join(sorted(served.slots))}; its entities: {', '.join(sorted(served.entities))}",
        )
    payload = f"/{body.intent}" + (json.dumps(body.entities, ensure_ascii=False) if body.entities else "")
    reply = await turns.message(pack, sender, payload, channel=body.channel, metric_channel="api")
    return await _answer(turns, pack, sender, reply.turn, include_pii)


@router.post(
    "/packs/{pack}/conversations/{sender}/handoff/end",
    response_model=TurnAnswer,
    responses={409: {"model": ErrorBody, "description": "The conversation has no open handoff."}},
    summary="A person hands the conversation back to the bot",
)
async def end_handoff(
    pack: str, sender: Sender, body: EndHandoff, request: Request, include_pii: IncludePii = False
) -> JSONResponse:
    turns = turn_runner(request)

    def change(assistant: Assistant, conversation: Tracker) -> TurnResult:
        return assistant.end_handoff(conversation, resume=body.resume, agent=body.agent, channel=body.channel)

    result = await turns.apply(pack, sender, change)
    return await _answer(turns, pack, sender, result, include_pii)


@router.post(
    "/packs/{pack}/conversations/{sender}/handoff/accept",
    response_model=TurnAnswer,
    responses={409: {"model": ErrorBody, "description": "The conversation has no open handoff."}},
    summary="A person takes the conversation",
)
async def accept_handoff(
    pack: str, sender: Sender, body: AcceptHandoff, request: Request, include_pii: IncludePii = False
) -> JSONResponse:
    turns = turn_runner(request)

    def change(assistant: Assistant, conversation: Tracker) -> TurnResult:
        return assistant.accept_handoff(conversation, body.agent)

    result = await turns.apply(pack, sender, change)
    return await _answer(turns, pack, sender, result, include_pii)


async def _answer(
    turns: TurnRunner, pack: str, sender: str, turn: TurnResult, include_pii: bool
) -> JSONResponse:
    events = [event.to_json() for event in turn.events]
    messages = [rest_message(sender, m) for m in turn.messages]
    assistant = turns.service.assistant(pack)
    redactor = turns.redactor(assistant.pack)
    if include_pii:
        log.info("conversation API answered with PII", extra={"include_pii": True})
    elif redactor.slots:
        conversation = await turns.tracker(pack, sender)
        shown = redactor.tracker_json(
            {"events": events, "messages": messages}, turns.secrets(assistant, conversation)
        )
        events, messages = shown["events"], shown["messages"]
    # Returned as is (documented by TurnAnswer): a model would add "text": null and the like.
    return JSONResponse({"sender_id": sender, "messages": messages, "events": events})


def _shown(
    turns: TurnRunner, assistant: Assistant, conversation: Tracker, data: dict[str, Any], include_pii: bool
) -> dict[str, Any]:
    if include_pii:
        log.info("conversation API answered with PII", extra={"include_pii": True})
        return data
    return turns.redactor(assistant.pack).tracker_json(data, turns.secrets(assistant, conversation))
