"""Probes and metrics: `/health` (the process answers), `/ready` (every pack has a model and the
stores answer; also picks up newly trained models), `/metrics` (Prometheus text format)."""

from __future__ import annotations

import logging
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from engine.server.metrics import Metrics
from engine.server.registry import AssistantRegistry, Reload
from engine.server.turns import TurnRunner

log = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])


@router.get("/health", summary="The server is alive")
async def health() -> dict[str, str]:
    return {"status": "alive"}


@router.get(
    "/ready",
    summary="The server can answer: every pack has a model, the stores answer",
    responses={503: {"description": "Not ready: `problems` says why."}},
)
async def ready(request: Request) -> JSONResponse:
    registry: AssistantRegistry = request.app.state.registry
    turns: TurnRunner = request.app.state.turns
    metrics: Metrics = request.app.state.metrics
    # Not on the turn threads: a slow reload must not take a thread from customers.
    record_reloads(metrics, registry, await anyio.to_thread.run_sync(registry.refresh))
    problems: list[str] = []
    stores: dict[str, str] = {}
    for name, store in (("tracker", turns.service.trackers), ("lock", turns.service.locks)):
        try:
            await turns.run(store.check)
            stores[name] = "ok"
        except Exception as error:  # a probe answers, whatever the store raises
            stores[name] = "unavailable"
            log.error("ready: the %s store is unavailable: %s", name, error)  # details stay in the log
            problems.append(f"the {name} store is unavailable")
    packs: dict[str, Any] = {}
    for name in registry.names:
        served = registry.served(name)
        packs[name] = {
            "model_id": served.model_id,
            "loaded_at": served.loaded_at,
            "load_seconds": round(served.load_seconds, 4),
        }
    body: dict[str, Any] = {
        "status": "ready" if not problems else "not_ready",
        "packs": packs,
        "stores": stores,
    }
    if problems:
        body["problems"] = problems
        body["error"] = {"code": "not_ready", "message": "; ".join(problems)}
    return JSONResponse(body, status_code=503 if problems else 200)


@router.get("/metrics", summary="Metrics in Prometheus' text format", response_class=Response)
async def metrics(request: Request) -> Response:
    collected: Metrics = request.app.state.metrics
    return Response(collected.exposition(), media_type=CONTENT_TYPE_LATEST)


def record_reloads(metrics: Metrics, registry: AssistantRegistry, reloads: list[Reload]) -> None:
    for reload in reloads:
        metrics.model_reloads.labels(reload.pack, "ok" if reload.ok else "failed").inc()
        if reload.ok:
            metrics.serving(reload.pack, registry.served(reload.pack).model_id)
