"""Dialogue benchmark: in-process turn latency of the retail pack on one core.

    python benchmarks/dialogue.py [--turns 3000] [--pack domains/retail] [--models models]
                                  [--json FILE] [--profile FILE]

Scripted turns are the user messages of the pack's own conversation tests (`tests/*.yml`),
replayed as `engine.dialogue.testing` does: one conversation per test, a fresh tracker started
with `SessionStarted` and the test's initial slots, the test's stubs for custom actions, its
channel, response seed 7 and the test clock (Wednesday 11:00 UTC, +5 s per message, so business
hours and session expiry behave as in the tests). Each test has one `Assistant`, built once and
reused for every replay of it, as a server reuses one assistant for many conversations. Tests
are cycled until `--turns` turns are timed, after one warm-up pass over every test.

A turn is one `Assistant.handle` call (NLU + policies + flow steps + rendering; actions stubbed),
timed with `time.perf_counter_ns`. Messages sent while a person has the conversation
(`tracker.state.paused`) skip the NLU and return at once: they are excluded from the latency
figures and from `--turns`, and counted in `dialogue.handoff_turns_excluded`. Turns per second
is timed turns / total time inside `handle` for them (1 / mean latency, one core). The NLU alone
(`NluModel.parse`, with the turn's clock time) is then timed over the same messages, one at a
time, except button payloads, which the runtime reads without the NLU; `nlu_share_of_turn` is
the NLU's total time over the turns' total time. Percentiles are nearest-rank on the sorted
samples (p99 of 3,000 samples is the 2,970th smallest). Garbage collection stays on, as in
serving; log records are made but not written out.

The warm-up pass holds the process's first turns and each new assistant's first use (the
process compiles the pack's conditions and response templates as it first meets them): it is
left out of the main figures and reported apart as `dialogue.first_pass_turn_*` (one sample per
message of the tests, 120 for retail, so its p99 is its second-slowest turn).

"One core": the process is pinned to one CPU with `os.sched_setaffinity` where available, and
OMP/OPENBLAS/MKL/NUMEXPR thread counts are set to 1 before numpy is imported.

`--profile FILE` runs cProfile over the timed pass only and writes its stats to FILE (the
latencies of that run are inflated by the profiler; use it for shares, not figures).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import logging
import os
import resource
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

# Before numpy is imported (through the engine's NLU): BLAS and OpenMP read these once, at load.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"
os.environ["NUMEXPR_NUM_THREADS"] = "1"

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, percentile
from engine.dialogue.actions import ActionStub, StubActionRunner
from engine.dialogue.events import SessionStarted, SlotSet
from engine.dialogue.runtime import PAYLOAD, Assistant
from engine.dialogue.testing import SECONDS_PER_MESSAGE, TEST_CLOCK_START, TEST_SEED
from engine.nlu import ModelStore
from engine.nlu.model import NluModel
from engine.packs import Pack, check_pack
from engine.packs.testcases import ConversationTest, UserStep

TARGET_P99_MS = 5.0
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
DEFAULT_TURNS = 3000


class _Clock:
    """The test clock: fixed, moved on by hand before each message."""

    def __init__(self) -> None:
        self.now = TEST_CLOCK_START

    def __call__(self) -> float:
        return self.now


@dataclass
class Samples:
    """What a replay measured. Turns of a conversation handed to a person are only counted."""

    turn_ns: list[int] = field(default_factory=list)
    #: (message, clock time) of each timed turn, to time the NLU alone on the same input.
    messages: list[tuple[str, float]] = field(default_factory=list)
    decisions: Counter[str] = field(default_factory=Counter)
    handoff_turns: int = 0
    conversations: int = 0


def pin_to_one_cpu() -> str:
    """Pin this process to its lowest allowed CPU; says what was done, for the output."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no os.sched_setaffinity on this platform)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu} of {os.cpu_count()} (os.sched_setaffinity)"


def load(pack_folder: Path, models: Path) -> tuple[Pack, NluModel, bool]:
    """The pack with its tests and its current model (trained first when out of date).

    Raises SystemExit when the pack has errors or no conversation tests.
    """
    result = check_pack(pack_folder, with_tests=True)
    if not result.ok() or result.pack is None:
        problems = "\n".join(str(d) for d in result.errors)
        raise SystemExit(f"{pack_folder}: the pack has errors; fix them first:\n{problems}")
    pack = result.pack
    if not any(isinstance(s, UserStep) for t in pack.tests for s in t.steps):
        raise SystemExit(f"{pack_folder}: no conversation tests with user messages in tests/")
    store = ModelStore(models)
    outcome = store.train(pack)
    return pack, store.load(pack.name), not outcome.skipped


@dataclass
class Script:
    """One conversation test, with its own long-lived assistant (stubs differ between tests)."""

    test: ConversationTest
    assistant: Assistant
    clock: _Clock


def build_scripts(pack: Pack, model: NluModel) -> list[Script]:
    """An assistant per test with user messages, built once and reused for every replay of it,
    as a server reuses one assistant for many conversations."""
    built = []
    for test in pack.tests:
        if not any(isinstance(step, UserStep) for step in test.steps):
            continue
        stubs = {n: ActionStub(dict(s.slots), tuple(s.responses), s.fail) for n, s in test.stubs.items()}
        clock = _Clock()
        runner = StubActionRunner(stubs)
        built.append(Script(test, Assistant(pack, model, actions=runner, seed=TEST_SEED, clock=clock), clock))
    return built


