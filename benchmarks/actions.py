"""Custom-action benchmark: what calling an action server over HTTP costs a turn.

    python benchmarks/actions.py [--calls 2000] [--warmup 200] [--turns 1000]
                                 [--pack domains/retail] [--models models] [--json FILE]

Two rasa_sdk servers are started on loopback ports as child processes
(`engine.actions.ActionServerProcess`, rasa_sdk's app in one process): the no-op
package `benchmarks.noop_actions` (one action, `action_noop`, that returns no events) and the
example action server `actions` over a fresh demo database in a temporary folder
(`$PARLEY_DEMO_DB`). They run in other processes on the same machine as the benchmark (one
process per server), so every figure includes loopback TCP and the
scheduling of those processes on the machine's cores.

1. **Overhead of one call**: `HttpActionRunner.run("action_noop", tracker)`, engine → server →
   back, `--calls` times after `--warmup` calls, with the tracker of a realistic retail
   conversation (`CONVERSATION`, 10 turns against the example server; its request size is
   reported). `pooled`: the runner's pooled `requests.Session`, so every call reuses one
   keep-alive connection. `fresh`: a new `requests.Session` for each call (created outside the
   timed region, closed after it), so each call also opens a TCP connection. The no-op pack that
   declares `action_noop` is written to the temporary folder and loaded with `load_pack`.
   `client_encode_*`: `tracker.to_json()` plus `json.dumps` of the request body alone, in
   process, the part of the overhead that grows with the conversation.
2. **A real action**: `action_lookup_order` on the example server with the same tracker (one
   SQLite read of the order in the tracker's `order_id`), pooled.
3. **Conversation turns**: `Assistant.handle` with the trained retail model and the example
   server, messages like "where is my order B20417?" over the seeded orders of
   actions/README.md, 10 turns per conversation, one conversation after another in this one
   process (sequential, no concurrency). Each such turn starts the `order_status` flow, and the
   flow calls two actions: `validate_order_id` (the slot's validation) and
   `action_lookup_order`. The actions each turn called are counted and reported as they were
   (`pattern.<a>+<b>` turns), with failures. One conversation is replayed first as warm-up.
   `turns_per_second` = timed turns / their total time in `handle`; `action_share_of_turn` =
   time inside the runner's `run` / time in `handle`.

Percentiles are nearest-rank on the sorted `perf_counter_ns` samples (p99 of 2,000 samples is
the 1,980th smallest). The benchmark process is pinned to one CPU after the servers start; the
servers are not pinned. OMP/OPENBLAS/MKL/NUMEXPR thread counts are 1. Garbage collection stays
on; log records are made but not written out. A failed call stops the benchmark (the figures
would not be of the protocol).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

# Before numpy is imported (through the engine's NLU): BLAS and OpenMP read these once, at load.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"
os.environ["NUMEXPR_NUM_THREADS"] = "1"

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests
from requests.adapters import HTTPAdapter

from benchmarks.common import ROOT
from benchmarks.dialogue import latency_figures, pin_to_one_cpu
from engine.actions import ActionServerProcess, HttpActionRunner
from engine.dialogue.actions import ActionResult, ActionRunner
from engine.dialogue.runtime import Assistant
from engine.dialogue.tracker import Tracker
from engine.nlu import ModelStore
from engine.nlu.model import NluModel
from engine.packs import Pack, check_pack, load_pack

TARGET_P50_MS = 5.0
SEED = 7
TURNS_PER_CONVERSATION = 10

NOOP_PACKAGE = "benchmarks.noop_actions"
NOOP_ACTION = "action_noop"
LOOKUP_ACTION = "action_lookup_order"
NOOP_PACK = """\
pack: noop
version: 1.0.0
language: en
settings:
  repair: {digression: false, correction: false, clarification: false, cancel: false,
    restart: false, repeat: false, help: false, human: false}
  nlu: {min_examples: 1}
intents:
  noop: {examples: [do nothing]}
