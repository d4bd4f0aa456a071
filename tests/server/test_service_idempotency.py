"""A delivery retried with the same message id is answered again, not processed twice."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.dialogue.events import UserUttered
from engine.dialogue.runtime import Assistant
from engine.packs import load_pack
from engine.server.service import ConversationService
from engine.stores import InMemoryTrackerStore, InProcessLockStore
from tests.dialogue.conftest import BASE, READINGS, SETTINGS, FakeParser


def test_a_retried_message_id_is_answered_from_the_stored_turn(write_pack: Callable[..., Path]) -> None:
    pack = load_pack(write_pack({"pack.yml": BASE.format(name="shop", **SETTINGS)}, "shop"))
    assistant = Assistant(pack, FakeParser(READINGS), seed=1)
    trackers = InMemoryTrackerStore()
    service = ConversationService(lambda name: assistant, ["shop"], trackers, InProcessLockStore())
    first = service.handle("shop", "c1", "hi", channel="rest", message_id="m-1")
    again = service.handle("shop", "c1", "hi", channel="rest", message_id="m-1")
    other = service.handle("shop", "c1", "hi", channel="rest", message_id="m-2")
    assert first.messages == again.messages == other.messages == [{"recipient_id": "c1", "text": "Hello!"}]
    stored = trackers.load("shop", "c1")
    assert [e.message_id for e in stored if isinstance(e, UserUttered)] == ["m-1", "m-2"]


def test_a_replayed_turn_ends_where_the_turn_ended(write_pack: Callable[..., Path]) -> None:
    pack = load_pack(write_pack({"pack.yml": BASE.format(name="shop", **SETTINGS)}, "shop"))
    assistant = Assistant(pack, FakeParser(READINGS), seed=1, clock=iter(range(100, 200)).__next__)
    service = ConversationService(
        lambda name: assistant, ["shop"], InMemoryTrackerStore(), InProcessLockStore()
    )
    first = service.handle("shop", "c1", "a person please", channel="rest", message_id="m-1")
    assert first.turn.handoff is not None
    # An agent hands the conversation back later: not part of the message's turn.
    service.apply("shop", "c1", lambda a, tracker: a.end_handoff(tracker, resume=False))
    again = service.handle("shop", "c1", "a person please", channel="rest", message_id="m-1")
    assert again.replayed and not first.replayed
    assert again.messages == first.messages
    assert "HandoffEnded" not in [type(e).__name__ for e in again.turn.events]
