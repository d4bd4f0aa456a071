"""What each messenger can show, in one place: the connectors render within these limits and the
pack validator warns about responses that go beyond them on a channel the pack is served on.

The figures are the platforms' documented limits (characters unless said otherwise):

| channel      | text  | buttons shown as                       | most | title | payload    |
|--------------|-------|----------------------------------------|------|-------|------------|
| telegram     | 4096  | an inline keyboard                     | 100  | -     | 64 bytes   |
| slack        | 3000  | an actions block of buttons            | 25   | 75    | 2000       |
| facebook     | 2000  | a button template (up to 3), else quick replies | 13 | 20 | 1000     |
| whatsapp     | 4096  | reply buttons (up to 3), else a list   | 10   | 20/24 | 256 / 200  |
| botframework | 25000 | an Adaptive Card's submit actions      | 6    | -     | -          |
| twilio (SMS) | 1600  | numbered options, answered with a digit | -   | -     | -          |

Longer texts are split (at paragraph, sentence or word boundaries) into several messages. More
buttons than a platform shows become numbered options in the text, which the customer answers
with the number (every connector understands a bare number after such a message).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ChannelLimits:
    channel: str
    #: The platform's name for people ("Facebook Messenger").
    platform: str
    #: Longest text of one message; longer ones are split.
    max_text: int
    #: How buttons are shown, for messages and docs ("an inline keyboard").
    buttons_as: str
    #: Most buttons one message can show; more become numbered options (None: no buttons at all,
    #: always numbered options).
    max_buttons: int | None
    #: Longest button title; longer ones are cut with "…" (None: no limit).
    max_title: int | None = None
    #: Longest button payload in UTF-8 bytes; a message with a longer one is shown as numbered
    #: options (None: no limit).
    max_payload_bytes: int | None = None
    #: Whether images are shown (else their URL is sent as a link).
    images: bool = True
    #: Whether a response's `custom` payload is sent (as the platform's message).
    custom: bool = True


LIMITS: dict[str, ChannelLimits] = {
    limits.channel: limits
    for limits in (
        ChannelLimits("telegram", "Telegram", 4096, "an inline keyboard", 100, None, 64),
        ChannelLimits("slack", "Slack", 3000, "an actions block of buttons", 25, 75, 2000),
        ChannelLimits(
            "facebook", "Facebook Messenger", 2000, "a button template or quick replies", 13, 20, 1000
        ),
        ChannelLimits("whatsapp", "WhatsApp", 4096, "reply buttons or a list", 10, 20, 200),
        ChannelLimits("botframework", "Microsoft Teams", 25000, "an Adaptive Card's actions", 6),
        ChannelLimits("twilio", "SMS (Twilio)", 1600, "numbered options", None, images=True, custom=False),
    )
}


def button_problems(limits: ChannelLimits, buttons: Sequence[Mapping[str, str]]) -> list[str]:
    """What cannot be shown as it is written, in words for the people who write packs; each
    problem says how the channel shows it instead. Empty when the buttons fit."""
    if not buttons:
        return []
    name = limits.platform
    if limits.max_buttons is None:
        return []  # numbered options by design: nothing is lost
    problems: list[str] = []
    if len(buttons) > limits.max_buttons:
        problems.append(
            f"{len(buttons)} buttons are more than {name} shows ({limits.max_buttons}): "
            "they are sent as numbered options instead"
        )
    for button in buttons:
        title, payload = button.get("title", ""), button.get("payload", "")
        if limits.max_title is not None and len(title) > limits.max_title:
            problems.append(
                f"button title {title!r} is longer than {name}'s {limits.max_title} characters: "
                "it is cut short"
            )
        if limits.max_payload_bytes is not None and len(payload.encode("utf-8")) > limits.max_payload_bytes:
            problems.append(
                f"button payload {payload!r} is longer than {name}'s {limits.max_payload_bytes} bytes: "
                "the buttons are sent as numbered options instead"
            )
    return problems


def shows_numbered(limits: ChannelLimits, buttons: Sequence[Mapping[str, str]]) -> bool:
    """Whether these buttons are shown as numbered options (no buttons on the channel, too many
    of them, an empty payload, or a payload too long for the platform)."""
    if not buttons:
        return False
    if limits.max_buttons is None or len(buttons) > limits.max_buttons:
        return True
    if any(not b.get("payload") for b in buttons):  # platforms refuse a button that sends nothing
        return True
    cap = limits.max_payload_bytes
    return cap is not None and any(len(b.get("payload", "").encode("utf-8")) > cap for b in buttons)


def cut(title: str, most: int | None) -> str:
    """`title` within `most` characters, ending in "…" when it was cut."""
    if most is None or len(title) <= most:
        return title
    return title[: most - 1].rstrip() + "…"