responses:
  ask_rephrase: Sorry?
actions:
  action_noop: {timeout: 5}
flows:
  noop:
    description: call the action that does nothing
    trigger: {intents: [noop]}
    steps:
      - action: action_noop
"""

#: A retail conversation of 10 turns, against the example server: its tracker is the one the
#: timed calls send, so the request has the size of a real conversation's.
CONVERSATION = (
    "hi there",
    "hiya, where's my order?",
    "it's B20417",
    "great, thanks",
    "my parcel is late, order B77310 was meant to come yesterday",
    "can I change where order F20087 is going?",
    "p.nowak@outlook.com",
    "ok, what's going on with order C48213?",
    "has my refund for D27730 come through?",
    "no thanks",
)

#: The seeded orders of actions/README.md ("Demo data"): every one exists, so every lookup finds it.
ORDER_IDS = (
    "A12345",
    "B20417",
    "C48213",
    "D90211",
    "B77310",
    "C10020",
    "F20087",
    "G20301",
    "C39871",
    "B66213",
    "H84412",
    "B30928",
    "E11873",
    "A54321",
    "K12003",
    "J40036",
    "B44120",
    "L50981",
    "B55012",
    "D27730",
)

#: Order-status questions the retail model reads as `order_status` with the order number.
ORDER_STATUS_MESSAGES = (
    "where is my order {}?",
    "what's the status of order {}",
    "has order {} shipped yet?",
    "any news on order {}?",
    "where's my parcel {}?",
    "track order {} please",
    "where is order {}",
    "status of my order {}?",
    "hiya, where's my order {}?",
)


class CallFailed(Exception):
    """An action call failed: the server is not answering as the benchmark needs."""


@dataclass
class Call:
    action: str
    failure: str | None
    elapsed_ns: int


@dataclass
class CountingRunner:
    """Passes calls on to `inner`, and records each one's action, outcome and time."""

    inner: ActionRunner
    calls: list[Call] = field(default_factory=list)

    def run(self, action: str, tracker: Tracker) -> ActionResult:
        started = time.perf_counter_ns()
        result = self.inner.run(action, tracker)
        self.calls.append(Call(action, result.failure, time.perf_counter_ns() - started))
        return result


@dataclass
class TurnSamples:
    turn_ns: list[int] = field(default_factory=list)
    action_ns: int = 0
    patterns: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    conversations: int = 0


def machine() -> str:
    """Cores and CPU model, for the output."""
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}"


def load_retail(pack_folder: Path, models: Path) -> tuple[Pack, NluModel, bool]:
    """The pack and its current model (trained first when out of date); raises SystemExit when
    the pack has errors."""
    result = check_pack(pack_folder, with_tests=True)
    if not result.ok() or result.pack is None:
        problems = "\n".join(str(d) for d in result.errors)
        raise SystemExit(f"{pack_folder}: the pack has errors; fix them first:\n{problems}")
    store = ModelStore(models)
    outcome = store.train(result.pack)
    return result.pack, store.load(result.pack.name), not outcome.skipped


def noop_pack(folder: Path) -> Pack:
    """The pack declaring `action_noop` (the runner reads its timeout from `pack.actions`)."""
    folder.mkdir(parents=True)
    (folder / "pack.yml").write_text(NOOP_PACK, encoding="utf-8")
    return load_pack(folder)


def converse(assistant: Assistant, counter: CountingRunner) -> tuple[Tracker, list[Call]]:
    """Run `CONVERSATION` in a new tracker; returns it and the action calls it made."""
    tracker = assistant.tracker("bench-conversation")
    counter.calls.clear()
    for text in CONVERSATION:
        assistant.handle(tracker, text)
    return tracker, list(counter.calls)


