"""The HTTP boundary, as ASGI middleware: request ids and access logs, and request bodies checked
before any route sees them.

`RequestContextMiddleware` gives each request an id (the caller's `X-Request-ID` when it is a
sane token, else a new one), returns it in `X-Request-ID`, logs one line per request (probes and
/metrics at DEBUG), counts requests by route template, and answers a request that crashed with
a JSON 500 naming the request id.

`BodyGuardMiddleware` reads the whole body of POST, PUT and PATCH requests first: larger than
`max_body_bytes` → 413 (without reading further when Content-Length says so); a body whose
content type is not JSON → 415; not UTF-8 → 400. A body sent without a content type is taken
as JSON, as Rasa's REST channel does. Only then does the route parse the JSON. The messenger
connectors' webhooks (`/webhooks/<name>/webhook` other than REST's) also take HTML forms, which
Twilio and Slack's interactivity send.
"""

from __future__ import annotations

import email.message
import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.server.errors import error_response, internal_error
from engine.server.logs import REQUEST_ID
from engine.server.metrics import Metrics

log = logging.getLogger("engine.server.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
#: Routes polled by machines: their requests are logged at DEBUG only.
_QUIET = frozenset({"/health", "/ready", "/metrics"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
#: Paths that also take application/x-www-form-urlencoded bodies: the messenger connectors'.
_FORM_PATHS = re.compile(r"^/webhooks/(?!rest/)[a-z0-9_]+/webhook$")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        REQUEST_ID.set(request_id)  # the request's task has its own context: no reset needed
        start = time.perf_counter()
        status = 500
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            if started:
                raise
            answer = internal_error()
            response = error_response(answer.status, answer.code, answer.message)
            await response(scope, receive, send_with_id)
        finally:
            self._account(scope, status, time.perf_counter() - start)

    def _account(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or ("unmatched" if status == 404 else "other")
        self.metrics.http_requests.labels(scope["method"], template, str(status)).inc()
        level = logging.DEBUG if scope["path"] in _QUIET else logging.INFO
        log.log(
            level,
            "%s %s %d",
            scope["method"],
            scope["path"],
            status,
            extra={
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
            },
        )


class BodyGuardMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left: nothing to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body:
            content_type = headers.get("content-type")
            if content_type is None:
                scope = {**scope, "headers": [*scope["headers"], (b"content-type", b"application/json")]}
            elif not _is_json(content_type) and not (
                _is_form(content_type) and _FORM_PATHS.match(scope["path"])
            ):
                response = error_response(
                    415,
                    "unsupported_media_type",
                    f"the body must be UTF-8 JSON (Content-Type: application/json), not {content_type!r}",
                )
                await response(scope, receive, send)
                return
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as error:
                response = error_response(
                    400, "invalid_utf8", f"the body is not valid UTF-8 (byte {error.start}): send UTF-8 JSON"
                )
                await response(scope, receive, send)
                return
        await self.app(scope, _replay(body, receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413,
            "body_too_large",
            f"the body is larger than {self.max_body_bytes} bytes (server.max_body_bytes)",
            limit=self.max_body_bytes,
        )
        await response(scope, receive, send)


def _is_json(content_type: str) -> bool:
    parsed = email.message.Message()
    parsed["content-type"] = content_type
    if parsed.get_content_maintype() != "application":
        return False
    subtype = parsed.get_content_subtype()
    charset = parsed.get_param("charset")
    utf8 = charset is None or (
        isinstance(charset, str) and charset.lower().replace("_", "-") in ("utf-8", "utf8")
    )
    return (subtype == "json" or subtype.endswith("+json")) and utf8


def _is_form(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded"


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` for the app: the body already read, then whatever the server sends next."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
