"""Responses (engine/dialogue/responses.py): the sandbox, choosing a variation, rich messages."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from engine.dialogue.runtime import Assistant
from tests.dialogue.conftest import Chat

RESPONSES = """\
intents:
  note: {examples: [take a note]}
slots:
  note: {fill: [{text: true}]}
  vip: {type: bool, initial: false}
responses:
  ask_note: What should I note?
  echo: "Noted: {{ slots.note }}"
  evil_mro:
    - text: "{{ ''.__class__.__mro__ }}"
  evil_globals:
    - text: "{{ cycler.__init__.__globals__ }}"
  evil_then_safe:
    - text: "{{ text.__class__.__base__.__subclasses__() }}"
    - text: Safe.
  rotating: [One., Two., Three.]
  channels:
    - text: Anywhere.
    - text: On webchat.
      channel: webchat
    - text: On Slack.
      channel: slack
  channel_over_condition:
    - text: On webchat, for anyone.
      channel: webchat
    - text: Anywhere, for VIPs.
      condition: slots.vip
  conditional:
    - text: Everyone.
    - text: VIPs.
      condition: slots.vip
  rich:
    - text: Pick one.
      buttons:
        - {title: "Yes", payload: /affirm}
        - {title: Small, payload: '/inform{"note": "s"}'}
  quick:
    - text: Quick.
      quick_replies:
        - {title: "No", payload: /deny}
  picture:
    - image: https://example.com/a.png
      text: A picture.
  custom_only:
    - custom: {type: location, latitude: 51.5}
flows:
  note:
    description: take a note
    trigger: {intents: [note]}
    steps:
      - collect: note
      - respond: echo
"""


def render(
    assistant: Assistant, name: str, *, channel: str = "rest", times_said: int = 0, vip: bool = False
) -> str | None:
    tracker = assistant.tracker("r")
    tracker.state.slots["vip"] = vip
    message = assistant.renderer.render(name, assistant.scope(tracker, channel), times_said=times_said)
    return None if message is None else message.text


@pytest.mark.parametrize("typed", ["{{ 7*7 }}", "{% for x in y %}{{ x }}{% endfor %}", "{{ ''.__class__ }}"])
def test_responses_customer_text_is_never_run_as_a_template(
    make_chat: Callable[..., Chat], typed: str
) -> None:
    chat = make_chat(RESPONSES, {"take a note": ("note",)})
    chat.user("take a note")
    chat.user(typed)
    chat.bot("echo")
    assert chat.texts == [f"Noted: {typed}"]


@pytest.mark.parametrize("name", ["evil_mro", "evil_globals"])
def test_responses_sandbox_stops_templates_reaching_internals(
    make_assistant: Callable[..., Assistant], caplog: pytest.LogCaptureFixture, name: str
) -> None:
    assistant = make_assistant(RESPONSES)
    with caplog.at_level(logging.WARNING, logger="engine.dialogue"):
        assert render(assistant, name) is None
    assert any("SecurityError" in r.getMessage() for r in caplog.records)


def test_responses_unsafe_variation_is_skipped_for_another(make_assistant: Callable[..., Assistant]) -> None:
    assistant = make_assistant(RESPONSES)
    assert [render(assistant, "evil_then_safe", times_said=n) for n in range(2)] == ["Safe.", "Safe."]


def test_responses_rotate_in_order(make_assistant: Callable[..., Assistant]) -> None:
    assistant = make_assistant(RESPONSES, responses="{selection: rotate}")
    assert [render(assistant, "rotating", times_said=n) for n in range(5)] == [
        "One.",
        "Two.",
        "Three.",
        "One.",
        "Two.",
    ]


def test_responses_rotate_through_a_conversation(make_chat: Callable[..., Chat]) -> None:
    body = RESPONSES.replace(
        "  note: {examples: [take a note]}\n",
        "  note: {examples: [take a note]}\n  count: {examples: [count]}\n",
    )
    body += """\
  count:
    description: count
    trigger: {intents: [count]}
    steps:
      - respond: rotating
      - respond: evil_mro
"""
    chat = make_chat(body, {"count": ("count",)}, responses="{selection: rotate}")
    said = []
    for _ in range(4):
        chat.user("count")  # the unsafe response says nothing, and the turn goes on
        said.extend(chat.texts)
    assert said == ["One.", "Two.", "Three.", "One."]


def test_responses_random_is_reproducible_with_a_seed(make_assistant: Callable[..., Assistant]) -> None:
    def sequence(seed: int) -> list[str | None]:
        assistant = make_assistant(RESPONSES, responses="{selection: random}", seed=seed)
        return [render(assistant, "rotating") for _ in range(20)]

    first = sequence(7)
    assert sequence(7) == first
    assert set(first) == {"One.", "Two.", "Three."}
    assert sequence(8) != first


@pytest.mark.parametrize(
    ("channel", "expected"),
    [("rest", "Anywhere."), ("webchat", "On webchat."), ("slack", "On Slack."), ("twilio", "Anywhere.")],
)
def test_responses_prefer_the_channel_variation(
    make_assistant: Callable[..., Assistant], channel: str, expected: str
) -> None:
    assistant = make_assistant(RESPONSES, responses="{selection: random}")
    assert {render(assistant, "channels", channel=channel) for _ in range(10)} == {expected}


def test_responses_prefer_the_channel_before_the_condition(make_assistant: Callable[..., Assistant]) -> None:
    assistant = make_assistant(RESPONSES, responses="{selection: random}")
    said = {render(assistant, "channel_over_condition", channel="webchat", vip=True) for _ in range(10)}
    assert said == {"On webchat, for anyone."}
    assert render(assistant, "channel_over_condition", channel="rest", vip=True) == "Anywhere, for VIPs."


def test_responses_prefer_the_variation_whose_condition_holds(
    make_assistant: Callable[..., Assistant],
) -> None:
    assistant = make_assistant(RESPONSES, responses="{selection: random}")
    assert {render(assistant, "conditional", vip=True) for _ in range(10)} == {"VIPs."}
    assert {render(assistant, "conditional", vip=False) for _ in range(10)} == {"Everyone."}


def test_responses_rich_parts_end_up_in_the_message_data(make_assistant: Callable[..., Assistant]) -> None:
    assistant = make_assistant(RESPONSES)
    scope = assistant.scope(assistant.tracker("r"), "rest")

    def data(name: str) -> dict[str, object]:
        message = assistant.renderer.render(name, scope)
        assert message is not None and message.response == name
        return dict(message.data)

    assert data("rich") == {
        "buttons": [
            {"title": "Yes", "payload": "/affirm"},
            {"title": "Small", "payload": '/inform{"note": "s"}'},
        ]
    }
    assert data("quick") == {"quick_replies": [{"title": "No", "payload": "/deny"}]}
    assert data("picture") == {"image": "https://example.com/a.png"}
    assert data("custom_only") == {"custom": {"type": "location", "latitude": 51.5}}
    message = assistant.renderer.render("custom_only", scope)
    assert message is not None and message.text is None