def request_size(runner: HttpActionRunner, action: str, tracker: Tracker) -> tuple[int, int]:
    """Bytes of the request body and of the answer's body of one call (the domain digest only,
    as after the first call)."""
    checked(runner.run(action, tracker), action)  # the first call of a runner sends the domain
    sizes: list[tuple[int, int]] = []

    def record(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        body = response.request.body
        sent = len(body) if isinstance(body, bytes | str) else 0
        sizes.append((sent, len(response.content)))

    runner.session.hooks["response"].append(record)
    try:
        checked(runner.run(action, tracker), action)
    finally:
        runner.session.hooks["response"].remove(record)
    return sizes[-1]


def checked(result: ActionResult, action: str) -> ActionResult:
    if not result.ok:
        raise CallFailed(f"{action}: {result.failure}: {result.message}")
    return result


def connections_opened(runner: HttpActionRunner) -> int:
    """TCP connections the runner's pooled session has opened to its server so far (urllib3)."""
    adapter = runner.session.get_adapter(runner.url)
    if not isinstance(adapter, HTTPAdapter):
        return -1
    pool = adapter.poolmanager.connection_from_url(runner.url)
    opened: int = pool.num_connections
    return opened


def time_calls(
    runner: HttpActionRunner, action: str, tracker: Tracker, calls: int, warmup: int, *, fresh: bool
) -> list[int]:
    """Nanoseconds of each of `calls` round trips after `warmup` untimed ones. `fresh`: a new
    session (so a new TCP connection) for every call; otherwise the runner's pooled one.

    Raises CallFailed when a call fails."""
    pooled = runner.session
    timings: list[int] = []
    try:
        for number in range(warmup + calls):
            if fresh:
                runner.session = requests.Session()
            started = time.perf_counter_ns()
            result = runner.run(action, tracker)
            elapsed = time.perf_counter_ns() - started
            if fresh:
                runner.session.close()
            checked(result, action)
            if number >= warmup:
                timings.append(elapsed)
    finally:
        runner.session = pooled
    return timings


def time_encoding(tracker: Tracker, runner: HttpActionRunner, action: str, calls: int) -> list[int]:
    """Nanoseconds of building and serialising one request body, as `run` and requests do."""
    timings: list[int] = []
    for _ in range(calls):
        started = time.perf_counter_ns()
        payload = {
            "next_action": action,
            "sender_id": tracker.sender_id,
            "tracker": tracker.to_json(),
            "domain_digest": runner.digest,
            "version": runner.version,
        }
        json.dumps(payload, allow_nan=False).encode("utf-8")
        timings.append(time.perf_counter_ns() - started)
    return timings


def order_status_message(turn: int) -> str:
    """The `turn`-th message: every order with every wording, in turn."""
    template = ORDER_STATUS_MESSAGES[turn % len(ORDER_STATUS_MESSAGES)]
    return template.format(ORDER_IDS[(turn // len(ORDER_STATUS_MESSAGES) + turn) % len(ORDER_IDS)])


def replay_orders(assistant: Assistant, counter: CountingRunner, turns: int, first: int = 0) -> TurnSamples:
    """`turns` order-status turns, `TURNS_PER_CONVERSATION` per conversation, timed one by one."""
    samples = TurnSamples()
    tracker = assistant.tracker("unused")
    for number in range(turns):
        if number % TURNS_PER_CONVERSATION == 0:
            tracker = assistant.tracker(f"bench-orders-{first + number}")
            samples.conversations += 1
        text = order_status_message(first + number)
        counter.calls.clear()
        started = time.perf_counter_ns()
        assistant.handle(tracker, text)
        samples.turn_ns.append(time.perf_counter_ns() - started)
        samples.action_ns += sum(call.elapsed_ns for call in counter.calls)
        samples.patterns["+".join(call.action for call in counter.calls) or "none"] += 1
        samples.calls.update(call.action for call in counter.calls)
        samples.failures.update(f"{c.action}.{c.failure}" for c in counter.calls if c.failure)
    return samples


@dataclass
class Measured:
    """Everything one run measured, in nanoseconds and bytes."""

    tracker_events: int
    request_bytes: int
    answer_bytes: int
    pooled: list[int]
    pooled_connections: int
    fresh: list[int]
    encode: list[int]
    small_request_bytes: int
    small: list[int]
    lookup_request_bytes: int
    lookup_answer_bytes: int
    lookup: list[int]
    turns: TurnSamples


def measure(retail: Pack, model: NluModel, calls: int, warmup: int, turns: int) -> Measured:
    """Start both servers, build the realistic tracker and time everything; prints what the
    machine and the setup are. Raises CallFailed when an action call fails."""
    with (
        tempfile.TemporaryDirectory(prefix="parley-bench-actions-") as temporary,
        contextlib.ExitStack() as stack,
    ):
        folder = Path(temporary)
        noop = noop_pack(folder / "noop")
        database = folder / "demo.sqlite"
        noop_server = stack.enter_context(ActionServerProcess(NOOP_PACKAGE, cwd=ROOT))
        example_server = stack.enter_context(
            ActionServerProcess("actions", cwd=ROOT, env={"PARLEY_DEMO_DB": str(database)})
        )
        # Pinned after the servers started, so that they keep every core.
        pinned = pin_to_one_cpu()
        noop_runner = HttpActionRunner(noop, noop_server.webhook_url)
        example_runner = HttpActionRunner(retail, example_server.webhook_url)
        stack.callback(noop_runner.close)
        stack.callback(example_runner.close)
        print(f"# machine: {machine()}")
        print(
            f"# servers: rasa_sdk {version('rasa-sdk')} (Sanic {version('sanic')}) in two other "
            f"processes on this same machine, over loopback TCP; this process {pinned}, the servers "
            f"not pinned: the figures include cross-process scheduling"
        )

        counter = CountingRunner(example_runner)
        assistant = Assistant(retail, model, actions=counter, seed=SEED)
        tracker, made = converse(assistant, counter)
        failed = [f"{c.action}: {c.failure}" for c in made if c.failure]
        if failed:
            raise CallFailed(f"the realistic conversation failed: {', '.join(failed)}")
        print(
            f"# tracker: {len(CONVERSATION)} retail turns, {len(tracker.events)} events, "
            f"{len(made)} actions called while it was built, order_id {tracker.state.slots.get('order_id')}"
        )
        request_bytes, answer_bytes = request_size(noop_runner, NOOP_ACTION, tracker)
        small_tracker = assistant.tracker("bench-small")
        small_request_bytes, _ = request_size(noop_runner, NOOP_ACTION, small_tracker)

        gc.collect()
        before = connections_opened(noop_runner)
        pooled = time_calls(noop_runner, NOOP_ACTION, tracker, calls, warmup, fresh=False)
        pooled_connections = connections_opened(noop_runner) - before
        fresh = time_calls(noop_runner, NOOP_ACTION, tracker, calls, warmup, fresh=True)
        small = time_calls(noop_runner, NOOP_ACTION, small_tracker, calls, warmup, fresh=False)
        encode = time_encoding(tracker, noop_runner, NOOP_ACTION, calls)
        lookup_request_bytes, lookup_answer_bytes = request_size(example_runner, LOOKUP_ACTION, tracker)
        lookup = time_calls(example_runner, LOOKUP_ACTION, tracker, calls, warmup, fresh=False)

        replay_orders(assistant, counter, TURNS_PER_CONVERSATION)  # a warm-up conversation
        gc.collect()
        samples = replay_orders(assistant, counter, turns, first=TURNS_PER_CONVERSATION)
    return Measured(
        tracker_events=len(tracker.events),
        request_bytes=request_bytes,
        answer_bytes=answer_bytes,
        pooled=pooled,
        pooled_connections=pooled_connections,
        fresh=fresh,
        encode=encode,
        small_request_bytes=small_request_bytes,
        small=small,
        lookup_request_bytes=lookup_request_bytes,
        lookup_answer_bytes=lookup_answer_bytes,
        lookup=lookup,
        turns=samples,
    )


def figures_of(measured: Measured, calls: int) -> dict[str, float]:
    """One figure per key, in the order they are printed."""
    figures: dict[str, float] = {
        "actions.cores": os.cpu_count() or 0,
        "actions.calls": calls,
        "actions.tracker_events": measured.tracker_events,
        "actions.request_bytes": measured.request_bytes,
        "actions.noop_answer_bytes": measured.answer_bytes,
    }
    figures.update(latency_figures("actions.noop_pooled", measured.pooled))
    figures["actions.noop_pooled_connections_opened"] = measured.pooled_connections
    figures.update(latency_figures("actions.noop_fresh", measured.fresh))
    figures["actions.fresh_over_pooled_p50"] = (
        figures["actions.noop_fresh_p50_ms"] / figures["actions.noop_pooled_p50_ms"]
    )
    figures.update(latency_figures("actions.client_encode", measured.encode))
    figures["actions.small_request_bytes"] = measured.small_request_bytes
    figures.update(latency_figures("actions.noop_pooled_small", measured.small))
    figures["actions.lookup_order_request_bytes"] = measured.lookup_request_bytes
    figures["actions.lookup_order_answer_bytes"] = measured.lookup_answer_bytes
    figures.update(latency_figures("actions.lookup_order_pooled", measured.lookup))

    turns = measured.turns
    total_ns = sum(turns.turn_ns)
    figures["actions.conversation.turns"] = len(turns.turn_ns)
    figures["actions.conversation.conversations"] = turns.conversations
    figures.update(latency_figures("actions.conversation.turn", turns.turn_ns))
    figures["actions.conversation.turns_per_second"] = len(turns.turn_ns) / (total_ns / 1e9)
    figures["actions.conversation.actions_per_turn"] = sum(turns.calls.values()) / len(turns.turn_ns)
    figures["actions.conversation.action_share_of_turn"] = turns.action_ns / total_ns
    for pattern, count in turns.patterns.most_common():
        figures[f"actions.conversation.pattern.{pattern}"] = count
    for action, count in sorted(turns.calls.items()):
        figures[f"actions.conversation.calls.{action}"] = count
    figures["actions.conversation.failed_calls"] = sum(turns.failures.values())
    for failure, count in sorted(turns.failures.items()):
        figures[f"actions.conversation.failed.{failure}"] = count
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per figure (default 2000)")
    parser.add_argument("--warmup", type=int, default=200, help="untimed calls first (default 200)")
    parser.add_argument("--turns", type=int, default=1000, help="timed conversation turns (default 1000)")
    parser.add_argument("--pack", type=Path, default=ROOT / "domains" / "retail", help="the retail pack")
    parser.add_argument("--models", type=Path, default=ROOT / "models", help="the model store")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    if args.calls < 1 or args.turns < 1 or args.warmup < 0:
        parser.error("--calls and --turns must be at least 1, --warmup at least 0")

    # Log records are still made (as when serving), but not written out.
    logging.getLogger().addHandler(logging.NullHandler())
    retail, model, trained = load_retail(args.pack, args.models)
    print(
        f"# pack {retail.name}, model {'trained now' if trained else 'up to date'}; demo database in "
        f"a temporary folder; {args.warmup} warm-up calls per figure; percentiles nearest-rank"
    )
    try:
        measured = measure(retail, model, args.calls, args.warmup, args.turns)
    except CallFailed as error:
        raise SystemExit(f"an action call failed, so there is nothing to measure: {error}") from None

    figures = figures_of(measured, args.calls)
    for key, value in figures.items():
        shown = f"{value}" if isinstance(value, int) else f"{value:.4f}"
        target = f"  (target <= {TARGET_P50_MS})" if key == "actions.noop_pooled_p50_ms" else ""
        print(f"{key} {shown}{target}")
    met = figures["actions.noop_pooled_p50_ms"] <= TARGET_P50_MS
    print(f"# target: one pooled action call p50 <= {TARGET_P50_MS} ms: {'met' if met else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
