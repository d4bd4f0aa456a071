"""A pack as Rasa's domain, for action servers (`domain` of a webhook request).

Action servers written for Rasa read the domain to know slots, responses and intents
(`domain["slots"]`, `tracker.slots`, `dispatcher.utter_message(response=...)`). Parley's slot
types map to Rasa's: whole numbers, numbers and money are `float`, email, phone and date are
`text`; `influence_conversation` is false (Parley's flows, not a learned policy, use slots).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from engine.packs import Pack
from engine.packs.schema import Variation

_RASA_SLOT_TYPES = {
    "text": "text",
    "email": "text",
    "phone": "text",
    "date": "text",
    "integer": "float",
    "float": "float",
    "money": "float",
    "bool": "bool",
    "categorical": "categorical",
    "list": "list",
    "any": "any",
}


def rasa_domain(pack: Pack) -> dict[str, Any]:
    slots: dict[str, Any] = {}
    for name, slot in pack.slots.items():
        entry: dict[str, Any] = {
            "type": _RASA_SLOT_TYPES[slot.type],
            "initial_value": slot.initial,
            "influence_conversation": False,
            "mappings": [{"type": "custom"}],
        }
        if slot.type == "categorical":
            entry["values"] = list(slot.values or ())
        slots[name] = entry
    return {
        "version": "3.1",
        "session_config": {
            "session_expiration_time": pack.settings.session.expire_after_minutes,
            "carry_over_slots_to_new_session": bool(pack.settings.session.carry_over),
        },
        "intents": list(pack.intents),
        "entities": list(pack.entities),
        "slots": slots,
        "responses": {
            name: [_variation(v) for v in variations] for name, variations in pack.responses.items()
        },
        "actions": list(pack.actions),
        "forms": {},
        "e2e_actions": [],
    }


def _variation(variation: Variation) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if variation.text is not None:
        data["text"] = variation.text
    if variation.buttons:
        data["buttons"] = [{"title": b.title, "payload": b.payload} for b in variation.buttons]
    if variation.quick_replies:
        data["quick_replies"] = [{"title": b.title, "payload": b.payload} for b in variation.quick_replies]
    if variation.image:
        data["image"] = variation.image
    if variation.custom is not None:
        data["custom"] = variation.custom
    if variation.channel:
        data["channel"] = variation.channel
    if variation.condition:
        data["condition"] = variation.condition
    return data


def domain_digest(domain: dict[str, Any]) -> str:
    """A stable hash of the domain: the server keeps the domain it was sent under this digest."""
    return hashlib.sha256(json.dumps(domain, sort_keys=True, default=str).encode()).hexdigest()
