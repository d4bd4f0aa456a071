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
from typing import Literal


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
    #: Whether a response's `custom` payload is sent (as the platform's message).
    custom: bool = True
    #: More buttons than this are shown another way (WhatsApp: a list instead of reply buttons),
    #: whose titles may be `max_list_title` long.
    list_after: int | None = None
    max_list_title: int | None = None
    #: Whether the platform refuses two buttons with the same (cut) title or the same payload.
    distinct_buttons: bool = False

    def title_limit(self, count: int) -> int | None:
        """The longest title of `count` buttons shown together."""
        if self.list_after is not None and count > self.list_after:
            return self.max_list_title
        return self.max_title


LIMITS: dict[str, ChannelLimits] = {
    limits.channel: limits
    for limits in (
        ChannelLimits("telegram", "Telegram", 4096, "an inline keyboard", 100, None, 64),
        ChannelLimits("slack", "Slack", 3000, "an actions block of buttons", 25, 75, 2000),
        ChannelLimits(
            "facebook", "Facebook Messenger", 2000, "a button template or quick replies", 13, 20, 1000
        ),
        ChannelLimits(
            "whatsapp",
            "WhatsApp",
            4096,
            "reply buttons or a list",
            10,
            20,
            200,
            list_after=3,
            max_list_title=24,
            distinct_buttons=True,
        ),
        ChannelLimits("botframework", "Microsoft Teams", 25000, "an Adaptive Card's actions", 6),
        ChannelLimits("twilio", "SMS (Twilio)", 1600, "numbered options", None, custom=False),
    )
}


@dataclass(frozen=True)
class ButtonFinding:
    """Something in a list of buttons a channel cannot show as written, in words for the people
    who write packs (`problem` says what the channel does instead)."""

    #: count (the list), title, payload or duplicate (of an earlier button).
    kind: Literal["count", "title", "payload", "duplicate"]
    #: The button's position; None for the list as a whole.
    index: int | None
    problem: str
    #: Whether it makes the buttons numbered options (else the title is only cut).
    numbered: bool


def button_findings(limits: ChannelLimits, buttons: Sequence[Mapping[str, str]]) -> list[ButtonFinding]:
    """What these buttons lose on the channel; empty when they fit (and on a channel without
    buttons, which shows numbered options by design: nothing is lost)."""
    if not buttons or limits.max_buttons is None:
        return []
    name = limits.platform
    numbered = " the buttons are sent as numbered options instead"
    found: list[ButtonFinding] = []
    if len(buttons) > limits.max_buttons:
        found.append(
            ButtonFinding(
                "count",
                None,
                f"{len(buttons)} buttons are more than {name} shows ({limits.max_buttons}): "
                "they are sent as numbered options instead",
                True,
            )
        )
    most = limits.title_limit(len(buttons))
    cap = limits.max_payload_bytes
    seen_titles: dict[str, str] = {}
    seen_payloads: set[str] = set()
    for index, button in enumerate(buttons):
        title, payload = button.get("title", ""), button.get("payload", "")
        if most is not None and len(title) > most:
            found.append(
                ButtonFinding(
                    "title",
                    index,
                    f"button title {title!r} is longer than {name}'s {most} characters: it is cut short",
                    False,
                )
            )
        if not payload:
            found.append(ButtonFinding("payload", index, f"a button has no payload:{numbered}", True))
        elif cap is not None and len(payload.encode("utf-8")) > cap:
            found.append(
                ButtonFinding(
                    "payload",
                    index,
                    f"button payload {payload!r} is longer than {name}'s {cap} bytes:{numbered}",
                    True,
                )
            )
        if limits.distinct_buttons:
            shown = cut(title, most)
            if shown in seen_titles:
                first = seen_titles[shown]
                problem = f"buttons {first!r} and {title!r} both show as {shown!r}, which {name} refuses:"
                found.append(ButtonFinding("duplicate", index, problem + numbered, True))
            elif payload and payload in seen_payloads:
                problem = f"two buttons send {payload!r}, which {name} refuses:"
                found.append(ButtonFinding("duplicate", index, problem + numbered, True))
            seen_titles.setdefault(shown, title)
            seen_payloads.add(payload)
    return found


def button_problems(limits: ChannelLimits, buttons: Sequence[Mapping[str, str]]) -> list[str]:
    """The findings in words (see `button_findings`)."""
    return [finding.problem for finding in button_findings(limits, buttons)]


def shows_numbered(limits: ChannelLimits, buttons: Sequence[Mapping[str, str]]) -> bool:
    """Whether these buttons are shown as numbered options: on a channel without buttons, or
    when a finding says so (too many, an empty or too long payload, duplicates the platform
    refuses)."""
    if not buttons:
        return False
    if limits.max_buttons is None:
        return True
    return any(finding.numbered for finding in button_findings(limits, buttons))


def cut(title: str, most: int | None) -> str:
    """`title` within `most` characters, ending in "…" when it was cut."""
    if most is None or len(title) <= most:
        return title
    return title[: most - 1].rstrip() + "…"
