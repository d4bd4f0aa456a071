"""An action package for the contract tests, run by a real rasa_sdk server: it reports back what
rasa_sdk's `Tracker` and domain show it, so a test can compare that with the engine's tracker."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher


class ActionEcho(Action):  # type: ignore[misc]
    def name(self) -> str:
        return "action_echo"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[Any]:
        latest = tracker.latest_message
        seen = {
            "sender_id": tracker.sender_id,
            "slots": tracker.current_slot_values(),
            "text": latest.get("text"),
            "intent": (latest.get("intent") or {}).get("name"),
            "entities": [e.get("entity") for e in latest.get("entities", [])],
            "event_kinds": [e.get("event") for e in tracker.events],
            "channel": tracker.get_latest_input_channel(),
            "domain_slots": sorted(domain.get("slots", {})),
            "domain_responses": sorted(domain.get("responses", {})),
        }
        dispatcher.utter_message(text=f"echo for {tracker.sender_id}")
        dispatcher.utter_message(response="echo_done")
        return [SlotSet("seen", seen)]
