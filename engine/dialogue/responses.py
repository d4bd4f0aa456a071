"""Responses: choosing a variation and rendering it in the sandbox.

Which variation is said: variations for another channel, and variations whose condition does
not hold, are set aside. Of the rest, variations written for this channel are preferred over
those for any channel, and variations with a condition (that holds) over those without. One
is then chosen at random (seeded) or in rotation, as `settings.responses.selection` says.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from typing import Any

from engine.dialogue.events import BotUttered
from engine.dialogue.scope import Conditions, Scope
from engine.packs.expressions import compile_template
from engine.packs.schema import Button, Variation

log = logging.getLogger(__name__)


class ResponseRenderer:
    def __init__(
        self,
        responses: Mapping[str, tuple[Variation, ...]],
        conditions: Conditions,
        *,
        selection: str = "random",
        rng: random.Random | None = None,
    ) -> None:
        self.responses = responses
        self.conditions = conditions
        self.selection = selection
        self.rng = rng or random.Random()

    def candidates(self, name: str, scope: Scope) -> list[Variation]:
        channel = scope.get("channel")
        usable = [
            v
            for v in self.responses[name]
            if (v.channel is None or v.channel == channel)
            and (v.condition is None or self.conditions.holds(v.condition, scope))
        ]
        written_for_channel = [v for v in usable if v.channel is not None]
        usable = written_for_channel or usable
        with_condition = [v for v in usable if v.condition is not None]
        return with_condition or usable

    def render(
        self,
        name: str,
        scope: Scope,
        *,
        times_said: int = 0,
        extra_buttons: Sequence[Mapping[str, str]] = (),
    ) -> BotUttered | None:
        """The message for response `name`, or None when no variation applies or renders."""
        usable = self.candidates(name, scope)
        if not usable:
            log.warning(
                "response %r has no variation for this conversation (channel %s)", name, scope.get("channel")
            )
            return None
        if self.selection == "rotate":
            order = usable[times_said % len(usable) :] + usable[: times_said % len(usable)]
        else:
            first = self.rng.randrange(len(usable))
            order = usable[first:] + usable[:first]
        for variation in order:
            try:
                return self._message(name, variation, scope, extra_buttons)
            except Exception as error:  # a template must never crash a turn
                log.warning(
                    "response %r: a variation failed to render (%s: %s)", name, type(error).__name__, error
                )
        return None

    def render_text(self, source: str, scope: Scope) -> str:
        return compile_template(source).render(**scope)

    def _message(
        self, name: str, variation: Variation, scope: Scope, extra_buttons: Sequence[Mapping[str, str]]
    ) -> BotUttered:
        data: dict[str, Any] = {}
        buttons = [_button(b) for b in variation.buttons] + [dict(b) for b in extra_buttons]
        if buttons and not variation.quick_replies:
            data["buttons"] = buttons
        if variation.quick_replies:
            data["quick_replies"] = [_button(b) for b in variation.quick_replies] + [
                dict(b) for b in extra_buttons
            ]
        if variation.image:
            data["image"] = variation.image
        if variation.custom is not None:
            data["custom"] = variation.custom
        text = self.render_text(variation.text, scope) if variation.text is not None else None
        return BotUttered(text=text, data=data, metadata={"utter_action": name})


def _button(button: Button) -> dict[str, str]:
    return {"title": button.title, "payload": button.payload}
