"""The pack language: every key a pack file may contain, its type, default and meaning.

These models are the single source of truth for the schema pass of the validator, for the JSON
Schema that editors use (`parley schema`), and for the reference in `docs/pack-language.md`.
Validated models are frozen; each remembers where it came from (`origin`), so later passes and
the runtime can point at the exact line of a problem.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union, get_args

import phonenumbers
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from engine.packs.annotations import AnnotationError, ParsedExample, parse_example
from engine.packs.source import Location, SourceFile, YamlPath

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
PACK_NAME_PATTERN = r"^[a-z][a-z0-9_-]*$"

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Condition = Annotated[
    str,
    Field(
        min_length=1,
        description="A sandboxed Python-like expression over slots, intent, confidence, "
        "conversation and channel, e.g. 'slots.order_total > 100'.",
    ),
]
Template = Annotated[str, Field(description="A jinja2 template, e.g. 'Hi {{ slots.name }}'.")]
Priority = Literal["low", "normal", "high", "urgent"]
SlotType = Literal[
    "text",
    "integer",
    "float",
    "bool",
    "categorical",
    "email",
    "phone",
    "date",
    "money",
    "list",
    "any",
]
Channel = Literal["rest", "webchat", "telegram", "slack", "facebook", "whatsapp", "botframework", "twilio"]
SystemEntity = Literal["number", "money", "date", "time", "email", "phone", "url"]

#: Channels a response variation may target, and a pack may be served on.
CHANNELS: tuple[str, ...] = get_args(Channel)
#: Built-in entity extractors.
SYSTEM_ENTITIES: tuple[str, ...] = get_args(SystemEntity)
SLOT_TYPES: tuple[str, ...] = get_args(SlotType)


class Node(BaseModel):
    """Base of every pack node: closed (unknown keys are errors), immutable, and located."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    _source: SourceFile | None = PrivateAttr(default=None)
    _path: YamlPath = PrivateAttr(default=())

    @property
    def path(self) -> YamlPath:
        """Where this node is in its file, as keys and indexes."""
        return self._path

    @property
    def source(self) -> SourceFile | None:
        return self._source

    def at(self, *field_path: str | int, key: bool = False) -> Location | None:
        """The location of this node, or of one of its fields (its key when `key`)."""
        if self._source is None:
            return None
        return self._source.locate(self._path + tuple(field_path), key=key)


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as error:
        raise PydanticCustomError("P105", "{reason}", {"reason": str(error), "pattern": pattern}) from None
    return pattern


#: A Python regular expression, checked to compile.
RegexPattern = Annotated[str, AfterValidator(_compiles)]


# -- intents ---------------------------------------------------------------------------------
def _parse_example(value: Any) -> Any:
    if isinstance(value, dict):
        # `- the delivery: late` is read by YAML as a mapping: the colon needs quotes.
        raise PydanticCustomError(
            "P102",
            "an example must be a text",
            {
                "expected": "a text",
                "hint": "; put the example in quotes: a ': ' inside makes YAML read a mapping",
            },
        )
    if not isinstance(value, str):
        raise PydanticCustomError("P102", "an example must be a text", {"expected": "a text"})
    try:
        return parse_example(value)
    except AnnotationError as error:
        raise PydanticCustomError("P106", "{reason}", {"reason": str(error)}) from None


Example = Annotated[
    ParsedExample,
    BeforeValidator(_parse_example, json_schema_input_type=str),
    Field(description="An example message; entities marked as [text](entity) or [text](entity:role)."),
]


class Intent(Node):
    """What a customer wants, taught by example messages."""

    description: str | None = Field(None, description="What the intent means, for people.")
    examples: list[Example] = Field(
        description="Example messages, with entities annotated inline. At least 10 are recommended.",
    )
    threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Confidence below which this intent is treated as not understood; overrides "
        "settings.fallback.threshold for this intent.",
    )

    model_config = ConfigDict(arbitrary_types_allowed=True)


class OutOfScope(Node):
    """Messages the assistant should not try to answer; they teach out-of-scope detection."""

    description: str | None = Field(None, description="What counts as out of scope, for people.")
    examples: list[str] = Field(description="Example messages that no intent covers.")


# -- entities --------------------------------------------------------------------------------
class LookupFile(Node):
    """Lookup values read from a file in the pack folder."""

    file: str = Field(description="Path relative to the pack folder: .txt (one value per line) or .csv.")
    column: str | None = Field(
        None, description="For .csv files: the column holding the values (default: the first)."
    )


