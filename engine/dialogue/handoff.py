"""Handoff requests: the context packet an agent sees, and whether a queue is open.

The packet is built so the customer never has to repeat themselves: the transcript of the
session, the slots (values of slots marked `pii` replaced by `[redacted]`, also inside the
transcript), the intent trail, the active flow and step, and a short summary in plain words.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from engine.dialogue.events import BotUttered, SlotSet, UserUttered
from engine.dialogue.tracker import Tracker
from engine.packs import Pack
from engine.packs.rules import open_minutes
from engine.packs.schema import WEEKDAYS, Queue

REDACTED = "[redacted]"
#: Transcript lines kept in a packet (the most recent ones).
TRANSCRIPT_LINES = 50


def queue_is_open(queue: Queue, now: datetime) -> bool:
    """True when `now` falls in the queue's business hours (always, for a queue without hours)."""
    hours = queue.hours
    if hours is None:
        return True
    local = now.astimezone(ZoneInfo(hours.timezone))
    minute = local.hour * 60 + local.minute
    ranges = open_minutes(getattr(hours, WEEKDAYS[local.weekday()]))
    return any(start <= minute < end for start, end in ranges)


def context_packet(
    pack: Pack,
    tracker: Tracker,
    *,
    reason: str,
    flow: str | None,
    step: str | None,
) -> dict[str, Any]:
    state = tracker.state
    # Every value a PII slot held in the session, not only the current ones (a value that
    # reset_slots cleared is still in the transcript); longest first, so a value inside
    # another ("4321" in "07700 904321") does not leave the rest of it readable.
    held = [(e.name, e.value) for e in tracker.session_events() if isinstance(e, SlotSet)]
    secrets = sorted(
        {
            str(value)
            for name, value in [*held, *state.slots.items()]
            if value not in (None, "", []) and name in pack.slots and pack.slots[name].pii
        },
        key=len,
        reverse=True,
    )

    def redact(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, REDACTED)
        return text

    transcript: list[dict[str, Any]] = []
    for event in tracker.session_events():
        if isinstance(event, UserUttered):
            transcript.append(
                {
                    "from": "customer",
                    "text": redact(event.text),
                    "time": event.timestamp,
                    "intent": event.intent,
                }
            )
        elif isinstance(event, BotUttered) and event.text:
            transcript.append(
                {
                    "from": "bot",
                    "text": redact(event.text),
                    "time": event.timestamp,
                    "response": event.response,
                }
            )
    slots = {
        name: (REDACTED if pack.slots[name].pii else value)
        for name, value in state.slots.items()
        if name in pack.slots and value not in (None, "", [])
    }
    trail = [intent for intent in state.intent_trail if intent]
    return {
        "transcript": transcript[-TRANSCRIPT_LINES:],
        "slots": slots,
        "intent_trail": trail,
        "flow": flow,
        "step": step,
        "summary": summary(
            pack,
            flow=flow,
            slots=slots,
            trail=trail,
            reason=reason,
            last=transcript[-1]["text"] if transcript else None,
        ),
    }


def summary(
    pack: Pack,
    *,
    flow: str | None,
    slots: dict[str, Any],
    trail: list[str],
    reason: str,
    last: str | None,
) -> str:
    """One paragraph an agent reads first."""
    parts = [f"Reason: {reason.replace('_', ' ')}."]
    if flow is not None and flow in pack.flows:
        parts.append(f"The customer wants to {pack.flows[flow].description.rstrip('.')}.")
    elif trail:
        parts.append(f"Latest intent: {trail[-1].replace('_', ' ')}.")
    if slots:
        known = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in slots.items())
        parts.append(f"Known: {known}.")
    if last:
        quoted = last if len(last) <= 160 else last[:157] + "..."
        parts.append(f'Last message: "{quoted}"')
    return " ".join(parts)
