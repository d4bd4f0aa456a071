"""The HTTP server: channels, the conversation API, health, metrics.

- `service.py`   ConversationService: one message under its conversation's lock, stored first
- `registry.py`  the assistant serving each pack, and model hot reload
- `turns.py`     turns in worker threads, with metrics and logs (what channels call)
- `rest.py`      Rasa's REST channel
- `api.py`       the conversation API (bearer token)
- `health.py`    /health, /ready, /metrics
- `boundary.py`  request ids, access logs, request bodies checked before routes see them
- `errors.py`    every error answer, mapped in one place
- `schemas.py`   wire payloads
- `metrics.py`, `logs.py`, `redaction.py`  Prometheus metrics, JSON logs, PII
- `app.py`       the FastAPI app, from parts (`create_app`) or from config.yml (`build_app`)
- `webchat.py`   the web chat (included by the app when present)

`parley run` (engine/cli_serve.py) trains what is stale and serves `build_app` on uvicorn.
"""

from engine.server.app import ServerSettings, build_app, create_app
from engine.server.registry import AssistantRegistry, Served
from engine.server.service import ConversationService, Reply, UnknownPack
from engine.server.turns import TurnRunner

__all__ = [
    "AssistantRegistry",
    "ConversationService",
    "Reply",
    "Served",
    "ServerSettings",
    "TurnRunner",
    "UnknownPack",
    "build_app",
    "create_app",
]
