"""The web chat: a demo page at `/`, an embeddable widget, and the WebSocket it talks over.

Embedding
---------
One tag puts the chat on any site; the widget finds the server from its own `src`::

    <script src="https://chat.example.com/webchat/widget.js" data-pack="retail" defer></script>

`data-pack` names the pack (default: the server's first pack), `data-title` the panel's heading,
`data-open="true"` opens the panel at load. The widget is plain JavaScript and CSS served from
`static/` (no CDN, no fonts, no build step). It keeps a random sender id in the site's
localStorage, one per server and pack, so a reload continues the conversation; what is shown
after a reload comes from the server (the `history` frame), never from the browser.

Protocol of `WebSocket /webchat/ws?pack=<pack>&sender=<id>`
-----------------------------------------------------------
Both query parameters are optional: `pack` defaults to the server's default pack, and without
`sender` the server makes one up (the `history` frame says which). A sender id is 1 to 128
characters of letters, digits and `_-.:`; it is the conversation's only key, so clients should
make it unguessable. Every frame is a JSON object in a text frame.

Client to server (at most 4096 bytes a frame; `id` is optional, at most 64 characters, and is
echoed as `reply_to` and stored as the message id)::

    {"type": "message", "text": "where is my order?", "id": "m1"}
    {"type": "button", "title": "Where's my order?", "payload": "/order_status", "id": "m2"}

A button sends its payload as the message text, as Rasa does; the title is kept in the message's
metadata (`button_title`) so the conversation shows what the customer clicked. Texts, titles
and payloads are 1 to 1000 characters.

Server to client::

    {"type": "history", "pack": "retail", "title": "Retail assistant", "sender": "3f2a...",
     "messages": [
        {"role": "user", "text": "/order_status", "title": "Where's my order?", "id": "m2"},
        {"role": "bot", "recipient_id": "3f2a...", "text": "What's your order number? ..."}]}
    {"type": "typing", "reply_to": "m2"}
    {"type": "bot", "reply_to": "m2", "messages": [{"recipient_id": "3f2a...", "text": "...",
        "buttons": [{"title": "...", "payload": "/..."}]}]}
    {"type": "error", "code": "conversation_busy", "message": "...", "retryable": true, "reply_to": "m2"}

A `bot` frame without `reply_to` may come at any time: what was said outside the customer's
turns, as it happens (a person's message while they have the conversation, with `agent`: their
name; the bot's messages when it takes the conversation back).

`history` comes first on every connection: the conversation so far (at most the latest 200
messages), customer and bot turns oldest first, bot messages in Rasa's REST shape plus `role`.
Each message frame is answered by `typing`, then by exactly one `bot` (its `messages` may be
empty, e.g. while a person has the conversation) or one `error`. Frames are processed one at a
time, in the order they arrive.

Errors. Nothing of the frame was stored, and `retryable` says whether sending it again later can
succeed. The connection stays open after every error but the last two, which close it with 4400
or 4404: the same URL can never work.

| code | retryable | when |
|---|---|---|
| frame_too_large | no | the frame has more than 4096 bytes |
| invalid_json | no | the frame is not JSON |
| invalid_frame | no | binary frame, not an object, a missing or wrong field, an unknown key |
| unknown_frame_type | no | `type` is not message or button |
| empty_text | no | the text (title, payload) is empty or only spaces |
| text_too_long | no | the text (title, payload) has more than 1000 characters |
| conversation_busy | yes | another message of the conversation held it for the lock wait |
| store_unavailable | yes | the tracker or lock store failed; nothing was stored |
| concurrent_write | yes | another writer changed the conversation meanwhile; nothing was stored |
| internal_error | no | a bug, logged on the server |
| invalid_sender | no | the sender id is not 1 to 128 of letters, digits and `_-.:` (closes: 4400) |
| unknown_pack | no | the pack is not served here (closes: 4404) |

A store that fails while the history is read closes the connection with 1011 after a
store_unavailable error; the widget then reconnects with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import json
import logging
import re
import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict, cast

import anyio.to_thread
from fastapi import APIRouter, Request, Response, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse

from engine.dialogue.events import BotUttered, UserUttered
from engine.dialogue.tracker import Tracker
from engine.handoff.live import LiveChannels, Subscription
from engine.server.errors import ConversationBusy
from engine.server.service import ConversationService, Reply, UnknownPack, rest_message
from engine.server.turns import TurnFailed, TurnRunner
from engine.stores.base import ConcurrentWrite, LockTimeout, StoreError

log = logging.getLogger(__name__)

#: The channel name given to the dialogue runtime (responses may have webchat variations).
CHANNEL = "webchat"
MAX_FRAME_BYTES = 4096
MAX_TEXT_CHARS = 1000
MAX_ID_CHARS = 64
#: Messages replayed on connect: the latest ones.
HISTORY_LIMIT = 200
SENDER = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")
#: Close codes (4000-4999 are the application's): reconnecting with these parameters is useless.
CLOSE_INVALID_SENDER = 4400
CLOSE_UNKNOWN_PACK = 4404
CLOSE_SERVER_ERROR = 1011

STATIC = Path(__file__).resolve().parent / "static"
#: Browsers may reuse the widget for 10 minutes, then revalidate it with its ETag.
CACHE_CONTROL = "public, max-age=600"

ErrorCode = Literal[
    "frame_too_large",
    "invalid_json",
    "invalid_frame",
    "unknown_frame_type",
    "empty_text",
    "text_too_long",
    "conversation_busy",
    "store_unavailable",
    "concurrent_write",
    "internal_error",
    "invalid_sender",
    "unknown_pack",
]


# -- frames ----------------------------------------------------------------------------------
class HistoryMessage(TypedDict, total=False):
    """A customer message (`role` user: `text`, with `title` for a button) or a bot message
    (`role` bot: Rasa's REST shape)."""

    role: Literal["user", "bot"]
    text: str
    title: str
    id: str
    recipient_id: str
    buttons: list[dict[str, Any]]
    quick_replies: list[dict[str, Any]]
    image: str
    custom: Any
    attachment: Any
    elements: Any


class HistoryFrame(TypedDict):
    type: Literal["history"]
    pack: str
    #: The assistant's name, for the panel's heading.
    title: str
    sender: str
    messages: list[HistoryMessage]


class TypingFrame(TypedDict):
    type: Literal["typing"]
    reply_to: NotRequired[str]


class BotFrame(TypedDict):
    type: Literal["bot"]
    messages: list[dict[str, Any]]
    reply_to: NotRequired[str]


class ErrorFrame(TypedDict):
    type: Literal["error"]
    code: ErrorCode
    message: str
    retryable: bool
    reply_to: NotRequired[str]


class FrameError(ValueError):
    """A client frame that cannot be processed; `code` is one of the protocol's error codes."""

    def __init__(self, code: ErrorCode, message: str, *, reply_to: str | None = None) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.reply_to = reply_to


@dataclass(frozen=True)
class Incoming:
    """A valid client frame: the text to process, and the button title when one was clicked."""

    text: str
    title: str | None = None
    id: str | None = None

    @property
    def metadata(self) -> dict[str, Any]:
        return {"button_title": self.title} if self.title is not None else {}


_KEYS: dict[str, frozenset[str]] = {
    "message": frozenset({"type", "text", "id"}),
    "button": frozenset({"type", "title", "payload", "id"}),
}


def parse_frame(text: str | None, data: bytes | None = None) -> Incoming:
    """Read one client frame (a WebSocket text frame, or a binary one, which is refused).

    Raises `FrameError` naming what is wrong: frame_too_large, invalid_json, invalid_frame,
    unknown_frame_type, empty_text or text_too_long."""
    if text is None:
        size = len(data or b"")
        if size > MAX_FRAME_BYTES:
            raise FrameError(
                "frame_too_large", f"a frame may have at most {MAX_FRAME_BYTES} bytes; got {size}"
            )
        raise FrameError("invalid_frame", "send JSON objects in text frames, not binary frames")
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_FRAME_BYTES:
        raise FrameError("frame_too_large", f"a frame may have at most {MAX_FRAME_BYTES} bytes; got {size}")
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise FrameError("invalid_json", f"the frame is not valid JSON: {error}") from None
    if not isinstance(frame, dict):
        raise FrameError("invalid_frame", f"a frame must be a JSON object, not {type(frame).__name__}")
    reply_to = _message_id(frame.get("id"))
    kind = frame.get("type")
    keys = _KEYS.get(kind) if isinstance(kind, str) else None
    if keys is None:
        raise FrameError(
            "unknown_frame_type", f"unknown frame type {kind!r}; known: {', '.join(_KEYS)}", reply_to=reply_to
        )
    unknown = sorted(set(frame) - keys)
    if unknown:
        raise FrameError(
            "invalid_frame",
            f"unknown key(s) {', '.join(unknown)} in a {kind} frame; allowed: {', '.join(sorted(keys))}",
            reply_to=reply_to,
        )
    if kind == "button":
        title = _text(frame, "title", reply_to)
        return Incoming(_text(frame, "payload", reply_to), title=title, id=reply_to)
    return Incoming(_text(frame, "text", reply_to), id=reply_to)


def _message_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_ID_CHARS:
        raise FrameError("invalid_frame", f"'id' must be a string of 1 to {MAX_ID_CHARS} characters")
    return value


def _text(frame: dict[str, Any], key: str, reply_to: str | None) -> str:
    value = frame.get(key)
    if not isinstance(value, str):
        raise FrameError(
            "invalid_frame", f"a {frame['type']} frame needs '{key}' as a string", reply_to=reply_to
        )
    value = value.strip()
    if not value:
        raise FrameError("empty_text", f"'{key}' is empty", reply_to=reply_to)
    if len(value) > MAX_TEXT_CHARS:
        raise FrameError(
            "text_too_long",
            f"'{key}' may have at most {MAX_TEXT_CHARS} characters; got {len(value)}",
            reply_to=reply_to,
        )
    return value


def error_frame(
    code: ErrorCode, message: str, *, retryable: bool = False, reply_to: str | None = None
) -> ErrorFrame:
    frame: ErrorFrame = {"type": "error", "code": code, "message": message, "retryable": retryable}
    if reply_to is not None:
        frame["reply_to"] = reply_to
    return frame


def history(tracker: Tracker, *, limit: int = HISTORY_LIMIT) -> list[HistoryMessage]:
    """The conversation as the customer saw it: their messages and the bot's, oldest first
    (the latest `limit`). A button click shows its title when the message's metadata has one."""
    messages: list[HistoryMessage] = []
    for event in tracker.events:
        if isinstance(event, UserUttered):
            item: HistoryMessage = {"role": "user", "text": event.text}
            title = event.metadata.get("button_title")
            if isinstance(title, str) and title:
                item["title"] = title
            if event.message_id:
                item["id"] = event.message_id
            messages.append(item)
        elif isinstance(event, BotUttered):
            recipient = tracker.sender_id.removeprefix(KEY_PREFIX)
            messages.append(cast(HistoryMessage, {"role": "bot", **rest_message(recipient, event)}))
    return messages[-limit:] if limit else []


# -- routes ----------------------------------------------------------------------------------
router = APIRouter(tags=["webchat"])


def _conversations(state_holder: Request | WebSocket) -> ConversationService:
    service = getattr(state_holder.app.state, "conversations", None)
    if not isinstance(service, ConversationService):
        raise RuntimeError("the web chat needs app.state.conversations set to a ConversationService")
    return service


def assistant_name(pack: str) -> str:
    """The assistant's name shown to customers: "Retail assistant" for retail, "IT helpdesk
    assistant" for it_helpdesk (words of one or two letters are taken as abbreviations)."""
    words = [w.upper() if len(w) <= 2 else w for w in pack.replace("-", "_").split("_") if w]
    name = " ".join(words) or pack
    return f"{name[:1].upper()}{name[1:]} assistant"


@router.get("/", response_class=HTMLResponse, summary="The web chat's demo page")
def page(request: Request, pack: str | None = None) -> HTMLResponse:
    """A page with the widget on it, and the tag that puts it on another site. Raises
    `UnknownPack` for a pack not served here (404 unknown_pack, by the server's error handlers)."""
    service = _conversations(request)
    name = pack or service.default_pack
    assistant = service.assistant(name)
    title = assistant_name(name)
    src = html.escape(str(request.url_for("webchat_widget_js")))
    snippet = f'<script src="{src}" data-pack="{html.escape(name)}" defer></script>'
    values = {
        "title": html.escape(title),
        "description": html.escape(assistant.pack.description or f"The {name} pack's assistant."),
        "snippet_code": html.escape(snippet),
        "snippet": snippet,
    }
    text = (STATIC / "index.html").read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{ " + key + " }}", value)
    return HTMLResponse(text, headers={"Cache-Control": "no-cache"})