class Entity(Node):
    """A piece of information found in messages: by pattern, by list, built-in, or learned."""

    description: str | None = Field(None, description="What the entity is, for people.")
    regex: RegexPattern | list[RegexPattern] | None = Field(
        None, description="Python regular expression(s) that match the entity."
    )
    lookup: list[str] | LookupFile | None = Field(
        None, description="The values the entity can take, inline or from a file in the pack."
    )
    system: SystemEntity | None = Field(
        None, description="A built-in extractor: number, money, date, time, email, phone or url."
    )
    synonyms: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Canonical value -> other ways customers write it; found values are normalized "
        "to the canonical value.",
    )
    roles: list[Name] = Field(
        default_factory=list,
        description="Roles the entity can play, e.g. [origin, destination]; annotate [Paris](city:origin).",
    )
    typo_tolerance: bool = Field(
        True, description="For lookup entities: also match values with a small typo."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Entity:
        kinds = [k for k in ("regex", "lookup", "system") if getattr(self, k) is not None]
        if len(kinds) > 1:
            raise PydanticCustomError(
                "P109",
                "an entity is found by one of regex, lookup or system, not {kinds}",
                {"kinds": " and ".join(kinds), "fix": "keep one; define a second entity for the other"},
            )
        return self

    @property
    def kind(self) -> str:
        """How the entity is extracted: regex, lookup, system or learned."""
        for kind in ("regex", "lookup", "system"):
            if getattr(self, kind) is not None:
                return kind
        return "learned"

    @property
    def patterns(self) -> list[str]:
        return [self.regex] if isinstance(self.regex, str) else list(self.regex or [])


# -- slots -----------------------------------------------------------------------------------
class FillFromEntity(Node):
    """Fill the slot with an entity found in a message."""

    entity: Name = Field(description="The entity whose value fills the slot.")
    role: Name | None = Field(None, description="Only the entity in this role.")
    only_when_asked: bool = Field(
        False, description="Fill only while a flow is asking for this slot (default: any time)."
    )


class FillFromIntent(Node):
    """Fill the slot with a fixed value when a message has an intent (e.g. affirm -> true)."""

    intent: Name = Field(description="The intent that fills the slot.")
    value: Any = Field(description="The value the slot takes.")
    only_when_asked: bool = Field(
        True, description="Fill only while a flow is asking for this slot (default: yes)."
    )


class FillFromText(Node):
    """Fill the slot with the whole message text, when a flow is asking for it."""

    text: Literal[True] = Field(description="Always true: take the whole message.")


def _fill_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return {FillFromEntity: "entity fill", FillFromIntent: "intent fill", FillFromText: "text fill"}.get(
            type(value)
        )
    if isinstance(value, dict):
        kinds = [k for k in ("entity", "intent", "text") if k in value]
        if len(kinds) == 1:
            return f"{kinds[0]} fill"
    return None


FillRule = Annotated[
    Union[
        Annotated[FillFromEntity, Tag("entity fill")],
        Annotated[FillFromIntent, Tag("intent fill")],
        Annotated[FillFromText, Tag("text fill")],
    ],
    Discriminator(_fill_kind, custom_error_type="P110", custom_error_message="fill rule kind"),
]


class SlotValidation(Node):
    """Checks a value must pass before it fills the slot."""

    pattern: RegexPattern | None = Field(None, description="A regular expression the whole value must match.")
    min: float | None = Field(None, description="Smallest allowed value (numbers and money).")
    max: float | None = Field(None, description="Largest allowed value (numbers and money).")
    choices: list[str | int | float] | None = Field(None, description="The only values allowed.")
    action: Name | None = Field(
        None, description="A custom action that validates the value (it rejects by returning 400)."
    )


class Slot(Node):
    """A piece of memory the assistant keeps during a conversation."""

    type: SlotType = Field("text", description="The type of value: " + ", ".join(SLOT_TYPES) + ".")
    description: str | None = Field(None, description="What the slot holds, for people.")
    values: list[str] | None = Field(
        None, description="For categorical slots: the allowed values (required)."
    )
    fill: list[FillRule] = Field(default_factory=list, description="Where values come from, tried in order.")
    validation: SlotValidation | None = Field(None, description="Checks a value must pass.")
    pii: bool = Field(False, description="Personal data: redacted from logs, exports and handoff packets.")
    initial: Any = Field(None, description="The value before anything fills the slot.")

    @property
    def has_initial(self) -> bool:
        return "initial" in self.model_fields_set


# -- responses -------------------------------------------------------------------------------
class Button(Node):
    """A button or quick reply."""

    title: str = Field(description="The label the customer sees.")
    payload: str = Field(
        description="What clicking sends: '/intent', '/intent{\"slot\": \"value\"}', or plain text."
    )


class Variation(Node):
    """One way of saying a response."""

    text: Template | None = Field(None, description="The message, a jinja2 template.")
    condition: Condition | None = Field(None, description="Use this variation only when this holds.")
    channel: Channel | None = Field(None, description="Use this variation only on this channel.")
    buttons: list[Button] = Field(default_factory=list, description="Buttons shown under the text.")
    quick_replies: list[Button] = Field(
        default_factory=list, description="Quick replies: buttons that disappear once one is used."
    )
    image: str | None = Field(None, description="URL of an image to show.")
    custom: dict[str, Any] | None = Field(
        None, description="A channel-specific payload passed through unchanged."
    )

    @model_validator(mode="after")
    def _has_content(self) -> Variation:
        if self.text is None and self.image is None and self.custom is None:
            raise PydanticCustomError(
                "P109",
                "a variation needs text, image or custom content",
                {"fix": "add 'text:'"},
            )
        if self.buttons and self.quick_replies:
            raise PydanticCustomError(
                "P109",
                "a variation has buttons or quick replies, not both",
                {"fix": "keep one of 'buttons:' and 'quick_replies:'"},
            )
        return self


def _text_shorthand(value: Any) -> Any:
    return {"text": value} if isinstance(value, str) else value


VariationItem = Annotated[
    Variation,
    BeforeValidator(_text_shorthand, json_schema_input_type=Union[str, Variation]),
]


def _single_variation(value: Any) -> Any:
    return [value] if isinstance(value, (str, dict)) else value


Response = Annotated[
    list[VariationItem],
    BeforeValidator(_single_variation, json_schema_input_type=Union[str, Variation, list[VariationItem]]),
    Field(
        min_length=1,
        description="One text, or a list of variations: texts, or mappings with text, buttons, condition ...",
    ),
]


# -- actions ---------------------------------------------------------------------------------
class Action(Node):
    """A custom action run by the action server, with how to call it."""

    description: str | None = Field(None, description="What the action does, for people.")
    slots: list[Name] = Field(
        default_factory=list, description="Slots the action may set (for the validator and for readers)."
    )
    timeout: float | None = Field(
        None, gt=0, le=300, description="Seconds to wait for the action server (default: the engine's)."
    )
    retries: int = Field(
        0, ge=0, le=5, description="How often to retry after a failure (idempotent actions only)."
    )
    idempotent: bool = Field(
        False, description="Running it twice has the same effect as once, so retries are safe."
    )
    failure_response: Name | None = Field(
        None, description="Response said when the action fails and the flow gives no 'on_failure'."
    )


# -- flows -----------------------------------------------------------------------------------
class StepBase(Node):
    id: Name | None = Field(None, description="A name for the step, to 'goto' it and in reports.")
    description: str | None = Field(None, description="What the step is for, for people.")


class CollectStep(StepBase):
    """Ask for a slot until it has a valid value."""

    collect: Name = Field(description="The slot to fill.")
    ask: Name | None = Field(None, description="Response that asks for it (default: ask_<slot>).")
    reprompt: Name | None = Field(
        None, description="Response said when the answer is not valid (default: the 'ask' response)."
    )
    max_retries: int | None = Field(
        None, ge=0, le=10, description="Invalid answers allowed (default: settings.collect.max_retries)."
    )
    on_exhausted: list[Step] = Field(
        default_factory=list,
        description="Steps run when retries run out (default: cancel the flow, then escalation rules apply).",
    )
    ask_always: bool = Field(False, description="Ask even when the slot already has a value.")


class ActionStep(StepBase):
    """Call a custom action on the action server."""

    action: Name = Field(description="The custom action, declared under 'actions:'.")
    on_failure: list[Step] = Field(
        default_factory=list,
        description="Steps run when the action fails (default: its failure_response, then escalation rules).",
    )


class RespondStep(StepBase):
    """Say a response."""

    respond: Name = Field(description="The response to say.")


class SetStep(StepBase):
    """Set slots to fixed values (null clears a slot)."""

    set: dict[Name, Any] = Field(description="Slot -> value.")


class IfStep(StepBase):
    """Branch on a condition."""

    if_: Condition = Field(alias="if", description="The condition.")
    then: list[Step] = Field(min_length=1, description="Steps when the condition holds.")
    else_: list[Step] = Field(default_factory=list, alias="else", description="Steps when it does not.")


class LinkStep(StepBase):
    """End this flow and start another."""

    link: Name = Field(description="The flow to start.")


class CallStep(StepBase):
    """Run another flow, then continue here."""

    call: Name = Field(description="The flow to run.")


class EscalateStep(StepBase):
    """Hand the conversation to a human agent."""

    escalate: Name = Field(description="The queue, defined under 'escalation: queues:'.")
    reason: Name = Field("flow_escalation", description="Reason code, for agents and reports.")
    priority: Priority = Field("normal", description="low, normal, high or urgent.")


class GotoStep(StepBase):
    """Continue at another step of the same flow."""

    goto: Name = Field(description="The id of the step to continue at.")


class EndStep(StepBase):
    """End the flow."""

    end: Literal[True] = Field(description="Always true; write the step as '- end'.")


STEP_KINDS = ("collect", "action", "respond", "set", "if", "link", "call", "escalate", "goto", "end")
_STEP_CLASSES: dict[type[BaseModel], str] = {
    CollectStep: "collect",
    ActionStep: "action",
    RespondStep: "respond",
    SetStep: "set",
    IfStep: "if",
    LinkStep: "link",
    CallStep: "call",
    EscalateStep: "escalate",
    GotoStep: "goto",
    EndStep: "end",
}


def _step_kind(value: Any) -> str | None:
    if value == "end":
        return "end step"
    if isinstance(value, BaseModel):
        kind = _STEP_CLASSES.get(type(value))
        return f"{kind} step" if kind else None
    if isinstance(value, dict):
        kinds = [k for k in STEP_KINDS if k in value]
        if len(kinds) == 1:
            return f"{kinds[0]} step"
    return None


def _end_shorthand(value: Any) -> Any:
    return {"end": True} if value == "end" else value


Step = Annotated[
    Union[
        Annotated[CollectStep, Tag("collect step")],
        Annotated[ActionStep, Tag("action step")],
        Annotated[RespondStep, Tag("respond step")],
        Annotated[SetStep, Tag("set step")],
        Annotated[IfStep, Tag("if step")],
        Annotated[LinkStep, Tag("link step")],
        Annotated[CallStep, Tag("call step")],
        Annotated[EscalateStep, Tag("escalate step")],
        Annotated[GotoStep, Tag("goto step")],
        Annotated[
            EndStep,
            BeforeValidator(_end_shorthand, json_schema_input_type=Union[Literal["end"], EndStep]),
            Tag("end step"),
        ],
    ],
    Discriminator(_step_kind, custom_error_type="P107", custom_error_message="step kind"),
]
AnyStep = Union[
    CollectStep,
    ActionStep,
    RespondStep,
    SetStep,
    IfStep,
    LinkStep,
    CallStep,
    EscalateStep,
    GotoStep,
    EndStep,
]


class Trigger(Node):
    """What starts a flow."""

    intents: list[Name] = Field(min_length=1, description="Intents that start the flow.")
    confidence: float | None = Field(
        None, ge=0, le=1, description="Minimum confidence to start it (default: the fallback threshold)."
    )


class Flow(Node):
    """A business process, as steps."""

    description: str = Field(description="What the flow does; shown in clarifications and reports.")
    trigger: Trigger | None = Field(
        None, description="What starts the flow (flows without one are linked or called)."
    )
    guard: Condition | None = Field(None, description="The flow starts only when this holds.")
    reset_slots: list[Name] = Field(
        default_factory=list, description="Slots cleared when the flow ends; all others persist."
    )
    steps: list[Step] = Field(min_length=1, description="What the flow does, in order.")


# -- escalation ------------------------------------------------------------------------------
class BusinessHours(Node):
    """When a queue's agents work. Days not listed are closed."""

    timezone: str = Field(description="IANA timezone, e.g. Europe/London.")
    mon: str | None = Field(None, description="'09:00-17:00', several ranges with ',', or 'closed'.")
    tue: str | None = Field(None, description="As mon.")
    wed: str | None = Field(None, description="As mon.")
    thu: str | None = Field(None, description="As mon.")
    fri: str | None = Field(None, description="As mon.")
    sat: str | None = Field(None, description="As mon.")
    sun: str | None = Field(None, description="As mon.")


class Queue(Node):
    """Where escalated conversations wait for a human agent."""

    description: str | None = Field(None, description="Who works this queue, for people.")
    hours: BusinessHours | None = Field(None, description="When agents work (default: always).")
    closed_message: Name | None = Field(None, description="Response said when the queue is closed.")
    max_wait_minutes: float | None = Field(
        None, gt=0, description="Minutes a ticket may wait unclaimed before the timeout_* keys apply."
    )
    timeout_priority: Priority | None = Field(
        None, description="Priority given to a ticket that waited longer than max_wait_minutes."
    )
    timeout_message: Name | None = Field(
        None, description="Response said to the customer when the wait exceeds max_wait_minutes."
    )


class EscalationRule(Node):
    """When to hand a conversation to a human, checked every turn in order."""

    when: Condition = Field(
        description="The condition, e.g. 'conversation.fallbacks >= 2' or 'intent == \"human_handoff\"'."
    )
    to: Name = Field(description="The queue.")
    reason: Name = Field(description="Reason code, for agents and reports.")
    priority: Priority = Field("normal", description="low, normal, high or urgent.")
    description: str | None = Field(None, description="Why the rule exists, for people.")


class Escalation(Node):
    """Queues of human agents and the rules that send conversations to them."""

    queues: dict[Name, Queue] = Field(default_factory=dict, description="Queue name -> queue.")
    rules: list[EscalationRule] = Field(default_factory=list, description="Rules, first match wins.")
    default_queue: Name | None = Field(
        None, description="Queue for customers who ask for a human when no rule matches."
    )


# -- settings --------------------------------------------------------------------------------
class FallbackSettings(Node):
    """What happens when the assistant does not understand."""

    threshold: Annotated[float, Field(ge=0, le=1)] | Literal["auto"] = Field(
        "auto",
        description="Confidence below which a message is not understood: a number in 0..1, or "
        "'auto' to choose it from the pack's examples to reach target_precision.",
    )
    target_precision: float = Field(
        0.95,
        gt=0,
        le=1,
        description="With threshold 'auto': the share of accepted answers that must be right.",
    )
    ambiguity_margin: float = Field(
        0.1,
        ge=0,
        le=1,
        description="When the top two intents are closer than this, ask which one the customer meant.",
    )
    max_retries: int = Field(
        2, ge=0, le=10, description="Messages not understood in a row before escalating."
    )


class CollectSettings(Node):
    max_retries: int = Field(2, ge=0, le=10, description="Invalid answers allowed per collect step.")


class SessionSettings(Node):
    expire_after_minutes: int = Field(
        60, ge=0, description="Minutes of silence after which a new session starts (0: never)."
    )
    carry_over: list[Name] | Literal["all"] = Field(
        default_factory=list, description="Slots kept when a new session starts: a list, or 'all'."
    )


class RepairSettings(Node):
    """Conversation repair: each switch on by default. Intent switches name the intent that
    triggers the behaviour, or are false to turn it off."""

    digression: bool = Field(True, description="Start another flow mid-flow, then come back.")
    correction: bool = Field(True, description="Let the customer correct a slot they gave.")
    clarification: bool = Field(True, description="Ask 'did you mean A or B?' when unsure.")
    cancel: Name | Literal[False] = Field("cancel", description="Intent that cancels the current flow.")
    restart: Name | Literal[False] = Field("restart", description="Intent that restarts the conversation.")
    repeat: Name | Literal[False] = Field("repeat", description="Intent that repeats the last answer.")
    help: Name | Literal[False] = Field("help", description="Intent that asks for help.")
    human: Name | Literal[False] = Field("human_handoff", description="Intent that asks for a human agent.")


class ResponseSettings(Node):
    selection: Literal["random", "rotate"] = Field(
        "random", description="How a variation is chosen: random, or rotate in order."
    )


def _phone_region(region: str) -> str:
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise PydanticCustomError(
            "P104",
            "{problem}",
            {
                "problem": f"'{region}' is not a country code phone numbers know",
                "fix": "use an ISO 3166 country code in capitals, such as US, GB, DE or IN",
            },
        )
    return region


class NluSettings(Node):
    min_examples: int = Field(10, ge=1, description="Intents with fewer examples get a warning.")
    seed: int = Field(42, description="Seed for training, so the same pack trains the same model.")
    phone_region: Annotated[str, AfterValidator(_phone_region)] = Field(
        "US",
        description="Country of phone numbers written without a country code (ISO 3166 code, e.g. GB).",
    )
    day_first: bool = Field(
        False,
        description="Read dates such as 03/04/2026 day first (3 April) instead of month first (March 4).",
    )


class Settings(Node):
    """Behaviour switches for the whole pack."""

    fallback: FallbackSettings = Field(default_factory=FallbackSettings, description="Not understood.")
    collect: CollectSettings = Field(default_factory=CollectSettings, description="Slot collection.")
    session: SessionSettings = Field(default_factory=SessionSettings, description="Sessions.")
    repair: RepairSettings = Field(default_factory=RepairSettings, description="Conversation repair.")
    responses: ResponseSettings = Field(default_factory=ResponseSettings, description="Responses.")
    nlu: NluSettings = Field(default_factory=NluSettings, description="Training.")


# -- the file --------------------------------------------------------------------------------
def _distinct_channels(value: list[str]) -> list[str]:
    """The channels a pack is served on, when there is at least one and each is listed once."""
    if not value:
        raise PydanticCustomError(
            "P104",
            "{problem}",
            {
                "problem": "the list of channels is empty",
                "fix": "list the channels the assistant is served on, e.g. [webchat, whatsapp], or "
                "leave 'channels:' out to check no messenger's limits",
            },
        )
    repeated = sorted({name for name in value if value.count(name) > 1}, key=value.index)
    if repeated:
        names = " and ".join(f"'{name}'" for name in repeated)
        raise PydanticCustomError(
            "P104",
            "{problem}",
            {
                "problem": f"{names} {'is' if len(repeated) == 1 else 'are'} listed more than once",
                "fix": "list each channel once; if you meant another channel, write that one instead",
            },
        )
    return value


#: Where an assistant is served: each channel once. A repeat is an error, not a warning, so that
#: the validator agrees with editors, which flag it from the JSON Schema's `uniqueItems`.
Channels = Annotated[
    list[Channel],
    AfterValidator(_distinct_channels),
    Field(json_schema_extra={"minItems": 1, "uniqueItems": True}),
]


class PackFile(Node):
    """One YAML file of a pack. A pack's files are merged; every section is optional per file."""

    pack: str | None = Field(
        None, pattern=PACK_NAME_PATTERN, description="The pack's name (in exactly one file)."
    )
    version: str | None = Field(
        None,
        pattern=r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$",
        description="The pack's version, e.g. 1.2.0.",
    )
    language: str | None = Field(
        None, pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$", description="Language code, e.g. en or pt-BR."
    )
    description: str | None = Field(None, description="What the assistant does, for people.")
    channels: Channels | None = Field(
        None,
        description="The channels the assistant is served on (in at most one file): responses are "
        "checked against the limits of the messengers among them. Leave it out to check none.",
    )
    imports: list[str] = Field(
        default_factory=list,
        description="Packs whose content this pack includes: a sibling folder name or a relative path.",
    )
    overrides: list[str] = Field(
        default_factory=list,
        description="Imported items this pack replaces, as section.name (e.g. responses.greet).",
    )
    settings: Settings | None = Field(None, description="Behaviour switches (in at most one file).")
    intents: dict[Name, Intent] = Field(default_factory=dict, description="Intent name -> intent.")
    out_of_scope: OutOfScope | None = Field(None, description="Examples of messages no intent covers.")
    entities: dict[Name, Entity] = Field(default_factory=dict, description="Entity name -> entity.")
    slots: dict[Name, Slot] = Field(default_factory=dict, description="Slot name -> slot.")
    responses: dict[Name, Response] = Field(default_factory=dict, description="Response name -> variations.")
    actions: dict[Name, Action] = Field(
        default_factory=dict, description="Custom action name -> how to call it."
    )
    flows: dict[Name, Flow] = Field(default_factory=dict, description="Flow name -> flow.")
    escalation: Escalation | None = Field(None, description="Human handoff queues and rules.")

    @field_validator("overrides")
    @classmethod
    def _override_paths(cls, value: list[str]) -> list[str]:
        sections = ("intents", "entities", "slots", "responses", "actions", "flows", "queues")
        for item in value:
            section, _, name = item.partition(".")
            if section not in sections or not re.match(NAME_PATTERN, name):
                raise PydanticCustomError(
                    "P104",
                    "override {item!r} is not section.name",
                    {"item": item, "fix": "write e.g. responses.greet; sections: " + ", ".join(sections)},
                )
        return value


#: What one item of each named section is called in messages.
SINGULAR = {
    "intents": "intent",
    "entities": "entity",
    "slots": "slot",
    "responses": "response",
    "actions": "action",
    "flows": "flow",
    "queues": "queue",
}


for _model in (CollectStep, ActionStep, IfStep):
    _model.model_rebuild()
