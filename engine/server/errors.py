"""Every error the server answers, in one shape and decided in one place.

Body: `{"error": {"code": "<stable code>", "message": "<what happened and what to do>", ...}}`;
retryable errors also carry a `Retry-After` header. The codes:

| status | code | when |
|---|---|---|
| 400 | invalid_json, invalid_utf8 | the body is not JSON, or not UTF-8 |
| 401 | unauthorized | the conversation API without the right bearer token |
| 404 | not_found, unknown_pack | no such route, or the pack is not served here |
| 405 | method_not_allowed | the route exists for other methods |
| 409 | no_open_handoff, concurrent_write | handoff end/accept without an open handoff; a write raced |
| 413 | body_too_large | the body exceeds server.max_body_bytes |
| 415 | unsupported_media_type | a body that is not application/json |
| 422 | invalid_request | JSON of the wrong shape: missing fields, wrong types, too long |
| 503 | conversation_busy | the conversation's lock was not free in time (retry) |
| 503 | store_unavailable | the tracker or lock store failed (retry) |
| 503 | api_disabled | the API's token variable is not set on the server |
| 500 | internal_error | a bug: logged with the request id |
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.dialogue.runtime import HandoffStateError
from engine.handoff.tickets import TicketError
from engine.server.logs import REQUEST_ID
from engine.server.service import UnknownPack
from engine.stores.base import ConcurrentWrite, LockTimeout, StoreError

log = logging.getLogger(__name__)

#: Seconds a client should wait before sending a message again after a 503.
RETRY_AFTER_BUSY = 2
RETRY_AFTER_STORE = 5


class ApiError(Exception):
    """An error answered as is: status, stable code, message, extra fields and headers."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.fields = fields


class ConversationBusy(ApiError):
    """A message waited longer than the lock wait for its conversation, or found as many of its
    messages waiting as one conversation may have (`waited` None): not processed, not lost."""

    def __init__(self, pack: str, sender_id: str, waited: float | None) -> None:
        why = (
            f"another message of it was still being processed after {waited:g} s"
            if waited is not None
            else "as many of its messages as it may have are being processed or waiting already"
        )
        super().__init__(
            503,
            "conversation_busy",
            f"conversation '{sender_id}' of pack '{pack}' is busy: {why}. This message was not "
            "processed; send it again.",
            headers={"Retry-After": str(RETRY_AFTER_BUSY)},
            conversation={"pack": pack, "sender_id": sender_id},
            retry_after=RETRY_AFTER_BUSY,
        )


def error_body(code: str, message: str, **fields: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **fields}}


def error_response(
    status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None, **fields: Any
) -> JSONResponse:
    return JSONResponse(error_body(code, message, **fields), status_code=status, headers=dict(headers or {}))


def _from_exception(error: Exception) -> ApiError:
    """The one mapping from exceptions to answers."""
    if isinstance(error, ApiError):
        return error
    if isinstance(error, UnknownPack):
        return ApiError(404, "unknown_pack", str(error))
    if isinstance(error, TicketError):
        return ApiError(error.status, error.code, str(error))
    if isinstance(error, HandoffStateError):
        return ApiError(409, "no_open_handoff", str(error))
    if isinstance(error, LockTimeout):  # a lock taken outside the turn runner (which names the conversation)
        return ApiError(
            503,
            "conversation_busy",
            f"{error}; send it again",
            headers={"Retry-After": str(RETRY_AFTER_BUSY)},
        )
    # Store errors name hosts, users and driver messages: they go to the log, not to the client.
    if isinstance(error, ConcurrentWrite):
        log.warning("concurrent write: %s", error)
        return ApiError(
            409,
            "concurrent_write",
            "the conversation changed while this message was processed; nothing of it was stored "
            "(custom actions it called may have run); send it again",
            headers={"Retry-After": "1"},
        )
    if isinstance(error, StoreError):
        log.error("store unavailable: %s", error)
        return ApiError(
            503,
            "store_unavailable",
            "the conversation store is unavailable; nothing of this message was stored; send it again later",
            headers={"Retry-After": str(RETRY_AFTER_STORE)},
        )
    return internal_error()


def internal_error() -> ApiError:
    return ApiError(
        500,
        "internal_error",
        f"the server failed to handle this request (request id {REQUEST_ID.get()}); it is logged",
    )


def _validation_error(error: RequestValidationError) -> ApiError:
    problems = []
    for item in error.errors():
        location = [str(part) for part in item.get("loc", ()) if part != "body"]
        if item.get("type") == "json_invalid":
            detail = item.get("ctx", {}).get("error", "not valid JSON")
            return ApiError(400, "invalid_json", f"the body is not valid JSON: {detail}")
        problems.append({"field": ".".join(location) or "body", "problem": item.get("msg", "invalid")})
    message = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
    return ApiError(422, "invalid_request", message or "invalid request", problems=problems)


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, error: Exception) -> JSONResponse:
        answer = _from_exception(error)
        if answer.status >= 500 and answer.code == "internal_error":
            log.error("unhandled error", exc_info=error)
        elif answer.status >= 500:
            log.warning("%s: %s", answer.code, answer.message)
        return error_response(
            answer.status, answer.code, answer.message, headers=answer.headers, **answer.fields
        )

    async def invalid(request: Request, error: Exception) -> JSONResponse:
        if not isinstance(error, RequestValidationError):
            raise error
        return await api_error(request, _validation_error(error))

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        if not isinstance(error, StarletteHTTPException):
            raise error
        if error.status_code == 404:
            answer = ApiError(404, "not_found", f"no route {request.method} {request.url.path}")
        elif error.status_code == 405:
            answer = ApiError(
                405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}"
            )
        else:
            answer = ApiError(error.status_code, "http_error", str(error.detail))
        headers = {**(error.headers or {}), **answer.headers}
        return error_response(answer.status, answer.code, answer.message, headers=headers)

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
    # Other exceptions are bugs: RequestContextMiddleware answers them with internal_error.
    for kind in (ApiError, UnknownPack, HandoffStateError, TicketError, StoreError):
        app.add_exception_handler(kind, api_error)
