"""`channels:` and the warnings about responses a declared messenger cannot show as written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.channels.limits import LIMITS
from engine.packs import CheckResult, Severity, check_pack
from tests.conftest import ROOT

# A pack with every built-in behaviour switched off and one flow that says `choose`, so only the
# checks under test speak.
PACK = """\
pack: p
version: 1.0.0
language: en
settings: {repair: {digression: false, correction: false, clarification: false, cancel: false,
  restart: false, repeat: false, help: false, human: false}}
intents:
  pick:
    examples: [a, b, c, d, e, f, g, h, i, j]
flows:
  pick:
    description: Pick
    trigger: {intents: [pick]}
    steps: [{respond: choose}]
"""

RESPONSES = "responses:\n  ask_rephrase: Sorry?\n  choose:\n"

LONG_TITLE = """\
    - text: Shall I create the returns label?
      buttons:
        - title: Yes, create the label
          payload: /pick
        - title: No, not yet
          payload: no
"""

WritePack = Callable[..., Path]


def _check(write_pack: WritePack, choose: str, channels: str | None = None, **files: str) -> CheckResult:
    """Check a pack whose response `choose` is `choose` (variations, indented under it)."""
    head = (
        PACK if channels is None else PACK.replace("language: en\n", f"language: en\nchannels: {channels}\n")
    )
    return check_pack(write_pack({"pack.yml": head, "responses.yml": RESPONSES + choose, **files}))


def _found(result: CheckResult) -> list[tuple[str, int, int]]:
    return [(d.code, d.location.line, d.location.column) for d in result.diagnostics if d.location]


def test_channel_rendering_title_too_long_for_whatsapp_warns(write_pack: WritePack) -> None:
    result = _check(write_pack, LONG_TITLE, "[webchat, whatsapp]")
    assert _found(result) == [("P505", 6, 18)]
    (warning,) = result.diagnostics
    assert warning.severity is Severity.WARNING
    assert warning.message == (
        "response 'choose' on WhatsApp: button title 'Yes, create the label' is longer than "
        "WhatsApp's 20 characters: it is cut short"
    )
    assert (
        "shorten the title to 20 characters or fewer (WhatsApp shows 'Yes, create the lab…')" in warning.fix
    )
    assert "'channel: whatsapp'" in warning.fix
    assert result.ok() and not result.ok(strict=True)


def _buttons(*titles: str, payloads: tuple[str, ...] | None = None) -> str:
    chosen = payloads or tuple(f"option {n}" for n in range(len(titles)))
    lines = "".join(
        f"        - title: '{t}'\n          payload: '{p}'\n" for t, p in zip(titles, chosen, strict=True)
    )
    return f"    - text: Which one?\n      buttons:\n{lines}"


def test_channel_rendering_whatsapp_refuses_buttons_with_one_title(write_pack: WritePack) -> None:
    result = _check(write_pack, _buttons("Yes", "Yes"), "[whatsapp]")
    assert _found(result) == [("P505", 8, 11)]
    (warning,) = result.diagnostics
    assert "buttons 'Yes' and 'Yes' both show as 'Yes', which WhatsApp refuses" in warning.message
    assert "numbered options instead" in warning.message
    assert "give each button a title and a payload of its own" in warning.fix


def test_channel_rendering_whatsapp_titles_that_are_the_same_once_cut_are_numbered(
    write_pack: WritePack,
) -> None:
    result = _check(
        write_pack, _buttons("Track my parcel now please", "Track my parcel now thanks"), "[whatsapp]"
    )
    problems = [d.message for d in result.diagnostics]
    assert any("cut short" in m for m in problems)
    assert any("both show as 'Track my parcel now…'" in m for m in problems)


def test_channel_rendering_whatsapp_list_rows_take_24_characters(write_pack: WritePack) -> None:
    long_title = "Where is my parcel now"  # 22 characters: too long for a reply button, fine in a list
    assert _check(write_pack, _buttons(long_title, "B", "C", "D", "E"), "[whatsapp]").diagnostics == []
    (warning,) = _check(write_pack, _buttons(long_title, "B"), "[whatsapp]").diagnostics
    assert "longer than WhatsApp's 20 characters: it is cut short" in warning.message


def test_channel_rendering_a_button_without_a_payload_is_numbered(write_pack: WritePack) -> None:
    (warning,) = _check(write_pack, _buttons("Yes", payloads=("",)), "[telegram]").diagnostics
    assert "a button has no payload: the buttons are sent as numbered options instead" in warning.message
    assert "give the button a payload" in warning.fix


def test_channel_rendering_nothing_is_checked_without_channels(write_pack: WritePack) -> None:
    result = _check(write_pack, LONG_TITLE)
    assert result.pack is not None and result.pack.channels is None
    assert result.diagnostics == []


def test_channel_rendering_rest_and_webchat_show_everything(write_pack: WritePack) -> None:
    result = _check(write_pack, LONG_TITLE, "[rest, webchat]")
    assert result.pack is not None and result.pack.channels == ("rest", "webchat")
    assert result.diagnostics == []


def test_channel_rendering_each_messenger_warns_on_its_own(write_pack: WritePack) -> None:
    result = _check(write_pack, LONG_TITLE, "[facebook, whatsapp, telegram, slack]")
    assert _found(result) == [("P505", 6, 18), ("P505", 6, 18)]
    assert sorted(d.message.split(":")[0] for d in result.diagnostics) == [
        "response 'choose' on Facebook Messenger",
        "response 'choose' on WhatsApp",
    ]


def test_channel_rendering_a_channel_variation_is_checked_only_for_its_channel(
    write_pack: WritePack,
) -> None:
    payload = '/pick{"note": "' + "x" * 60 + '"}'
    choose = f"""\
    - text: Pick one
      buttons:
        - title: A title far longer than twenty characters
          payload: '{payload}'
      channel: telegram
    - text: Pick one
      buttons:
        - title: Short
          payload: /pick
