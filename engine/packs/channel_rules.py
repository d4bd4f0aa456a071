"""Pass 2 checks of how responses show on the messengers a pack is served on (`channels:`).

Every variation a customer can get on a declared messenger is held against that messenger's
limits (`engine.channels.limits`): buttons and quick replies it cannot show as written, and
`custom` payloads it does not send or that reach several platforms at once. Each finding is a
warning: the response still works, but not as written. Packs that declare no `channels:` (and
the rest and webchat channels, which show everything) are not checked.

The checks register themselves with `engine.packs.rules.rule`, so they run with the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from engine.channels.limits import LIMITS, ChannelLimits, button_findings, cut
from engine.packs import errors
from engine.packs.errors import Diagnostic
from engine.packs.expressions import compile_condition, condition_names
from engine.packs.rules import Check, rule
from engine.packs.schema import Button, Variation

__all__ = ["responses_fit_channels", "shown_on"]

#: What each button list is called in fixes.
_LIST_NAMES = {"buttons": "buttons", "quick_replies": "quick replies"}


@rule
def responses_fit_channels(check: Check) -> Iterator[Diagnostic]:
    """Warn, per response, variation, messenger and problem, about what cannot be shown as written."""
    pack = check.pack
    messengers = [LIMITS[channel] for channel in pack.channels or () if channel in LIMITS]
    if not messengers:
        return
    for name, variations in pack.responses.items():
        imported = not pack.defined_here("responses", name)
        for index, variation in enumerate(variations):
            label = f" (variation {index + 1} of {len(variations)})" if len(variations) > 1 else ""
            shown = [limits for limits in messengers if shown_on(variations, index, limits.channel)]
            for limits in shown:
                for field_name in ("buttons", "quick_replies"):
                    yield from _button_findings(name, label, variation, field_name, limits, imported)
                if variation.custom is not None and not limits.custom:
                    yield _custom_not_sent(name, label, variation, limits, imported)
            receiving = [limits for limits in shown if limits.custom]
            if variation.custom is not None and variation.channel is None and len(receiving) > 1:
                yield errors.CUSTOM_FOR_SEVERAL_PLATFORMS(
                    variation.at("custom", key=True),
                    response=name,
                    variation=label,
                    platforms=_and(limits.platform for limits in receiving),
                    channels=", ".join(limits.channel for limits in receiving),
                    imported=_override(name) if imported else "",
                )


def shown_on(variations: Sequence[Variation], index: int, channel: str) -> bool:
    """Whether a customer on `channel` can get variation `index` of a response.

    As the dialogue chooses (engine/dialogue/responses.py): a variation for another channel is
    never said, nor one whose condition cannot hold there. Of the rest, variations written for
    the channel are preferred to those for any channel, and variations with a condition to those
    without; so a variation is set aside where one it yields to is always usable.
    """
    variation = variations[index]
    if variation.channel is not None and variation.channel != channel:
        return False
    if _holds_on(variation, channel) is False:
        return False
    for position, other in enumerate(variations):
        if position == index or _holds_on(other, channel) is not True:
            continue
        if variation.channel is None and other.channel == channel:
            return False
        if variation.condition is None and other.condition is not None and other.channel == variation.channel:
            return False
    return True


def _holds_on(variation: Variation, channel: str) -> bool | None:
    """Whether the variation's condition holds on `channel`: known when it reads nothing but
    `channel` (e.g. `channel != "twilio"`), None when it depends on the conversation too."""
    if variation.condition is None:
        return True
    try:
        if any(use.name != "channel" for use in condition_names(variation.condition)):
            return None
        return bool(compile_condition(variation.condition)(channel=channel))
    except Exception:
        # One that does not compile is reported by the condition checks (P503); one that fails
        # here is left to the conversation, like one that reads more than the channel.
        return None


def _button_findings(
    response: str, label: str, variation: Variation, field_name: str, limits: ChannelLimits, imported: bool
) -> Iterator[Diagnostic]:
    """P505 for one list of buttons: its length at the list, titles and payloads at the button."""
    buttons: list[Button] = getattr(variation, field_name)
    if not buttons:
        return
    fields = {
        "response": response,
        "variation": label,
        "platform": limits.platform,
    }
    own = _own_variation(limits)
    also = _override(response) if imported else ""
    whole = [{"title": button.title, "payload": button.payload} for button in buttons]
    for finding in button_findings(limits, whole):
        index = finding.index
        if finding.kind == "count" or index is None:
            location = variation.at(field_name, key=True)
            fix = f"give at most {limits.max_buttons} {_LIST_NAMES[field_name]}, or {own} with fewer{also}"
        elif finding.kind == "title":
            most = limits.title_limit(len(buttons))
            location = variation.at(field_name, index, "title")
            fix = (
                f"shorten the title to {most} characters or fewer ({limits.platform} shows "
                f"{cut(buttons[index].title, most)!r}), or {own} with shorter titles{also}"
            )
        elif finding.kind == "payload" and not buttons[index].payload:
            location = variation.at(field_name, index, "payload")
            fix = f"give the button a payload (such as /intent), or {own}{also}"
        elif finding.kind == "payload":
            location = variation.at(field_name, index, "payload")
            fix = (
                f"shorten the payload to {limits.max_payload_bytes} bytes or fewer (a shorter intent "
                f"name, fewer or shorter values), or {own} with shorter payloads{also}"
            )
        else:
            location = variation.at(field_name, index)
            fix = f"give each button a title and a payload of its own, or {own}{also}"
        yield errors.BUTTONS_DO_NOT_FIT_CHANNEL(location, problem=finding.problem, fix=fix, **fields)


def _custom_not_sent(
    response: str, label: str, variation: Variation, limits: ChannelLimits, imported: bool
) -> Diagnostic:
    """P506: the channel drops `custom` payloads."""
    if variation.text is not None or variation.image is not None:
        consequence = "it is left out, and the customer gets the rest of the message"
    else:
        consequence = "the variation has nothing else, so the customer gets no message"
    if variation.channel == limits.channel:
        fix = (
            f"write the message as 'text:' instead, with 'buttons:' if it offers choices "
            f"({limits.platform} shows them as {limits.buttons_as})"
        )
    else:
        fix = (
            "add 'channel:' naming the platform the payload is written for, and give the response "
            f"a variation with text for {limits.platform} ('channel: {limits.channel}')"
        )
    return errors.CUSTOM_NOT_SENT(
        variation.at("custom", key=True),
        response=response,
        variation=label,
        platform=limits.platform,
        consequence=consequence,
        fix=fix + (_override(response) if imported else ""),
    )


def _own_variation(limits: ChannelLimits) -> str:
    return f"give the response a variation for {limits.platform} ('channel: {limits.channel}')"


def _override(response: str) -> str:
    """The extra step for a response that comes from an imported pack."""
    return (
        f"; the response comes from an imported pack: list 'responses.{response}' under "
        "'overrides:' and write the changed response in this pack"
    )


def _and(names: Iterable[str]) -> str:
    """'A', 'A and B', 'A, B and C'."""
    items = list(names)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
