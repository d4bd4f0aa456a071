"""Conversation tests: YAML files in a pack's `tests/` folder, kept apart from the pack itself.

A test is a script of customer messages and what must happen after each: the responses the
bot says, slot values, flows started or completed, escalations, actions run. Custom actions are
replaced by stubs that set slots or fail in a given way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Discriminator, Field, Tag, TypeAdapter, ValidationError

from engine.packs import errors
from engine.packs.errors import Diagnostic, did_you_mean, with_source_lines
from engine.packs.pack import Pack
from engine.packs.rules import Check, slot_value_problem
from engine.packs.schema import Channel, Name, Node, Priority
from engine.packs.schema_pass import attach_origins, convert_errors
from engine.packs.source import Location
from engine.packs.yamlfiles import read_yaml, to_plain

__all__ = ["ActionStub", "ConversationTest", "TestFile", "TestStep", "load_tests"]

TEST_STEP_KINDS = (
    "user",
    "bot",
    "bot_text",
    "slots",
    "flow_started",
    "flow_completed",
    "flow_cancelled",
    "action",
    "escalated",
    "no_escalation",
)


class ActionStub(Node):
    """What a custom action does in a test instead of calling the action server."""

    slots: dict[Name, Any] = Field(default_factory=dict, description="Slots the action sets.")
    responses: list[str] = Field(default_factory=list, description="Texts the action says.")
    fail: Literal["timeout", "refused", "error", "rejected"] | None = Field(
        None, description="Make the action fail: timeout, refused (server down), error (500), rejected (400)."
    )


class UserStep(Node):
    user: str = Field(description="What the customer writes.")
    intent: Name | None = Field(None, description="The intent the message must be understood as.")
    entities: dict[Name, Any] = Field(default_factory=dict, description="Entities that must be found.")


class BotStep(Node):
    bot: Name = Field(description="A response the bot must say next (by name).")


class BotTextStep(Node):
    bot_text: str = Field(description="Text the bot's next message must contain.")


class SlotsStep(Node):
    slots: dict[Name, Any] = Field(description="Slot values that must hold now (null: not set).")


class FlowStartedStep(Node):
    flow_started: Name = Field(description="A flow that must have started.")


class FlowCompletedStep(Node):
    flow_completed: Name = Field(description="A flow that must have completed.")


class FlowCancelledStep(Node):
    flow_cancelled: Name = Field(description="A flow that must have been cancelled.")


class ActionRunStep(Node):
    action: Name = Field(description="A custom action that must have run.")


class Escalated(Node):
    queue: Name = Field(description="The queue the conversation went to.")
    reason: Name | None = Field(None, description="The reason code.")
    priority: Priority | None = Field(None, description="The priority.")


class EscalatedStep(Node):
    escalated: Escalated = Field(description="The conversation must have been escalated so.")


class NoEscalationStep(Node):
    no_escalation: Literal[True] = Field(description="The conversation must not have been escalated.")


_STEP_TYPES: dict[str, type[Node]] = {
    "user": UserStep,
    "bot": BotStep,
    "bot_text": BotTextStep,
    "slots": SlotsStep,
    "flow_started": FlowStartedStep,
    "flow_completed": FlowCompletedStep,
    "flow_cancelled": FlowCancelledStep,
    "action": ActionRunStep,
    "escalated": EscalatedStep,
    "no_escalation": NoEscalationStep,
}


def _test_step_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        for kind, cls in _STEP_TYPES.items():
            if isinstance(value, cls):
                return f"{kind} check"
        return None
    if isinstance(value, dict):
        kinds = [k for k in TEST_STEP_KINDS if k in value]
        if len(kinds) == 1:
            return f"{kinds[0]} check"
    return None


TestStep = Annotated[
    Union[
        Annotated[UserStep, Tag("user check")],
        Annotated[BotStep, Tag("bot check")],
        Annotated[BotTextStep, Tag("bot_text check")],
        Annotated[SlotsStep, Tag("slots check")],
        Annotated[FlowStartedStep, Tag("flow_started check")],
        Annotated[FlowCompletedStep, Tag("flow_completed check")],
        Annotated[FlowCancelledStep, Tag("flow_cancelled check")],
        Annotated[ActionRunStep, Tag("action check")],
        Annotated[EscalatedStep, Tag("escalated check")],
        Annotated[NoEscalationStep, Tag("no_escalation check")],
    ],
    Discriminator(_test_step_kind, custom_error_type="P701", custom_error_message="test step kind"),
]


class ConversationTest(Node):
    """One scripted conversation."""

    name: str = Field(description="What the test shows; unique in the pack.")
    description: str | None = Field(None, description="More about the test, for people.")
    channel: Channel = Field("rest", description="The channel the conversation happens on.")
    slots: dict[Name, Any] = Field(default_factory=dict, description="Slot values at the start.")
    stubs: dict[Name, ActionStub] = Field(
        default_factory=dict, description="Custom action name -> what it does in this test."
    )
    steps: list[TestStep] = Field(min_length=1, description="Messages and checks, in order.")


class TestFile(Node):
    """A file of conversation tests in a pack's tests/ folder."""

    tests: list[ConversationTest] = Field(description="The tests.")


