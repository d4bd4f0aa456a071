"""Conversations as the channels see them: a message in, the assistant's replies out, safely.

`ConversationService.handle` takes the conversation's lock, loads its events, runs the turn,
appends the new events (all or none) and only then returns the replies, so every event is
persisted before the customer sees an answer. A message whose `message_id` was processed before
(a channel or platform retrying a delivery) is answered again from the stored turn, not
processed twice. Channels (REST, web chat, messengers) all go through it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from engine.dialogue.events import BotUttered, Event, UserUttered
from engine.dialogue.runtime import Assistant, TurnResult
from engine.dialogue.tracker import Tracker
from engine.handoff.tickets import Ticket
from engine.stores.base import LockStore, TrackerStore

log = logging.getLogger(__name__)


class UnknownPack(LookupError):
    """A request named a pack this server does not serve."""


@dataclass(frozen=True)
class Reply:
    """What a channel gets back for one message."""

    turn: TurnResult
    #: The bot's messages in Rasa's REST shape: recipient_id, text, buttons, image, custom ...
    messages: list[dict[str, Any]]
    #: A retried delivery answered from the stored turn (nothing was processed).
    replayed: bool = False
    #: The conversation's events after the message (what was stored before it, and its turn).
    conversation: Sequence[Event] = ()


class TurnHooks(Protocol):
    """What the handoff desk does around a customer's turn (see engine.handoff.desk): under the
    conversation's lock before and after the runtime, and once the turn's events are stored.
    `before_turn` reads the conversation's latest ticket once; the other two are given it."""

    def before_turn(self, assistant: Assistant, tracker: Tracker, channel: str) -> Ticket | None: ...

    def after_turn(
        self, assistant: Assistant, tracker: Tracker, start: int, channel: str, latest: Ticket | None
    ) -> None: ...

    def committed(
        self, assistant: Assistant, tracker: Tracker, start: int, channel: str, latest: Ticket | None
    ) -> None: ...


def rest_message(recipient_id: str, message: BotUttered) -> dict[str, Any]:
    """One bot message as Rasa's REST channel answers it (a person's message also names them in
    `agent`, which REST clients that do not know it ignore)."""
    out: dict[str, Any] = {"recipient_id": recipient_id}
    if message.text is not None:
        out["text"] = message.text
    for key in ("buttons", "quick_replies", "image", "custom", "attachment", "elements"):
        value = message.data.get(key)
        if value:
            out[key] = value
    agent = message.metadata.get("agent_name")
    if isinstance(agent, str) and agent:
        out["agent"] = agent
    return out


def sent_meanwhile(events: Sequence[Event]) -> list[BotUttered]:
    """Messages said to the customer outside their turns since their latest message (an agent's
    replies, the bot taking over again): a channel that cannot push them (REST) answers them
    with the customer's next message. A turn's own messages have its message's time."""
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if isinstance(event, UserUttered):
            return [
                e for e in events[index + 1 :] if isinstance(e, BotUttered) and e.timestamp != event.timestamp
            ]
    return []


def _turn_of(events: list[Event], message_id: str) -> TurnResult | None:
    """The stored turn of the customer message with this id, if it was processed already: its
    user event and the events after it with the same timestamp (every event of a turn has the
    turn's time; a handoff an agent ended later is not part of it)."""
    for index, event in enumerate(events):
        if isinstance(event, UserUttered) and event.message_id == message_id:
            end = index + 1
            while end < len(events) and events[end].timestamp == event.timestamp:
                end += 1
            return TurnResult(tuple(events[index:end]), None)
    return None


class ConversationService:
    """`assistant(pack)` gives the assistant currently serving a pack (hot reload swaps it)."""

    def __init__(
        self,
        assistant: Callable[[str], Assistant],
        packs: list[str],
        trackers: TrackerStore,
        locks: LockStore,
        *,
        lock_wait: float = 10.0,
    ) -> None:
        if not packs:
            raise ValueError("a conversation service needs at least one pack")
        self._assistant = assistant
        self.packs = list(packs)
        self.trackers = trackers
        self.locks = locks
        self.lock_wait = lock_wait
        #: The handoff desk, when the server has one (it attaches itself).
        self.desk: TurnHooks | None = None

    @property
    def default_pack(self) -> str:
        return self.packs[0]

    def assistant(self, pack: str) -> Assistant:
        if pack not in self.packs:
            raise UnknownPack(f"pack '{pack}' is not served here; served: {', '.join(self.packs)}")
        return self._assistant(pack)

    def handle(
        self,
        pack: str,
        sender_id: str,
        text: str,
        *,
        channel: str,
        metadata: Mapping[str, Any] | None = None,
        message_id: str | None = None,
        catch_up: bool = False,
    ) -> Reply:
        """Process one customer message; raises `LockTimeout` when the conversation stays busy
        and `StoreError` when the store fails (nothing is then persisted or answered).

        `catch_up`: the reply starts with what was said to the customer outside their turns
        since their previous message (for channels that cannot push messages, such as REST)."""
        self.assistant(pack)  # an unknown pack fails before waiting for a lock
        with self.locks.lock(f"{pack}:{sender_id}", wait=self.lock_wait):
            # Chosen under the lock: a model swapped in while this message waited is the one the
            # turns before it used.
            assistant = self.assistant(pack)
            stored = self.trackers.load(pack, sender_id)
            if message_id is not None:
                earlier = _turn_of(stored, message_id)
                if earlier is not None:  # a retried delivery: answer it again, do not process it twice
                    messages = [rest_message(sender_id, m) for m in earlier.messages]
                    return Reply(earlier, messages, replayed=True, conversation=stored)
            missed = sent_meanwhile(stored) if catch_up else []
            tracker = assistant.tracker(sender_id, stored)
            desk = self.desk
            start = len(stored)
            latest = desk.before_turn(assistant, tracker, channel) if desk is not None else None
            turn = assistant.handle(tracker, text, channel=channel, message_id=message_id, metadata=metadata)
            if desk is not None:
                desk.after_turn(assistant, tracker, start, channel, latest)
                turn = TurnResult(tuple(tracker.events[start:]), turn.decision)
            self.trackers.append(pack, sender_id, turn.events, expected=start)
            if desk is not None:
                try:
                    desk.committed(assistant, tracker, start, channel, latest)
                except Exception:
                    # The turn is stored and answered; its ticket is opened (or the message added
                    # to it) with the conversation's next message.
                    log.exception("the handoff desk failed after the turn of %s/%s", pack, sender_id)
        messages = [rest_message(sender_id, m) for m in [*missed, *turn.messages]]
        return Reply(turn, messages, conversation=tracker.events)

    def tracker(self, pack: str, sender_id: str) -> Tracker:
        """The conversation as stored (read without the lock: a snapshot)."""
        assistant = self.assistant(pack)
        return assistant.tracker(sender_id, self.trackers.load(pack, sender_id))

    def apply(
        self, pack: str, sender_id: str, change: Callable[[Assistant, Tracker], TurnResult]
    ) -> TurnResult:
        """Run `change` (e.g. `Assistant.end_handoff`) on the conversation under its lock and
        persist what it added."""
        self.assistant(pack)
        with self.locks.lock(f"{pack}:{sender_id}", wait=self.lock_wait):
            assistant = self.assistant(pack)
            stored = self.trackers.load(pack, sender_id)
            tracker = assistant.tracker(sender_id, stored)
            result = change(assistant, tracker)
            self.trackers.append(pack, sender_id, result.events, expected=len(stored))
        return result
