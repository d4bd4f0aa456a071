"""An action package for `benchmarks/actions.py`, run by a real rasa_sdk server: one action that
does nothing, so a round trip to it measures the protocol and the server, not the action's work."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher


class ActionNoop(Action):  # type: ignore[misc]
    def name(self) -> str:
        return "action_noop"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[Any]:
        return []
