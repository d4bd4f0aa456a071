"""Turns as the HTTP routes (and the web chat) run them: in worker threads, counted, logged.

The dialogue runtime, the stores and the action client are blocking code, so each turn runs in a
worker thread. The threads are bounded (`TURN_THREADS`): a turn mostly waits (for the
conversation's lock, the store, an action server), so a few dozen threads keep the CPU busy
without letting a burst of messages for one busy conversation take every thread.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from starlette.requests import Request

from engine.dialogue.events import (
    ActionExecuted,
    ActionFailed,
    BotUttered,
    Event,
    FallbackCounted,
    SlotSet,
    UserUttered,
)
from engine.dialogue.runtime import Assistant, TurnResult
from engine.dialogue.tracker import Tracker
from engine.packs import Pack
from engine.server.errors import ConversationBusy
from engine.server.logs import CONVERSATION_ID, PACK, held_back, release
from engine.server.metrics import Metrics
from engine.server.redaction import MIN_SECRET_CHARS, Redactor
from engine.server.service import ConversationService, Reply, UnknownPack
from engine.stores.base import LockTimeout, StoreError

log = logging.getLogger("engine.server.turns")

#: Worker threads for turns and store reads.
TURN_THREADS = 32
#: Messages of one conversation processed or waiting at once in a worker; more are answered
#: "busy" at once (retryable) instead of holding a thread while they wait for the lock.
MAX_IN_FLIGHT_PER_CONVERSATION = 4
T = TypeVar("T")


class TurnFailed(Exception):
    """A turn failed unexpectedly; the details are in the (redacted) log."""


class TurnRunner:
    """Runs the ConversationService's operations off the event loop, with metrics and logs.

    `app.state.turns` is the app's runner; channels use `message` for customer messages.
    """

    def __init__(
        self, service: ConversationService, metrics: Metrics, *, threads: int = TURN_THREADS
    ) -> None:
        self.service = service
        self.metrics = metrics
        self.limiter = anyio.CapacityLimiter(threads)
        self._redactors: dict[str, tuple[Pack, Redactor]] = {}
        #: pack:sender -> messages of that conversation being processed or waiting.
        self._in_flight: dict[str, int] = {}

    def redactor(self, pack: Pack) -> Redactor:
        cached = self._redactors.get(pack.name)
        if cached is None or cached[0] is not pack:
            cached = (pack, Redactor(pack))
            self._redactors[pack.name] = cached
        return cached[1]

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` in a worker thread (for store reads and other blocking calls)."""
        return await anyio.to_thread.run_sync(function, *args, limiter=self.limiter)

    async def message(
        self,
        pack: str,
        sender_id: str,
        text: str,
        *,
        channel: str,
        metric_channel: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        message_id: str | None = None,
        catch_up: bool = False,
    ) -> Reply:
        """Process one customer message and return the replies; its events are stored first.

        `channel` is what the runtime sees (conditions may test it); `metric_channel` labels the
        metrics (default: `channel`). Raises `UnknownPack`, `ConversationBusy` (the lock was not
        free in time: nothing was processed) and `StoreError` (nothing was stored).
        """
        assistant = self.service.assistant(pack)
        CONVERSATION_ID.set(sender_id)
        PACK.set(pack)
        key = f"{pack}:{sender_id}"
        # Messages of one conversation are processed one at a time: waiting ones would only hold
        # threads other customers need, so beyond a few the answer is "busy, send it again".
        if self._in_flight.get(key, 0) >= MAX_IN_FLIGHT_PER_CONVERSATION:
            self.metrics.lock_timeouts.labels(pack).inc()
            raise ConversationBusy(pack, sender_id, None)  # refused at once: nothing waited
        self._in_flight[key] = self._in_flight.get(key, 0) + 1
        try:
            return await self._message(
                assistant, pack, sender_id, text, channel, metric_channel, metadata, message_id, catch_up
            )
        finally:
            left = self._in_flight[key] - 1
            if left:
                self._in_flight[key] = left
            else:
                del self._in_flight[key]

    async def _message(
        self,
        assistant: Assistant,
        pack: str,
        sender_id: str,
        text: str,
        channel: str,
        metric_channel: str | None,
        metadata: Mapping[str, Any] | None,
        message_id: str | None,
        catch_up: bool,
    ) -> Reply:
        def work() -> tuple[Reply, float]:
            start = time.perf_counter()
            records: list[logging.LogRecord] = []
            reply: Reply | None = None
            try:
                with held_back() as records:
                    try:
                        reply = self.service.handle(
                            pack,
                            sender_id,
                            text,
                            channel=channel,
                            metadata=metadata,
                            message_id=message_id,
                            catch_up=catch_up,
                        )
                    except (LockTimeout, StoreError, UnknownPack):
                        raise
                    except Exception:
                        # Logged here, with the turn's records, so its text is redacted like
                        # them (an error may quote a slot value); what escapes names nothing.
                        log.exception("the turn failed")
                        raise TurnFailed(f"the turn of conversation {sender_id} failed") from None
                return reply, time.perf_counter() - start
            finally:
                if records:
                    conversation = reply.conversation if reply is not None else None
                    self._release(assistant, sender_id, records, text=text, conversation=conversation)

        try:
            reply, seconds = await self.run(work)
        except LockTimeout as error:
            self.metrics.lock_timeouts.labels(pack).inc()
            raise ConversationBusy(pack, sender_id, self.service.lock_wait) from error
        if reply.replayed:  # a retried delivery: counted and logged when it was processed
            log.debug("message %s of %s answered again from the stored turn", message_id, sender_id)
            return reply
        self.metrics.turn(assistant.pack, metric_channel or channel, reply.turn.events, seconds)
        self._log_turn(assistant, reply.turn, seconds, channel)
        return reply

    async def apply(
        self, pack: str, sender_id: str, change: Callable[[Assistant, Tracker], TurnResult]
    ) -> TurnResult:
        """Run `change` on the conversation under its lock (see `ConversationService.apply`)."""
        assistant = self.service.assistant(pack)
        CONVERSATION_ID.set(sender_id)
        PACK.set(pack)

        def work() -> TurnResult:
            records: list[logging.LogRecord] = []
            try:
                with held_back() as records:
                    return self.service.apply(pack, sender_id, change)
            finally:
                if records:
                    self._release(assistant, sender_id, records, text=None)

        try:
            result = await self.run(work)
        except LockTimeout as error:
            self.metrics.lock_timeouts.labels(pack).inc()
            raise ConversationBusy(pack, sender_id, self.service.lock_wait) from error
        self.metrics.events(assistant.pack, result.events)
        return result

    async def tracker(self, pack: str, sender_id: str) -> Tracker:
        CONVERSATION_ID.set(sender_id)
        PACK.set(pack)
        self.service.assistant(pack)  # UnknownPack before any thread
        return await self.run(self.service.tracker, pack, sender_id)

    def secrets(self, assistant: Assistant, tracker: Tracker) -> tuple[str, ...]:
        return self.redactor(assistant.pack).secrets(tracker.events)

    # -- logs ------------------------------------------------------------------------------
    def _release(
        self,
        assistant: Assistant,
        sender_id: str,
        records: Sequence[logging.LogRecord],
        *,
        text: str | None,
        conversation: Sequence[Event] | None = None,
    ) -> None:
        """Write the turn's held-back log lines with the conversation's secrets redacted: those of
        `conversation` (the events after the turn; read from the store when the turn did not
        finish), the message's, and when the conversation cannot be read (the store failed),
        every word of the message."""
        redactor = self.redactor(assistant.pack)
        if not redactor.slots:
            release(records, ())
            return
        words: list[str] = []
        try:
            events: Sequence[Event] = (
                conversation
                if conversation is not None
                else self.service.tracker(assistant.pack.name, sender_id).events
            )
        except StoreError:
            events = ()
            words = [w for w in re.split(r"\s+", text or "") if len(w) >= MIN_SECRET_CHARS]
        secrets = redactor.secrets(events, text=text)
        release(records, sorted({*secrets, *words}, key=len, reverse=True))

    def _log_turn(self, assistant: Assistant, turn: TurnResult, seconds: float, channel: str) -> None:
        redactor = self.redactor(assistant.pack)
        user = next((e for e in turn.events if isinstance(e, UserUttered)), None)
        intent = user.parse_data.get("intent") if user is not None else None
        intent = intent if isinstance(intent, Mapping) else {}
        decision = turn.decision
        handoff = turn.handoff
        summary: dict[str, Any] = {
            "channel": channel,
            "intent": intent.get("name"),
            "confidence": intent.get("confidence"),
            "policy": decision.policy if decision else None,
            "decision": decision.describe() if decision else None,
            "responses": [m.response for m in turn.events if isinstance(m, BotUttered)],
            "slots_set": redactor.slot_values(
                {e.name: e.value for e in turn.events if isinstance(e, SlotSet)}
            ),
            "fallback": next((e.reason for e in turn.events if isinstance(e, FallbackCounted)), None),
            "handoff": {"queue": handoff.queue, "reason": handoff.reason} if handoff else None,
            "actions": [
                {"action": e.name, "outcome": "ok" if isinstance(e, ActionExecuted) else e.failure}
                for e in turn.events
                if isinstance(e, (ActionExecuted, ActionFailed))
            ],
            # A message to a conversation a person has is stored without a reading.
            "paused": user is not None and not user.parse_data,
            "duration_ms": round(seconds * 1000, 2),
        }
        log.info(
            "turn: %s -> %s",
            summary["intent"] or "-",
            summary["decision"] or "paused (a person has the conversation)",
            extra={"turn": summary},
        )


def turn_runner(request: Request) -> TurnRunner:
    """The app's TurnRunner (`app.state.turns`), for route handlers."""
    runner: TurnRunner = request.app.state.turns
    return runner
