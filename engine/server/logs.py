"""Structured logs: one JSON object per line, each with the request id and conversation id.

Context variables carry the ids from the request into every line written while it is handled,
including lines of the dialogue runtime and the action client running in worker threads
(anyio copies the context into them).

PII: while a turn runs, its log lines are held back (`held_back`) and written once the turn is
over, with every value of the conversation's PII slots replaced by `[redacted]`, including values
the customer typed in that very turn (which no one could know while the turn was running). The
server never logs customer texts or bot texts at INFO; the turn summary lists the slots the turn
set, with PII slots redacted by name.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from engine.dialogue.handoff import REDACTED

REQUEST_ID: ContextVar[str | None] = ContextVar("parley_request_id", default=None)
CONVERSATION_ID: ContextVar[str | None] = ContextVar("parley_conversation_id", default=None)
PACK: ContextVar[str | None] = ContextVar("parley_pack", default=None)
#: Log records of the running turn, written when it is over (see `held_back`).
_HELD: ContextVar[list[logging.LogRecord] | None] = ContextVar("parley_held_logs", default=None)

#: Attributes every LogRecord has; anything else on a record was passed in `extra=`.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
#: Attributes this module puts on records.
_OURS = ("request_id", "conversation_id", "pack", "parley_secrets", "color_message")


class ContextFilter(logging.Filter):
    """Stamps the ids of the current context on each record, and holds records back during a turn."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
            record.conversation_id = CONVERSATION_ID.get()
            record.pack = PACK.get()
        held = _HELD.get()
        if held is not None:
            held.append(record)
            return False
        return True


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", "request_id", "conversation_id", "pack", ...extra}`"""

    def format(self, record: logging.LogRecord) -> str:
        secrets: Sequence[str] = getattr(record, "parley_secrets", ())
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": _redact(record.getMessage(), secrets),
        }
        for key in ("request_id", "conversation_id", "pack"):
            value = getattr(record, key, None)
            if value is not None:
                data[key] = value
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in _OURS and not key.startswith("_"):
                data[key] = _redact_value(value, secrets)
        if record.exc_info:
            text = "".join(traceback.format_exception(*record.exc_info))
            data["exception"] = _redact(text, secrets)
        return json.dumps(data, ensure_ascii=False, default=str)


def _redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def _redact_value(value: Any, secrets: Sequence[str]) -> Any:
    if not secrets:
        return value
    if isinstance(value, str):
        return _redact(value, secrets)
    if isinstance(value, dict):
        return {k: _redact_value(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(v, secrets) for v in value]
    return value


@contextmanager
def held_back() -> Iterator[list[logging.LogRecord]]:
    """Hold back the log records written inside the block (in this context and the threads it
    starts); the caller writes them with `release` once it knows what to redact."""
    records: list[logging.LogRecord] = []
    token = _HELD.set(records)
    try:
        yield records
    finally:
        _HELD.reset(token)


def release(records: Sequence[logging.LogRecord], secrets: Sequence[str]) -> None:
    """Write held-back records, with `secrets` (longest first) redacted from them."""
    for record in records:
        record.parley_secrets = tuple(secrets)
        logging.getLogger(record.name).handle(record)


def json_handler(stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing JSON lines to `stream` (stderr), with ids, held-back turns and redaction."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    return handler


def configure_logging(level: str | int = "INFO", stream: IO[str] | None = None) -> logging.Handler:
    """JSON lines on stderr (or `stream`) for every logger, uvicorn's included; replaces the root
    logger's handlers. Returns the handler."""
    handler = json_handler(stream)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # urllib3 logs each request's path at DEBUG, and Telegram's paths hold the bot's token.
    logging.getLogger("urllib3").setLevel(logging.INFO)
    return handler