def replay(scripts: Sequence[Script], samples: Samples, turns: int | None) -> None:
    """Replay the tests' user messages, cycling, until `turns` turns are timed; with `turns`
    None, replay every test once."""
    cycle = 0
    while True:
        for script in scripts:
            test, assistant, clock = script.test, script.assistant, script.clock
            clock.now = TEST_CLOCK_START
            tracker = assistant.tracker(f"bench-{cycle}-{test.name}")
            tracker.add(SessionStarted(timestamp=clock.now))
            for name, value in test.slots.items():
                tracker.add(SlotSet(name=name, value=value, timestamp=clock.now))
            samples.conversations += 1
            for step in test.steps:
                if not isinstance(step, UserStep):
                    continue
                clock.now += SECONDS_PER_MESSAGE
                paused = tracker.state.paused
                started = time.perf_counter_ns()
                result = assistant.handle(tracker, step.user, channel=test.channel)
                elapsed = time.perf_counter_ns() - started
                if paused:
                    samples.handoff_turns += 1
                    continue
                samples.turn_ns.append(elapsed)
                samples.messages.append((step.user, clock.now))
                samples.decisions[result.decision.policy if result.decision else "none"] += 1
                if turns is not None and len(samples.turn_ns) >= turns:
                    return
        if turns is None:
            return
        cycle += 1


def time_nlu(pack: Pack, model: NluModel, messages: Sequence[tuple[str, float]]) -> list[int]:
    """Nanoseconds of `model.parse` on each message the runtime gives the NLU (button payloads
    are read without it), one at a time, with the turn's clock time."""
    timings = []
    for text, now in messages:
        payload = PAYLOAD.match(text.strip())
        if payload and payload["intent"] in pack.intents:
            continue
        moment = datetime.fromtimestamp(now, UTC)
        started = time.perf_counter_ns()
        model.parse(text, now=moment)
        timings.append(time.perf_counter_ns() - started)
    return timings


def latency_figures(prefix: str, samples_ns: Sequence[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)
    return {
        f"{prefix}_p50_ms": percentile(ordered, 50) / 1e6,
        f"{prefix}_p99_ms": percentile(ordered, 99) / 1e6,
        f"{prefix}_max_ms": ordered[-1] / 1e6,
        f"{prefix}_mean_ms": sum(ordered) / len(ordered) / 1e6,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=DEFAULT_TURNS, help="turns to time (default 3000)")
    parser.add_argument("--pack", type=Path, default=ROOT / "domains" / "retail", help="the pack folder")
    parser.add_argument("--models", type=Path, default=ROOT / "models", help="the model store")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--profile", type=Path, help="cProfile the timed pass, write stats to this file")
    args = parser.parse_args()
    if args.turns < 1:
        parser.error("--turns must be at least 1")

    # Failing stubs log warnings: records are still made (as when serving), but not written out.
    logging.getLogger().addHandler(logging.NullHandler())
    pinned = pin_to_one_cpu()
    print(f"# one core: {pinned}; {', '.join(THREAD_VARIABLES)} = 1")
    pack, model, trained = load(args.pack, args.models)
    built = build_scripts(pack, model)
    per_pass = sum(isinstance(step, UserStep) for script in built for step in script.test.steps)
    print(
        f"# pack {pack.name}: {len(built)} conversation tests, {per_pass} user messages per pass; "
        f"model {'trained now' if trained else 'up to date'}; warm-up pass reported apart"
    )
    print("# percentiles: nearest-rank on sorted samples; handoff turns (paused) excluded from latency")

    # The warm-up pass: the first turns of the process and of each assistant, reported apart.
    first = Samples()
    replay(built, first, None)
    samples = Samples()
    gc.collect()
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    replay(built, samples, args.turns)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
        print(f"# profile of the timed pass written to {args.profile} (latencies inflated by cProfile)")
    nlu_ns = time_nlu(pack, model, samples.messages)

    figures: dict[str, float] = {
        "dialogue.turns": len(samples.turn_ns),
        "dialogue.handoff_turns_excluded": samples.handoff_turns,
        "dialogue.conversations": samples.conversations,
    }
    figures.update(latency_figures("dialogue.turn", samples.turn_ns))
    figures["dialogue.turns_per_second"] = len(samples.turn_ns) / (sum(samples.turn_ns) / 1e9)
    figures["dialogue.nlu_messages"] = len(nlu_ns)
    figures.update(latency_figures("dialogue.nlu", nlu_ns))
    figures["dialogue.nlu_share_of_turn"] = sum(nlu_ns) / sum(samples.turn_ns)
    for policy, count in sorted(samples.decisions.items(), key=lambda item: (-item[1], item[0])):
        figures[f"dialogue.decisions.{policy}"] = count
    figures["dialogue.first_pass_turns"] = len(first.turn_ns)
    figures.update(latency_figures("dialogue.first_pass_turn", first.turn_ns))
    figures["dialogue.peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    for key, value in figures.items():
        shown = f"{value}" if isinstance(value, int) else f"{value:.4f}"
        target = f"  (target <= {TARGET_P99_MS})" if key == "dialogue.turn_p99_ms" else ""
        print(f"{key} {shown}{target}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