def _static(request: Request, name: str, media_type: str) -> Response:
    body = (STATIC / name).read_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": etag, "X-Content-Type-Options": "nosniff"}
    if etag in {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@router.get("/webchat/widget.js", name="webchat_widget_js", summary="The embeddable chat widget")
def widget_js(request: Request) -> Response:
    return _static(request, "widget.js", "text/javascript; charset=utf-8")


@router.get("/webchat/widget.css", name="webchat_widget_css", summary="The widget's styles")
def widget_css(request: Request) -> Response:
    return _static(request, "widget.css", "text/css; charset=utf-8")


@router.websocket("/webchat/ws")
async def webchat_socket(websocket: WebSocket, pack: str | None = None, sender: str | None = None) -> None:
    """One browser tab's conversation; see the module's docstring for the protocol."""
    runner = _Runner(_conversations(websocket), getattr(websocket.app.state, "turns", None))
    await websocket.accept()
    # When the tab goes away, whatever it sent is stored already, and replayed on its return.
    with contextlib.suppress(WebSocketDisconnect):
        await _converse(websocket, runner, pack or runner.service.default_pack, sender)


KEY_PREFIX = "webchat:"


def conversation_key(sender: str) -> str:
    """The stored conversation of a web chat sender: web chat conversations have their own key
    space, so the socket can never replay a conversation another channel holds (a REST sender id
    such as a customer number is easy to guess; the widget's ids are random)."""
    return KEY_PREFIX + sender


class _Runner:
    """Runs the service's blocking calls off the event loop: through the app's `TurnRunner`
    (`app.state.turns`: metrics, redacted turn logs, bounded threads) when it has one, else in
    anyio's worker threads (an app with the web chat alone)."""

    def __init__(self, service: ConversationService, turns: object) -> None:
        self.service = service
        self.turns = turns if isinstance(turns, TurnRunner) else None

    async def tracker(self, pack: str, sender: str) -> Tracker:
        sender = conversation_key(sender)
        if self.turns is not None:
            return await self.turns.tracker(pack, sender)
        return await anyio.to_thread.run_sync(self.service.tracker, pack, sender)

    async def message(self, pack: str, sender: str, incoming: Incoming) -> Reply:
        """Raises what `ConversationService.handle` raises, or `ConversationBusy` for `LockTimeout`
        through the TurnRunner."""
        reply = await self._message(pack, conversation_key(sender), incoming)
        for message in reply.messages:
            message["recipient_id"] = sender
        return reply

    async def _message(self, pack: str, sender: str, incoming: Incoming) -> Reply:
        if self.turns is not None:
            return await self.turns.message(
                pack,
                sender,
                incoming.text,
                channel=CHANNEL,
                metadata=incoming.metadata,
                message_id=incoming.id,
            )
        handle = partial(
            self.service.handle,
            pack,
            sender,
            incoming.text,
            channel=CHANNEL,
            metadata=incoming.metadata,
            message_id=incoming.id,
        )
        return await anyio.to_thread.run_sync(handle)


async def _converse(websocket: WebSocket, runner: _Runner, pack: str, sender: str | None) -> None:
    if sender is not None and not SENDER.fullmatch(sender):
        await _close(
            websocket,
            error_frame("invalid_sender", "a sender id is 1 to 128 characters of letters, digits and _-.:"),
            CLOSE_INVALID_SENDER,
        )
        return
    sender = sender or uuid.uuid4().hex
    try:
        tracker = await runner.tracker(pack, sender)
    except UnknownPack as error:
        await _close(websocket, error_frame("unknown_pack", str(error)), CLOSE_UNKNOWN_PACK)
        return
    except StoreError as error:
        log.warning("webchat: cannot read conversation %s/%s: %s", pack, sender, error)
        message = "the conversation cannot be read right now; reconnect later"
        await _close(websocket, error_frame("store_unavailable", message, retryable=True), CLOSE_SERVER_ERROR)
        return
    opening: HistoryFrame = {
        "type": "history",
        "pack": pack,
        "title": assistant_name(pack),
        "sender": sender,
        "messages": history(tracker),
    }
    await websocket.send_json(opening)
    live = getattr(getattr(websocket.app.state, "desk", None), "live", None)
    if not isinstance(live, LiveChannels):
        await _serve(websocket, runner, pack, sender)
        return
    with live.subscribe(pack, conversation_key(sender)) as subscription:
        forwarding = asyncio.create_task(_forward(websocket, subscription, sender))
        try:
            await _serve(websocket, runner, pack, sender)
        finally:
            forwarding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await forwarding


async def _forward(websocket: WebSocket, subscription: Subscription, sender: str) -> None:
    """Send what was said outside the customer's turns (an agent's messages, the bot taking
    over again) as it happens, as `bot` frames without `reply_to`. A socket that closed stops
    it quietly: the messages are stored, and shown again on the next connection."""
    while True:
        messages = await subscription.get()
        frame: BotFrame = {"type": "bot", "messages": [{**m, "recipient_id": sender} for m in messages]}
        try:
            await websocket.send_json(frame)
        except (WebSocketDisconnect, RuntimeError, OSError):
            return


async def _serve(websocket: WebSocket, runner: _Runner, pack: str, sender: str) -> None:
    while True:
        received = await websocket.receive()
        if received["type"] == "websocket.disconnect":
            return
        try:
            incoming = parse_frame(received.get("text"), received.get("bytes"))
        except FrameError as error:
            await websocket.send_json(error_frame(error.code, str(error), reply_to=error.reply_to))
            continue
        typing: TypingFrame = {"type": "typing"}
        if incoming.id is not None:
            typing["reply_to"] = incoming.id
        await websocket.send_json(typing)
        answer = await _process(runner, pack, sender, incoming)
        if answer["type"] == "error" and answer["code"] == "unknown_pack":
            await _close(websocket, answer, CLOSE_UNKNOWN_PACK)
            return
        await websocket.send_json(answer)


async def _process(runner: _Runner, pack: str, sender: str, incoming: Incoming) -> BotFrame | ErrorFrame:
    """Run one turn; the answer is the reply, or the error that stopped it."""
    reply_to = incoming.id
    try:
        reply = await runner.message(pack, sender, incoming)
    except UnknownPack as error:  # the pack was unloaded while the conversation was open
        return error_frame("unknown_pack", str(error), reply_to=reply_to)
    except (LockTimeout, ConversationBusy):
        message = "the conversation is busy with another message; send this one again in a moment"
        return error_frame("conversation_busy", message, retryable=True, reply_to=reply_to)
    except ConcurrentWrite:
        message = "the conversation changed while this message was processed; send it again"
        return error_frame("concurrent_write", message, retryable=True, reply_to=reply_to)
    except StoreError as error:
        log.warning("webchat: conversation %s/%s not processed: %s", pack, sender, error)
        message = "the message could not be processed right now; send it again in a moment"
        return error_frame("store_unavailable", message, retryable=True, reply_to=reply_to)
    except Exception as error:
        if not isinstance(error, TurnFailed):  # TurnRunner logged that one, redacted
            log.exception("webchat: conversation %s/%s: the turn failed", pack, sender)
        message = "something went wrong on the server while processing this message"
        return error_frame("internal_error", message, reply_to=reply_to)
    frame: BotFrame = {"type": "bot", "messages": reply.messages}
    if reply_to is not None:
        frame["reply_to"] = reply_to
    return frame


async def _close(websocket: WebSocket, frame: ErrorFrame, code: int) -> None:
    await websocket.send_json(frame)
    await websocket.close(code=code, reason=frame["code"])
