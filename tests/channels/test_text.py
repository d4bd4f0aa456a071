"""Splitting long texts, numbered options and digit answers."""

from __future__ import annotations

import pytest

from engine.channels.limits import LIMITS, button_problems, cut, shows_numbered
from engine.channels.text import buttons_of, chosen_option, numbered_options, split_text

OPTIONS = [{"title": "Track my order", "payload": "/order_status"}, {"title": "Refund", "payload": "/refund"}]


def test_short_text_is_one_piece_and_empty_text_none() -> None:
    assert split_text("  hello  ", 10) == ["hello"]
    assert split_text("   ", 10) == []


def test_long_text_is_cut_at_paragraphs_then_sentences_then_words() -> None:
    paragraphs = "First paragraph here.\n\nSecond one, a little longer."
    assert split_text(paragraphs, 30) == ["First paragraph here.", "Second one, a little longer."]
    sentences = "One sentence here. Another sentence there. A third."
    assert split_text(sentences, 30) == ["One sentence here.", "Another sentence there.", "A third."]
    words = "alpha beta gamma delta epsilon"
    assert split_text(words, 12) == ["alpha beta", "gamma delta", "epsilon"]


def test_a_word_longer_than_the_limit_is_cut_where_it_must_be() -> None:
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_every_piece_fits_and_nothing_is_lost() -> None:
    text = " ".join(f"word{n}." if n % 7 == 0 else f"word{n}" for n in range(2000))
    pieces = split_text(text, 300)
    assert all(len(piece) <= 300 for piece in pieces)
    assert " ".join(pieces).split() == text.split()


def test_numbered_options_follow_the_text_and_a_digit_chooses_one() -> None:
    assert (
        numbered_options("What do you need?", OPTIONS) == "What do you need?\n\n1. Track my order\n2. Refund"
    )
    assert numbered_options(None, OPTIONS) == "1. Track my order\n2. Refund"
    assert [chosen_option(answer, OPTIONS) for answer in ("2", " 1. ", "#2", "2)")] == [
        "/refund",
        "/order_status",
        "/refund",
        "/refund",
    ]
    assert [chosen_option(answer, OPTIONS) for answer in ("3", "0", "two", "12 items")] == [None] * 4


def test_buttons_of_reads_buttons_or_quick_replies_and_skips_malformed_ones() -> None:
    assert buttons_of({"buttons": OPTIONS}) == OPTIONS
    assert buttons_of(
        {"quick_replies": [{"title": "Yes", "payload": "/affirm"}, "junk", {"title": "x"}]}
    ) == [{"title": "Yes", "payload": "/affirm"}]
    assert buttons_of({"buttons": "not a list"}) == []


def test_a_button_without_a_title_shows_its_payload_everywhere() -> None:
    message = {"text": "Ok?", "buttons": [{"title": " ", "payload": "/affirm"}, {"payload": "/deny"}]}
    buttons = buttons_of(message)
    assert buttons == [{"title": "/affirm", "payload": "/affirm"}, {"title": "/deny", "payload": "/deny"}]
    assert numbered_options("Ok?", buttons) == "Ok?\n\n1. /affirm\n2. /deny"


@pytest.mark.parametrize(
    ("channel", "count", "numbered"),
    [("twilio", 1, True), ("whatsapp", 10, False), ("whatsapp", 11, True), ("facebook", 14, True)],
)
def test_channels_show_numbered_options_when_they_cannot_show_buttons(
    channel: str, count: int, numbered: bool
) -> None:
    buttons = [{"title": f"Option {n}", "payload": f"/o{n}"} for n in range(count)]
    assert shows_numbered(LIMITS[channel], buttons) is numbered


def test_a_payload_too_long_for_telegram_makes_numbered_options_and_a_problem() -> None:
    buttons = [{"title": "Go", "payload": "/inform" + "x" * 60}]

    assert shows_numbered(LIMITS["telegram"], buttons)
    [problem] = button_problems(LIMITS["telegram"], buttons)
    assert "longer than Telegram's 64 bytes" in problem


def test_titles_are_cut_with_an_ellipsis() -> None:
    assert cut("Yes, create the label", 20) == "Yes, create the lab…"
    assert cut("Short", 20) == "Short"
    assert cut("Anything", None) == "Anything"


def test_whatsapp_buttons_it_would_refuse_are_numbered_and_said_why() -> None:
    limits = LIMITS["whatsapp"]
    same_payload = [{"title": "Yes", "payload": "/affirm"}, {"title": "Sure", "payload": "/affirm"}]
    assert shows_numbered(limits, same_payload)
    assert button_problems(limits, same_payload) == [
        "two buttons send '/affirm', which WhatsApp refuses: the buttons are sent as numbered options instead"
    ]
    rows = [{"title": "Where is my parcel now", "payload": f"/o{n}"} for n in range(1, 5)]
    rows = [{**row, "title": f"{row['title']} {n}"[:24]} for n, row in enumerate(rows)]
    assert not shows_numbered(limits, rows) and button_problems(limits, rows) == []  # a list: 24 characters