_FILE = TypeAdapter(TestFile)


def load_tests(
    pack: Pack, broken: frozenset[tuple[str, str]] = frozenset()
) -> tuple[list[ConversationTest], list[Diagnostic]]:
    """Read and check the pack's conversation tests. Tests of imported packs are not included.

    `broken` names the pack's items that exist but failed validation (see `rules.Check`).
    """
    check = Check(pack, broken)
    folder = pack.folder / "tests"
    tests: list[ConversationTest] = []
    diagnostics: list[Diagnostic] = []
    if not folder.is_dir():
        return tests, diagnostics
    seen: dict[str, Location | None] = {}
    sources = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file()):
        source, problems = read_yaml(path)
        diagnostics.extend(problems)
        if source is None or source.root is None:
            continue
        sources.append(source)
        try:
            parsed = _FILE.validate_python(to_plain(source.root))
        except ValidationError as error:
            diagnostics.extend(
                convert_errors(source, (), to_plain(source.root), error.errors(include_url=False), TestFile)
            )
            continue
        attach_origins(parsed, source, ())
        for test in parsed.tests:
            if test.name in seen:
                diagnostics.append(
                    errors.DUPLICATE_TEST(test.at("name"), name=test.name, other=str(seen[test.name]))
                )
                continue
            seen[test.name] = test.at("name")
            diagnostics.extend(_check_test(check, test))
            tests.append(test)
    return tests, with_source_lines(diagnostics, sources)


def _check_test(check: Check, test: ConversationTest) -> Iterator[Diagnostic]:
    pack = check.pack
    where = f"test '{test.name}'"

    def ref(
        section: str, name: str, problem: errors.Problem, location: Location | None
    ) -> Iterator[Diagnostic]:
        if not check.exists(section, name):
            yield problem(location, where=where, name=name, hint=did_you_mean(name, check.known(section)))

    def values(owner: Node, field_name: str, slots: dict[str, Any]) -> Iterator[Diagnostic]:
        for slot, value in slots.items():
            if slot not in pack.slots:  # unknown, or broken (then ref() stays quiet)
                yield from ref("slots", slot, errors.UNKNOWN_SLOT, owner.at(field_name, slot, key=True))
                continue
            reason = slot_value_problem(pack.slots[slot], value)
            if reason:
                yield errors.SLOT_VALUE_TYPE(
                    owner.at(field_name, slot),
                    where=where,
                    value=value,
                    slot=slot,
                    type=pack.slots[slot].type,
                    reason=reason,
                )

    yield from values(test, "slots", test.slots)
    for name, stub in test.stubs.items():
        if name not in pack.actions:
            if check.exists("actions", name):
                continue
            yield errors.TEST_STUB_UNKNOWN(
                test.at("stubs", name, key=True), name=name, hint=did_you_mean(name, pack.actions)
            )
            continue
        yield from values(stub, "slots", stub.slots)
        for slot in stub.slots:
            if slot in pack.slots and slot not in pack.actions[name].slots:
                yield errors.STUB_UNDECLARED_SLOT(stub.at("slots", slot, key=True), action=name, slot=slot)
    for step in test.steps:
        if isinstance(step, UserStep):
            if step.intent is not None:
                yield from ref("intents", step.intent, errors.UNKNOWN_INTENT, step.at("intent"))
            for entity in step.entities:
                yield from ref(
                    "entities", entity, errors.UNKNOWN_ENTITY, step.at("entities", entity, key=True)
                )
        elif isinstance(step, BotStep):
            yield from ref("responses", step.bot, errors.UNKNOWN_RESPONSE, step.at("bot"))
        elif isinstance(step, SlotsStep):
            yield from values(step, "slots", step.slots)
        elif isinstance(step, (FlowStartedStep, FlowCompletedStep, FlowCancelledStep)):
            field_name = next(iter(type(step).model_fields))
            yield from ref("flows", getattr(step, field_name), errors.UNKNOWN_FLOW, step.at(field_name))
        elif isinstance(step, ActionRunStep):
            yield from ref("actions", step.action, errors.UNKNOWN_ACTION, step.at("action"))
        elif isinstance(step, EscalatedStep):
            yield from ref("queues", step.escalated.queue, errors.UNKNOWN_QUEUE, step.escalated.at("queue"))
