"""Prometheus metrics of the server, in a registry of its own (tests build many apps).

Label values come from the served packs and from fixed lists, never from customer input, so the
number of series stays bounded: an intent or action the pack does not declare counts as `other`.

With several worker processes (`parley run --workers N`), `parley run` points
PROMETHEUS_MULTIPROC_DIR at a fresh folder and /metrics adds up the values of every worker.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from engine.dialogue.events import (
    ActionExecuted,
    ActionFailed,
    Event,
    FallbackCounted,
    HandoffRequested,
    UserUttered,
)
from engine.nlu.types import OUT_OF_SCOPE
from engine.packs import Pack

OTHER = "other"
MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
#: Why a message was not understood (FallbackCounted.reason).
FALLBACK_REASONS = frozenset({"out_of_scope", "below_threshold", "no_words", "no_flow"})
TURN_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.messages = Counter(
            "parley_messages", "Customer messages processed.", ["channel", "pack"], registry=registry
        )
        self.turn_seconds = Histogram(
            "parley_turn_seconds",
            "Time to process one message: lock, load, turn, actions and append.",
            ["pack"],
            buckets=TURN_BUCKETS,
            registry=registry,
        )
        self.intent_confidence = Histogram(
            "parley_intent_confidence",
            "Confidence of the intent the NLU read (out_of_scope: the message was not understood).",
            ["pack", "intent"],
            buckets=CONFIDENCE_BUCKETS,
            registry=registry,
        )
        self.fallbacks = Counter(
            "parley_fallbacks", "Messages not understood, by reason.", ["pack", "reason"], registry=registry
        )
        self.escalations = Counter(
            "parley_escalations",
            "Conversations handed to people, by reason and queue.",
            ["pack", "reason", "queue"],
            registry=registry,
        )
        self.action_calls = Counter(
            "parley_action_calls",
            "Custom action calls, by outcome: ok, or the failure (timeout, refused, error, rejected, "
            "malformed, unknown_action, circuit_open).",
            ["pack", "action", "outcome"],
            registry=registry,
        )
        self.lock_timeouts = Counter(
            "parley_lock_timeouts",
            "Messages answered 503 because their conversation stayed busy.",
            ["pack"],
            registry=registry,
        )
        self.http_requests = Counter(
            "parley_http_requests",
            "HTTP requests, by route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.model_reloads = Counter(
            "parley_model_reloads",
            "Models swapped in (ok) or rejected (failed) while serving.",
            ["pack", "outcome"],
            registry=registry,
        )
        self.model_info = Gauge(
            "parley_model_info",
            "The model each pack is served with (value 1).",
            ["pack", "model_id"],
            registry=registry,
            multiprocess_mode="max",
        )
        self.channel_messages = Counter(
            "parley_channel_messages",
            "Messenger webhook deliveries, by connector and outcome: received, duplicate (a "
            "platform's retry, not processed again), rejected (failed verification), malformed, "
            "processed, retried (the conversation was busy or the store failed), failed.",
            ["channel", "outcome"],
            registry=registry,
        )
        self.channel_sends = Counter(
            "parley_channel_sends",
            "Calls to messenger platforms' APIs, by connector and outcome: sent, retried (429, 5xx, "
            "unreachable), failed.",
            ["channel", "outcome"],
            registry=registry,
        )
        self._models: dict[str, str] = {}
        #: pack name -> (the Pack these label sets come from, intents, actions)
        self._labels: dict[str, tuple[Pack, frozenset[str], frozenset[str]]] = {}

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format (of every worker, with several)."""
        if os.environ.get(MULTIPROCESS_VARIABLE):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)

    def serving(self, pack: str, model_id: str | None) -> None:
        old = self._models.get(pack)
        if old is not None and old != model_id:
            self.model_info.labels(pack, old).set(0)
            self.model_info.remove(pack, old)
        if model_id is not None:
            self.model_info.labels(pack, model_id).set(1)
            self._models[pack] = model_id

    def turn(self, pack: Pack, channel: str, events: Iterable[Event], seconds: float) -> None:
        """Count a customer message and what its turn did."""
        self.messages.labels(channel, pack.name).inc()
        self.turn_seconds.labels(pack.name).observe(seconds)
        self.events(pack, events)

    def events(self, pack: Pack, events: Iterable[Event]) -> None:
        """Count what events of a turn (or of a handoff's end) say: intents, fallbacks,
        escalations, action calls."""
        intents, actions = self._known(pack)
        name = pack.name
        for event in events:
            if isinstance(event, UserUttered):
                intent = event.parse_data.get("intent")
                if isinstance(intent, dict) and intent.get("name"):
                    label = intent["name"] if intent["name"] in intents else OTHER
                    confidence = float(intent.get("confidence") or 0.0)
                    self.intent_confidence.labels(name, label).observe(confidence)
            elif isinstance(event, FallbackCounted):
                reason = event.reason if event.reason in FALLBACK_REASONS else OTHER
                self.fallbacks.labels(name, reason).inc()
            elif isinstance(event, HandoffRequested):
                self.escalations.labels(name, event.reason, event.queue).inc()
            elif isinstance(event, ActionExecuted) and event.name in actions:
                self.action_calls.labels(name, event.name, "ok").inc()
            elif isinstance(event, ActionFailed):
                self.action_calls.labels(
                    name, event.name if event.name in actions else OTHER, event.failure
                ).inc()

    def _known(self, pack: Pack) -> tuple[frozenset[str], frozenset[str]]:
        cached = self._labels.get(pack.name)
        if cached is None or cached[0] is not pack:  # a reloaded pack may declare other names
            cached = (pack, frozenset(pack.intents) | {OUT_OF_SCOPE}, frozenset(pack.actions))
            self._labels[pack.name] = cached
        return cached[1], cached[2]
