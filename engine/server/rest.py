"""Rasa's REST channel: `POST /webhooks/rest/webhook` with `{"sender", "message", "metadata"?}`,
answered with the bot's messages `[{"recipient_id", "text"?, "buttons"?, "image"?, "custom"?}]`.

`/webhooks/rest/webhook` goes to the default pack (the first in config.yml);
`/packs/{pack}/webhooks/rest/webhook` to a named one. `?stream=true` answers one JSON message per
line, as Rasa does (all at once: the events are stored before anything is sent).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from engine.server.schemas import BotMessage, ErrorBody, RestMessage, RestStatus
from engine.server.turns import TurnRunner, turn_runner

router = APIRouter(tags=["REST channel"])

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "The body is not JSON or not UTF-8.",
        404: "The pack is not served here.",
        413: "The body is larger than server.max_body_bytes.",
        415: "The body is not application/json.",
        422: "Missing fields, wrong types, or a message that is too long.",
        503: "The conversation stayed busy (conversation_busy) or a store failed (store_unavailable): "
        "nothing was processed; send the message again after Retry-After seconds.",
    }.items()
}
ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"model": list[BotMessage], "description": "The bot's messages, stored before they are sent."},
    **ERRORS,
}


@router.get("/webhooks/rest/", response_model=RestStatus, summary="The REST channel is up (as Rasa's)")
async def rest_status() -> dict[str, str]:
    return {"status": "ok"}


@router.post("/webhooks/rest/webhook", responses=ANSWER, summary="Send a message to the default pack")
async def rest_webhook(
    body: RestMessage,
    request: Request,
    stream: bool = Query(False, description="One JSON message per line (text/event-stream), as Rasa."),
) -> Response:
    turns = turn_runner(request)
    return await _answer(turns, turns.service.default_pack, body, stream)


@router.get(
    "/packs/{pack}/webhooks/rest/",
    response_model=RestStatus,
    responses={404: ERRORS[404]},
    summary="The REST channel of a pack is up",
)
async def pack_rest_status(pack: str, request: Request) -> dict[str, str]:
    turn_runner(request).service.assistant(pack)  # UnknownPack: 404
    return {"status": "ok"}


@router.post("/packs/{pack}/webhooks/rest/webhook", responses=ANSWER, summary="Send a message to a pack")
async def pack_rest_webhook(
    pack: str,
    body: RestMessage,
    request: Request,
    stream: bool = Query(False, description="One JSON message per line (text/event-stream), as Rasa."),
) -> Response:
    return await _answer(turn_runner(request), pack, body, stream)


async def _answer(turns: TurnRunner, pack: str, body: RestMessage, stream: bool) -> Response:
    reply = await turns.message(
        pack,
        body.sender,
        body.message,
        channel=body.input_channel or "rest",
        metric_channel="rest",
        metadata=body.metadata,
        message_id=body.message_id,
        catch_up=True,  # REST cannot push: an agent's replies come with the next message
    )
    if stream:
        lines = "".join(json.dumps(message, ensure_ascii=False) + "\n" for message in reply.messages)
        return Response(lines, media_type="text/event-stream")
    return JSONResponse(reply.messages)
