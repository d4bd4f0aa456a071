"""The part of rasa_sdk the actions use, with types.

rasa_sdk ships without type information (no py.typed), so for mypy this module declares the few
classes and functions the actions use, exactly as rasa_sdk defines them; at run time it is
rasa_sdk itself. The actions import from here, never from rasa_sdk directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

#: An event as rasa_sdk returns it: {"event": "slot", "name": ..., "value": ..., "timestamp": ...}.
EventType = dict[str, Any]
#: The Rasa domain sent with the request (slots, responses, intents ...).
DomainDict = dict[str, Any]

if TYPE_CHECKING:

    class Tracker:
        sender_id: str
        slots: dict[str, Any]

        def get_slot(self, key: str) -> Any: ...

    class CollectingDispatcher:
        messages: list[dict[str, Any]]

        def utter_message(
            self, text: str | None = None, response: str | None = None, **kwargs: Any
        ) -> None: ...

    class Action:
        def name(self) -> str: ...

        async def run(
            self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
        ) -> list[EventType]: ...

    class ActionExecutionRejection(Exception):
        action_name: str
        message: str

        def __init__(self, action_name: str, message: str | None = None) -> None: ...

    def SlotSet(key: str, value: Any = None, timestamp: float | None = None) -> EventType: ...

else:
    from rasa_sdk import Action, Tracker
    from rasa_sdk.events import SlotSet
    from rasa_sdk.executor import CollectingDispatcher
    from rasa_sdk.interfaces import ActionExecutionRejection

__all__ = [
    "Action",
    "ActionExecutionRejection",
    "CollectingDispatcher",
    "DomainDict",
    "EventType",
    "SlotSet",
    "Tracker",
]
