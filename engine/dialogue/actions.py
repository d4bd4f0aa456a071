"""The boundary to custom actions: what the runtime asks, what it gets back.

The runtime calls custom actions through an `ActionRunner`. The HTTP client for action servers
(Rasa SDK protocol) is one runner; `StubActionRunner` is the fake that conversation tests and
benchmarks use. A runner never raises for a backend problem: it returns an `ActionResult` with
`failure` set, and the runtime turns that into the pack's failure path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from engine.dialogue.tracker import Tracker

#: timeout: no answer in time; refused: the server is down; error: it answered 5xx;
#: rejected: it answered 400 (for a validation action: the value is not valid);
#: malformed: the answer could not be read; unknown_action: 404; circuit_open: not called,
#: the server failed too often just now.
Failure = Literal["timeout", "refused", "error", "rejected", "malformed", "unknown_action", "circuit_open"]


@dataclass(frozen=True)
class ActionResult:
    """What an action did: Rasa events (`{"event": "slot", ...}`) and responses (`{"text": ...}`
    or `{"response": name}`), or a failure."""

    events: tuple[Mapping[str, Any], ...] = ()
    responses: tuple[Mapping[str, Any], ...] = ()
    failure: Failure | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.failure is None


class ActionRunner(Protocol):
    def run(self, action: str, tracker: Tracker) -> ActionResult:
        """Run custom action `action` for the conversation in `tracker`."""
        ...


@dataclass(frozen=True)
class ActionStub:
    """What a stubbed action does: set slots, say texts, or fail."""

    slots: Mapping[str, Any] = field(default_factory=dict)
    responses: tuple[str, ...] = ()
    fail: Failure | None = None


_FAILURE_MESSAGES: dict[str, str] = {
    "timeout": "no answer within the timeout (stubbed)",
    "refused": "connection refused (stubbed)",
    "error": "the action server answered 500 (stubbed)",
    "rejected": "the action rejected the request with 400 (stubbed)",
}


class StubActionRunner:
    """Runs actions from stubs. An action without a stub succeeds and does nothing, unless
    `strict`, where it fails as unknown (so a test notices an action it did not expect)."""

    def __init__(self, stubs: Mapping[str, ActionStub] | None = None, *, strict: bool = False) -> None:
        self.stubs = dict(stubs or {})
        self.strict = strict
        self.calls: list[str] = []

    def run(self, action: str, tracker: Tracker) -> ActionResult:
        self.calls.append(action)
        stub = self.stubs.get(action)
        if stub is None:
            if self.strict:
                return ActionResult(failure="unknown_action", message=f"no stub for action '{action}'")
            return ActionResult()
        if stub.fail is not None:
            return ActionResult(failure=stub.fail, message=_FAILURE_MESSAGES.get(stub.fail, stub.fail))
        return ActionResult(
            events=tuple({"event": "slot", "name": k, "value": v} for k, v in stub.slots.items()),
            responses=tuple({"text": text} for text in stub.responses),
        )
