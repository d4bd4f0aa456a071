"""Text helpers every connector uses: splitting long texts within a platform's limit, numbered
options for platforms that cannot show buttons, and reading a customer's digit as the option's
payload."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def split_text(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut at the last paragraph break, else line
    break, else sentence end, else space before the limit (a word longer than the limit is cut
    where it must be). Pieces are stripped; an empty text gives no pieces."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut_at = _last_boundary(window, limit)
        piece, rest = rest[:cut_at].rstrip(), rest[cut_at:].lstrip()
        if piece:
            pieces.append(piece)
    if rest:
        pieces.append(rest)
    return pieces


def _last_boundary(window: str, limit: int) -> int:
    """Where to cut `window` (limit + 1 characters): the latest good break at or before `limit`,
    not in the first quarter (a tiny first piece reads worse than a cut sentence)."""
    floor = limit // 4
    for pattern in ("\n\n", "\n"):
        at = window.rfind(pattern, floor, limit + 1)
        if at > 0:
            return at
    ends = [m.end() for m in _SENTENCE_END.finditer(window) if floor < m.start() <= limit]
    if ends:
        return ends[-1]
    at = window.rfind(" ", floor, limit + 1)
    return at if at > 0 else limit


def text_of(message: Mapping[str, Any]) -> str:
    """The message's text ("" when it has none), after "<agent>: " when a person wrote it: the
    platforms show the bot as the author of everything it sends."""
    raw = message.get("text")
    text = raw.strip() if isinstance(raw, str) else ""
    agent = message.get("agent")
    if text and isinstance(agent, str) and agent:
        return f"{agent}: {text}"
    return text


def buttons_of(message: Mapping[str, Any]) -> list[dict[str, str]]:
    """The message's buttons or quick replies as {title, payload} (malformed ones left out). A
    button without a title shows its payload: no platform takes an empty title, and a numbered
    option needs something after its number."""
    found = message.get("buttons") or message.get("quick_replies") or []
    if not isinstance(found, list):
        return []
    buttons = []
    for button in found:
        if isinstance(button, Mapping) and button.get("payload") is not None:
            payload = str(button["payload"])
            buttons.append({"title": str(button.get("title", "")).strip() or payload, "payload": payload})
    return buttons


def numbered_options(text: str | None, buttons: Sequence[Mapping[str, str]]) -> str:
    """`text` followed by the buttons as "1. Title" lines, for platforms (or messages) that cannot
    show buttons; the customer answers with the number."""
    lines = [f"{index}. {button.get('title', '')}" for index, button in enumerate(buttons, start=1)]
    options = "\n".join(lines)
    return f"{text}\n\n{options}" if text else options


_DIGITS = re.compile(r"^\s*#?\s*(\d{1,2})\s*[.)]?\s*$")


def is_option_number(text: str) -> bool:
    """Whether `text` is a bare option number ("2", "2.", "#2"), as numbered options are answered."""
    return _DIGITS.match(text) is not None


def chosen_option(text: str, buttons: Sequence[Mapping[str, str]]) -> str | None:
    """The payload of the option the customer chose by number ("2", "2.", "#2"), or None when the
    text is not a number of one of `buttons`."""
    match = _DIGITS.match(text)
    if match is None:
        return None
    index = int(match.group(1))
    if 1 <= index <= len(buttons):
        return buttons[index - 1].get("payload")
    return None
