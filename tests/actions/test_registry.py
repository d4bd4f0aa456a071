"""Which actions the server offers: the packs' actions, found by rasa_sdk and listed by us."""

from __future__ import annotations

from rasa_sdk.executor import ActionExecutor

import actions
from tests.actions.conftest import pack_contract


def test_registry_lists_every_action_it_exports() -> None:
    # The packs' side is checked below; here ACTIONS and the exported classes must agree.
    assert {action.__name__ for action in actions.ACTIONS} == set(actions.__all__) - {"ACTIONS"}


def test_registry_actions_are_exactly_the_packs_actions() -> None:
    assert {action().name() for action in actions.ACTIONS} == set(pack_contract().action_slots)


def test_registry_rasa_sdk_discovers_every_action_in_the_submodules() -> None:
    executor = ActionExecutor()
    executor.register_package("actions")
    # rasa_sdk registers every Action subclass loaded in the process: keep ours (another test
    # may have imported an action package of its own). test_server checks a clean process.
    ours = {name for name, run in executor.actions.items() if run.__self__.__module__.startswith("actions.")}
    assert ours == set(pack_contract().action_slots)
