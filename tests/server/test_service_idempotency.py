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
