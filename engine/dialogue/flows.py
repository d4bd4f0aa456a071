"""Flows compiled into programs: a flat list of instructions with jumps.

A flow's nested steps (`if` branches, `on_failure` and `on_exhausted` blocks) become one list,
so a position in a flow is a single number (`pc`) that is easy to store in the tracker, and
`goto`, branches and blocks are jumps. Falling off the end of the main steps completes the flow;
after an `on_failure` or `on_exhausted` block the flow goes on with the step after the one that
failed, unless the block ends it (`end`, `link`, `escalate`) or jumps elsewhere (`goto`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from engine.packs.schema import (
    ActionStep,
    AnyStep,
    CallStep,
    CollectStep,
    EndStep,
    EscalateStep,
    Flow,
    GotoStep,
    IfStep,
    LinkStep,
    RespondStep,
    SetStep,
)

Op = Literal["collect", "action", "respond", "set", "branch", "jump", "link", "call", "escalate", "end"]


@dataclass(frozen=True)
class Instr:
    """One instruction. `target` is where `branch` goes when its condition is false, where
    `jump` goes, and where `collect`/`action` go when retries run out or the action fails
    (None: no block, the default behaviour applies)."""

    op: Op
    #: The step's own `id`, or its position in the flow such as `3.then.0`.
    label: str
    step: AnyStep | None = None
    target: int | None = None

    @property
    def written(self) -> bool:
        """A step the pack wrote (the jumps and `end`s added around blocks are not)."""
        return self.step is not None

    @property
    def step_id(self) -> str | None:
        """The id the pack gave the step, or None."""
        return self.step.id if self.step is not None else None


@dataclass(frozen=True)
class Program:
    name: str
    flow: Flow
    instrs: tuple[Instr, ...]
    #: slot -> positions of the collect steps for it, in order.
    collects: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.instrs)


@dataclass
class _Draft:
    op: Op
    label: str
    step: AnyStep | None = None
    target: int | None = None
    goto: str | None = None


def compile_flow(name: str, flow: Flow) -> Program:
    drafts: list[_Draft] = []
    ids: dict[str, int] = {}
    blocks: list[tuple[int, Sequence[AnyStep], str]] = []

    def emit(steps: Sequence[Any], path: str) -> None:
        for index, step in enumerate(steps):
            label = step.id or f"{path}{index}"
            if step.id:
                ids[step.id] = len(drafts)
            if isinstance(step, IfStep):
                branch = _Draft("branch", label, step)
                drafts.append(branch)
                emit(step.then, f"{path}{index}.then.")
                if step.else_:
                    skip = _Draft("jump", label, None)
                    drafts.append(skip)
                    branch.target = len(drafts)
                    emit(step.else_, f"{path}{index}.else.")
                    skip.target = len(drafts)
                else:
                    branch.target = len(drafts)
            elif isinstance(step, CollectStep):
                drafts.append(_Draft("collect", label, step))
                if step.on_exhausted:
                    blocks.append((len(drafts) - 1, step.on_exhausted, f"{path}{index}.on_exhausted."))
            elif isinstance(step, ActionStep):
                drafts.append(_Draft("action", label, step))
                if step.on_failure:
                    blocks.append((len(drafts) - 1, step.on_failure, f"{path}{index}.on_failure."))
            elif isinstance(step, GotoStep):
                drafts.append(_Draft("jump", label, step, goto=step.goto))
            else:
                drafts.append(_Draft(_OPS[type(step)], label, step))

    emit(flow.steps, "")
    drafts.append(_Draft("end", "end", None))
    while blocks:
        owner, steps, path = blocks.pop(0)
        drafts[owner].target = len(drafts)
        emit(steps, path)
        # After an on_failure/on_exhausted block the flow goes on with the step after the one
        # that failed (a block stops the flow with `end`, `link` or `escalate`).
        drafts.append(_Draft("jump", f"{path}end", None, target=owner + 1))
    for draft in drafts:
        if draft.goto is not None:
            draft.target = ids[draft.goto]
    instrs = tuple(Instr(d.op, d.label, d.step, d.target) for d in drafts)
    collects: dict[str, list[int]] = {}
    for pc, instr in enumerate(instrs):
        if isinstance(instr.step, CollectStep):
            collects.setdefault(instr.step.collect, []).append(pc)
    return Program(name, flow, instrs, {k: tuple(v) for k, v in collects.items()})


_OPS: dict[type, Op] = {
    RespondStep: "respond",
    SetStep: "set",
    LinkStep: "link",
    CallStep: "call",
    EscalateStep: "escalate",
    EndStep: "end",
}


@dataclass(frozen=True)
class FlowBook:
    """Every flow of a pack, compiled, and which intents start which flows."""

    programs: Mapping[str, Program]
    #: intent -> flows it triggers, in declaration order.
    triggers: Mapping[str, tuple[str, ...]]

    @classmethod
    def compile(cls, flows: Mapping[str, Flow]) -> FlowBook:
        programs = {name: compile_flow(name, flow) for name, flow in flows.items()}
        triggers: dict[str, list[str]] = {}
        for name, flow in flows.items():
            for intent in flow.trigger.intents if flow.trigger else ():
                triggers.setdefault(intent, []).append(name)
        return cls(programs, {k: tuple(v) for k, v in triggers.items()})

    def __getitem__(self, name: str) -> Program:
        return self.programs[name]

    def collects_slot(self, flow: str, slot: str, before: int) -> int | None:
        """The position in `flow`, before `before`, of the earliest step that collects `slot`,
        directly or through a `call`; None when no such step."""
        program = self.programs[flow]
        for pc in range(min(before, len(program))):
            instr = program.instrs[pc]
            if isinstance(instr.step, CollectStep) and instr.step.collect == slot:
                return pc
            if isinstance(instr.step, CallStep) and self._reaches(instr.step.call, slot, set()):
                return pc
        return None

    def _reaches(self, flow: str, slot: str, seen: set[str]) -> bool:
        if flow in seen:
            return False
        seen.add(flow)
        program = self.programs[flow]
        if slot in program.collects:
            return True
        return any(
            isinstance(i.step, CallStep) and self._reaches(i.step.call, slot, seen) for i in program.instrs
        )
