"""The policy interface: what a policy sees of a turn, and the decision it may return.

Policies are consulted in the order `config.yml` gives (default: escalation, repair, flow,
fallback). The first that returns a `Decision` decides the turn; the runtime carries it out
and records it as a `decision` event with the policy's name and its reason. Policies only
decide: they never change the tracker.

A policy may also implement `after_steps`: the runtime asks it again once the flows have run
(the escalation policy uses this for rules about slots that actions just set).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from engine.config import DEFAULT_POLICIES
from engine.dialogue.scope import Scope
from engine.dialogue.slots import Candidate
from engine.dialogue.tracker import DialogueState

if TYPE_CHECKING:
    from engine.dialogue.runtime import Assistant

DecisionKind = Literal[
    "start_flow",
    "digress",
    "answer",
    "correct",
    "cancel",
    "restart",
    "repeat",
    "help",
    "clarify",
    "rephrase",
    "escalate",
]


@dataclass(frozen=True)
class Decision:
    """What to do with a message. Only the fields of its kind are set."""

    kind: DecisionKind
    policy: str
    reason: str
    flow: str | None = None
    slot: str | None = None
    #: clarify: the intents offered.
    options: tuple[str, ...] = ()
    #: escalate: where, why and how urgently; `rule` is the escalation rule's index.
    queue: str | None = None
    code: str | None = None
    priority: str = "normal"
    rule: int | None = None

    def describe(self) -> str:
        detail = self.flow or self.slot or self.queue or ", ".join(self.options)
        return f"{self.kind} {detail}".strip()


@dataclass(frozen=True)
class Turn:
    """A customer message as the policies see it."""

    assistant: Assistant
    state: DialogueState
    #: The NLU's reading (Rasa's parse_data shape).
    parse: Mapping[str, Any]
    #: The intent, when understood well enough to act on; None when out of scope.
    intent: str | None
    confidence: float
    ambiguous: bool
    #: The slot the active collect step is waiting for, if any.
    asking: str | None
    #: Values this message offers for slots.
    candidates: Mapping[str, Candidate]
    #: The message was counted as not understood before the policies ran.
    fallback_counted: bool = False
    #: Names and values conditions see (with this message as the latest).
    scope: Scope = field(default_factory=dict)

    @property
    def answers_question(self) -> bool:
        """The message gives a value for the slot being asked for."""
        return self.asking is not None and self.asking in self.candidates

    @property
    def understood(self) -> bool:
        return self.intent is not None


class Policy(Protocol):
    name: str

    def decide(self, turn: Turn) -> Decision | None: ...

    def after_steps(self, turn: Turn) -> Decision | None: ...


class BasePolicy:
    """Convenience base: a name, and no second look after the flows ran."""

    name = "base"

    def __init__(self, **options: Any) -> None:
        if options:
            raise TypeError(f"policy '{self.name}' takes no options, got {sorted(options)}")

    def decide(self, turn: Turn) -> Decision | None:  # pragma: no cover - overridden
        return None

    def after_steps(self, turn: Turn) -> Decision | None:
        return None

    def decision(self, kind: DecisionKind, reason: str, **fields: Any) -> Decision:
        return Decision(kind=kind, policy=self.name, reason=reason, **fields)


PolicyFactory = Callable[..., Policy]
_REGISTRY: dict[str, PolicyFactory] = {}


def register_policy(name: str) -> Callable[[PolicyFactory], PolicyFactory]:
    """Class decorator: make a policy available to `config.yml` under `name`."""

    def add(factory: PolicyFactory) -> PolicyFactory:
        _REGISTRY[name] = factory
        return factory

    return add


def registered_policies() -> dict[str, PolicyFactory]:
    import policies  # noqa: F401 - registers the built-in policies

    return dict(_REGISTRY)


def build_policies(names: list[str] | None = None) -> list[Policy]:
    """Policies by name, in order; raises ValueError naming unknown ones and the known ones."""
    known = registered_policies()
    wanted = list(DEFAULT_POLICIES) if names is None else names
    if not wanted:
        raise ValueError(f"list at least one dialogue policy in config.yml, e.g. {list(DEFAULT_POLICIES)}")
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise ValueError(
            f"unknown polic{'y' if len(unknown) == 1 else 'ies'} {', '.join(map(repr, unknown))} "
            f"in config.yml; known: {', '.join(sorted(known))}"
        )
    return [known[name]() for name in wanted]
