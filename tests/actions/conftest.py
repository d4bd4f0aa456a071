"""Fixtures of the action server tests: a seeded demo database per test, and `run_action`,
which runs an action the way the server does (rasa_sdk's `ActionExecutor` on a request dict)
and checks the slots it sets against the packs: every slot actions.yml declares for it, no
other (but the slot a validation action validates), each of the type in slots.yml.

- `demo_db` points `PARLEY_DEMO_DB` at a fresh copy of the seeded database in tmp_path and
  yields it opened, for checking what the actions wrote.
- `run_action(name, slots)` returns the response dict (`events`, `responses`); a rejection
  raises `ActionExecutionRejection` as it does inside the server.
- `slot_values(result)` is the {slot: value} of the result's SlotSet events.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk.executor import ActionExecutor
from ruamel.yaml import YAML

from actions import ACTIONS
from actions._common import close_backends
from actions.backend import DATABASE_ENV, Backend, open_backend
from tests.conftest import DOMAINS

PACKS = ("retail", "it_helpdesk")
RunAction = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class PackContract:
    """What the packs say about actions: the slots each declares (it sets all of them, a miss as
    None), the slots it may set (a validation action also sets the slot it validates), and the
    type of every slot."""

    declared: dict[str, set[str]]
    action_slots: dict[str, set[str]]
    slot_types: dict[str, dict[str, Any]]


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    return data


@cache
def pack_contract() -> PackContract:
    declared: dict[str, set[str]] = {}
    action_slots: dict[str, set[str]] = {}
    slot_types: dict[str, dict[str, Any]] = {}
    for pack in PACKS:
        slots = _load(DOMAINS / pack / "slots.yml")["slots"]
        for name, action in _load(DOMAINS / pack / "actions.yml")["actions"].items():
            declared[name] = set(action.get("slots") or [])
            validated = {
                s for s, spec in slots.items() if (spec.get("validation") or {}).get("action") == name
            }
            action_slots[name] = declared[name] | validated
        slot_types.update(slots)
    return PackContract(declared, action_slots, slot_types)


def check_slot_value(name: str, value: Any) -> str | None:
    """Why `value` does not fit the slot's type in the packs, or None."""
    spec = pack_contract().slot_types[name]
    kind = spec["type"]
    if value is None or kind == "any":
        return None
    ok = {
        "text": isinstance(value, str),
        "email": isinstance(value, str) and "@" in value,
        "bool": isinstance(value, bool),
        "categorical": value in (spec.get("values") or []),
        "money": isinstance(value, (int, float)) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "list": isinstance(value, list),
    }.get(kind)
    if kind == "date":
        try:
            ok = isinstance(value, str) and date.fromisoformat(value).isoformat() == value
        except ValueError:
            ok = False
    return None if ok else f"slot {name} ({kind}) cannot hold {value!r}"


def slot_values(result: dict[str, Any]) -> dict[str, Any]:
    return {event["name"]: event["value"] for event in result["events"] if event["event"] == "slot"}


def request(action: str, slots: dict[str, Any]) -> dict[str, Any]:
    """A webhook request as the engine sends it, with the smallest tracker rasa_sdk accepts."""
    return {
        "next_action": action,
        "sender_id": "test-user",
        "version": "3.21.1",
        "tracker": {
            "sender_id": "test-user",
            "slots": slots,
            "latest_message": {"text": "", "intent": {}, "entities": []},
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
        "domain": {"version": "3.1", "slots": {}},
    }


@pytest.fixture(scope="session")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly seeded database, made once; each test works on its own copy."""
    path = tmp_path_factory.mktemp("seeded") / "demo.sqlite"
    open_backend(path).close()
    return path


@pytest.fixture
def demo_db(seeded_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    path = tmp_path / "demo.sqlite"
    shutil.copyfile(seeded_file, path)
    monkeypatch.setenv(DATABASE_ENV, str(path))
    backend = open_backend(path)
    try:
        yield backend
    finally:
        backend.close()
        close_backends()


@pytest.fixture(scope="session")
def executor() -> ActionExecutor:
    executor = ActionExecutor()
    for action in ACTIONS:
        executor.register_action(action)
    return executor


@pytest.fixture
def run_action(demo_db: Backend, executor: ActionExecutor) -> RunAction:
    def run(action: str, **slots: Any) -> dict[str, Any]:
        result = asyncio.run(executor.run(request(action, slots)))
        assert result is not None
        body: dict[str, Any] = result.model_dump()
        contract = pack_contract()
        values = slot_values(body)
        assert contract.declared[action] <= set(values), f"{action} leaves declared slots unset"
        for name, value in values.items():
            assert name in contract.action_slots[action], (
                f"{action} sets {name}, which actions.yml does not declare"
            )
            problem = check_slot_value(name, value)
            assert problem is None, f"{action}: {problem}"
        assert body["responses"] == [], f"{action} speaks, but no flow expects it to"
        return body

    return run
