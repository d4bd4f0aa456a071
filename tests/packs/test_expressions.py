from __future__ import annotations

import pytest
from jinja2.exceptions import SecurityError

from engine.packs.expressions import (
    NameUse,
    TemplateSyntaxError,
    compile_condition,
    condition_names,
    environment,
    template_names,
)


def test_expressions_condition_names_include_attributes() -> None:
    uses = condition_names('slots.refund_state == "failed" and conversation.fallbacks >= 2')
    assert set(uses) == {NameUse("slots", "refund_state"), NameUse("conversation", "fallbacks")}


def test_expressions_template_names_ignore_loop_variables() -> None:
    uses = template_names("{% for item in slots.basket %}{{ item }}{% endfor %} {{ slots['email'] }}")
    assert NameUse("slots", "basket") in uses and NameUse("slots", "email") in uses
    assert all(use.name != "item" for use in uses)


def test_expressions_condition_evaluates_in_the_sandbox() -> None:
    condition = compile_condition('intent == "human_handoff" or confidence < 0.3')
    assert condition(intent="human_handoff", confidence=0.9) is True
    assert condition(intent="greet", confidence=0.9) is False


def test_expressions_sandbox_blocks_python_internals() -> None:
    template = environment().from_string("{{ slots.__class__.__mro__ }}")
    with pytest.raises(SecurityError):
        template.render(slots={})


def test_expressions_customer_text_in_a_slot_is_not_evaluated() -> None:
    template = environment().from_string("You said {{ slots.note }}")
    assert template.render(slots={"note": "{{ 7*7 }}"}) == "You said {{ 7*7 }}"


@pytest.mark.parametrize("source", ["slots.x ==", "intent = 'a'", "(a"])
def test_expressions_bad_conditions_do_not_compile(source: str) -> None:
    with pytest.raises(TemplateSyntaxError):
        condition_names(source)