"""
    slots = "slots:\n  note: {type: text, fill: [{text: true}]}\n"
    result = _check(write_pack, choose, "[telegram, whatsapp, facebook]", **{"slots.yml": slots})
    # The title fits Telegram (no limit there); only the payload, over 64 bytes, is too long.
    assert _found(result) == [("P505", 7, 20)]
    (warning,) = result.diagnostics
    assert warning.message.startswith("response 'choose' (variation 1 of 2) on Telegram: button payload")
    assert "is longer than Telegram's 64 bytes: the buttons are sent as numbered options" in warning.message
    assert "shorten the payload to 64 bytes or fewer" in warning.fix
    assert "'channel: telegram'" in warning.fix


def test_channel_rendering_payload_over_telegrams_64_bytes(write_pack: WritePack) -> None:
    payload = "please tell me more about the delivery options for my order today"
    assert len(payload.encode()) > 64
    choose = (
        "    - text: Anything else?\n      quick_replies:\n"
        f"        - title: More\n          payload: {payload}\n"
    )
    result = _check(write_pack, choose, "[telegram]")
    assert _found(result) == [("P505", 7, 20)]
    assert f"button payload {payload!r} is longer than Telegram's 64 bytes" in result.diagnostics[0].message


def test_channel_rendering_a_variation_of_the_channel_sets_aside_those_for_any(write_pack: WritePack) -> None:
    # On WhatsApp the response always has its own variation, so the one for any channel is never said there.
    choose = LONG_TITLE + "    - text: Reply YES for a label.\n      channel: whatsapp\n"
    result = _check(write_pack, choose, "[whatsapp]")
    assert result.diagnostics == []


def test_channel_rendering_conditions_on_the_channel_are_followed(write_pack: WritePack) -> None:
    choose = LONG_TITLE.replace("      buttons:", '      condition: channel != "whatsapp"\n      buttons:')
    choose += "    - Reply YES for a label.\n"
    assert _check(write_pack, choose, "[whatsapp, slack]").diagnostics == []
    # A condition that also depends on the conversation may hold on WhatsApp: it is checked there.
    depends = choose.replace('channel != "whatsapp"', 'channel != "whatsapp" or intent == "pick"')
    assert _found(_check(write_pack, depends, "[whatsapp, slack]")) == [("P505", 7, 18)]
    # A variation whose condition always holds on WhatsApp is preferred there to one without.
    preferred = LONG_TITLE + '    - text: Reply YES for a label.\n      condition: channel == "whatsapp"\n'
    assert _check(write_pack, preferred, "[whatsapp, slack]").diagnostics == []
    assert _found(_check(write_pack, preferred, "[whatsapp, facebook]")) == [("P505", 6, 18)]


def test_channel_rendering_too_many_buttons_for_messenger(write_pack: WritePack) -> None:
    buttons = "".join(f"        - title: Size {n}\n          payload: /pick\n" for n in range(14))
    choose = f"    - text: Which size?\n      buttons:\n{buttons}"
    result = _check(write_pack, choose, "[facebook, slack]")
    assert _found(result) == [("P505", 5, 7)]
    (warning,) = result.diagnostics
    assert warning.message == (
        "response 'choose' on Facebook Messenger: 14 buttons are more than Facebook Messenger shows "
        "(13): they are sent as numbered options instead"
    )
    assert warning.fix.startswith("give at most 13 buttons, or give the response a variation for Facebook")


def test_channel_rendering_custom_on_twilio(write_pack: WritePack) -> None:
    choose = (
        "    - text: Here is the map.\n      custom: {type: location, latitude: 51.5, longitude: -0.12}\n"
    )
    result = _check(write_pack, choose, "[webchat, twilio]")
    assert _found(result) == [("P506", 5, 7)]
    (warning,) = result.diagnostics
    assert warning.message == (
        "response 'choose' has a custom payload, which SMS (Twilio) does not send: "
        "it is left out, and the customer gets the rest of the message"
    )
    assert "a variation with text for SMS (Twilio) ('channel: twilio')" in warning.fix
    # Written for SMS itself, the variation says nothing there.
    only_custom = "    - Here is the map.\n    - custom: {type: sticker}\n      channel: twilio\n"
    result = _check(write_pack, only_custom, "[webchat, twilio]")
    assert _found(result) == [("P506", 5, 7)]
    (warning,) = result.diagnostics
    assert warning.message.startswith("response 'choose' (variation 2 of 2) has a custom payload")
    assert warning.message.endswith("the variation has nothing else, so the customer gets no message")
    assert warning.fix.startswith("write the message as 'text:' instead")


def test_channel_rendering_custom_for_any_channel_on_several_messengers(write_pack: WritePack) -> None:
    choose = "    - text: Here is the map.\n      custom: {type: location}\n"
    result = _check(write_pack, choose, "[webchat, telegram, slack]")
    assert _found(result) == [("P507", 5, 7)]
    (warning,) = result.diagnostics
    assert warning.message == (
        "response 'choose' has a custom payload but no 'channel:', so the same platform-specific "
        "message is sent to Telegram and Slack"
    )
    assert "(telegram, slack)" in warning.fix
    # One messenger (web chat shows everything): the payload is written for it.
    assert _check(write_pack, choose, "[webchat, telegram]").diagnostics == []
    # Written for one platform: fine.
    assert _check(write_pack, choose + "      channel: telegram\n", "[telegram, slack]").diagnostics == []


def test_channel_rendering_imported_responses_are_checked_with_how_to_override(
    write_pack: WritePack, tmp_path: Path
) -> None:
    write_pack(
        {"pack.yml": "pack: base\nversion: 1.0.0\nlanguage: en\n", "responses.yml": RESPONSES + LONG_TITLE},
        name="base",
    )
    head = PACK.replace("language: en\n", "language: en\nimports: [base]\nchannels: [whatsapp]\n")
    result = check_pack(write_pack({"pack.yml": head}))
    assert [(d.code, Path(d.location.file).parent.name) for d in result.diagnostics if d.location] == [
        ("P505", "base")
    ]
    assert "list 'responses.choose' under 'overrides:'" in result.diagnostics[0].fix


def test_channel_rendering_unknown_channel_lists_the_known_ones(write_pack: WritePack) -> None:
    result = _check(write_pack, LONG_TITLE, "[webchat, whatsap, sms]")
    assert _found(result) == [("P218", 4, 21), ("P218", 4, 30)]
    first, second = result.diagnostics
    assert first.is_error and not result.ok()
    assert first.message == "channels[1]: unknown channel 'whatsap'; did you mean 'whatsapp'?"
    assert second.message.startswith("channels[2]: unknown channel 'sms'; known: botframework, facebook")
    assert first.fix == "use one of: rest, webchat, telegram, slack, facebook, whatsapp, botframework, twilio"
    # Only the top-level list holds channels: a slot called `channels` is a slot.
    slot = _check(write_pack, LONG_TITLE, **{"slots.yml": "slots:\n  channels: {type: txt}\n"})
    assert [d.code for d in slot.diagnostics] == ["P104"]


def test_channel_rendering_channels_are_listed_once(write_pack: WritePack) -> None:
    result = _check(write_pack, LONG_TITLE, "[webchat, whatsapp, webchat]")
    assert _found(result) == [("P104", 4, 11)]
    assert result.diagnostics[0].message == "channels: 'webchat' is listed more than once"
    empty = _check(write_pack, LONG_TITLE, "[]")
    assert _found(empty) == [("P104", 4, 11)]
    assert "leave 'channels:' out" in empty.diagnostics[0].fix


def test_channel_rendering_channels_in_two_files_is_an_error(write_pack: WritePack) -> None:
    result = _check(write_pack, LONG_TITLE, "[webchat]", **{"serving.yml": "channels: [whatsapp]\n"})
    assert [(d.code, Path(d.location.file).name) for d in result.diagnostics if d.location] == [
        ("P201", "serving.yml")
    ]
    assert result.diagnostics[0].message.startswith("pack setting 'channels' is defined twice in this pack")
    assert not result.ok()


def test_channel_rendering_reference_table_shows_the_limits_checked() -> None:
    text = (ROOT / "docs" / "pack-language.md").read_text(encoding="utf-8")
    rows = {
        line.split("`")[1]: [cell.strip() for cell in line.strip("|").split("|")[1:]]
        for line in text.splitlines()
        if line.startswith("| `") and "](channels/" in line
    }
    expected = {
        name: [
            limits.platform,
            str(limits.max_text),
            limits.buttons_as,
            "–" if limits.max_buttons is None else str(limits.max_buttons),
            "no limit" if limits.max_title is None else str(limits.max_title),
            "no limit" if limits.max_payload_bytes is None else f"{limits.max_payload_bytes} bytes",
            "sent" if limits.custom else "**not sent**",
        ]
        for name, limits in LIMITS.items()
    }
    assert rows == expected
    for name in LIMITS:
        assert f"](channels/{name}.md)" in text
