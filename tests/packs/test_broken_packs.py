"""Broken packs: every defect an analyst can make is reported once, with its code, at its place.

The fixture pack `fixtures/shop` (which imports `fixtures/base`) is valid and uses every section
of the pack language. Each row of `CASES` copies both packs to a temporary folder, applies ONE
defect as a textual edit, and states every diagnostic the validator must then produce: code,
file, line, column and a fragment of the message.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from engine.cli import main
from engine.packs import CheckResult, Diagnostic, PackInvalid, Severity, check_pack, load_pack

FIXTURES = Path(__file__).resolve().parent / "fixtures"


# -- the machinery of a row ------------------------------------------------------------------
@dataclass(frozen=True)
class Edit:
    """Replace `old` (which must occur exactly once) by `new` in `file`; with `old=None`, write
    `new` as the whole file. `file` is relative to the folder holding the fixture packs."""

    file: str
    old: str | None
    new: str | bytes


def replace(file: str, old: str, new: str) -> Edit:
    return Edit(file, old, new)


def write(file: str, content: str | bytes) -> Edit:
    return Edit(file, None, content)


@dataclass(frozen=True)
class Expect:
    """One diagnostic that must be reported."""

    code: str
    file: str
    line: int
    column: int
    fragment: str


Place = tuple[str, str | None, int | None, int | None]


def apply(root: Path, edits: Sequence[Edit]) -> None:
    for edit in edits:
        path = root / edit.file
        path.parent.mkdir(parents=True, exist_ok=True)
        if edit.old is None:
            if isinstance(edit.new, bytes):
                path.write_bytes(edit.new)
            else:
                path.write_text(edit.new, encoding="utf-8")
            continue
        assert isinstance(edit.new, str)
        text = path.read_text(encoding="utf-8")
        assert text.count(edit.old) == 1, f"{edit.file}: the edited text must occur once: {edit.old!r}"
        path.write_text(text.replace(edit.old, edit.new), encoding="utf-8")


def copy_fixtures(root: Path, edits: Sequence[Edit] = ()) -> Path:
    """Copy the fixture packs into `root`, apply the edits, and return the shop pack's folder."""
    shutil.copytree(FIXTURES, root, dirs_exist_ok=True)
    apply(root, edits)
    return root / "shop"


def relative_file(diagnostic: Diagnostic, root: Path) -> str | None:
    """The diagnostic's file relative to the folder holding the packs, e.g. 'shop/flows.yml'."""
    if diagnostic.location is None:
        return None
    return Path(diagnostic.location.file).resolve().relative_to(root.resolve()).as_posix()


def places(result: CheckResult, root: Path) -> list[Place]:
    return [
        (
            d.code,
            relative_file(d, root),
            d.location.line if d.location else None,
            d.location.column if d.location else None,
        )
        for d in result.diagnostics
    ]


def assert_reports(result: CheckResult, root: Path, expected: Sequence[Expect]) -> None:
    shown = "\n".join(d.format() for d in result.diagnostics)
    assert places(result, root) == [(e.code, e.file, e.line, e.column) for e in expected], shown
    for diagnostic, expect in zip(result.diagnostics, expected, strict=True):
        assert expect.fragment in diagnostic.message, shown


# -- the valid fixture -----------------------------------------------------------------------
def test_broken_packs_fixture_is_valid_with_no_warnings(tmp_path: Path) -> None:
    from engine.packs.rules import walk_steps
    from engine.packs.schema import STEP_KINDS

    folder = copy_fixtures(tmp_path)
    result = check_pack(folder)
    assert [d.format() for d in result.diagnostics] == []
    assert result.ok(strict=True)
    pack = result.pack
    assert pack is not None
    assert (pack.name, pack.version, pack.imports) == ("shop", "1.2.0", ("base",))
    assert {entity.kind for entity in pack.entities.values()} == {"regex", "lookup", "system", "learned"}
    assert pack.lookups["product"] == ("Trailrunner 2", "Cloud Hoodie", "Storm Jacket")
    assert pack.lookups["brand"] == ("Northpeak", "Riverline")
    assert set(pack.queues) == {"support", "billing"} and len(pack.rules) == 2
    assert pack.default_queue == "support"
    assert not pack.defined_here("intents", "greet") and pack.defined_here("responses", "help")
    assert len(pack.tests) == 1
    steps = {type(step).__name__ for flow in pack.flows.values() for step, _ in walk_steps(flow.steps)}
    assert {name.removesuffix("Step").lower() for name in steps} == set(STEP_KINDS)
    # The imported pack is valid on its own too.
    base = check_pack(tmp_path / "base")
    assert [d.format() for d in base.diagnostics] == [] and base.ok(strict=True)


# -- one defect per row ----------------------------------------------------------------------
SHOP, NLU, DOMAIN, FLOWS, ESCALATION = (
    "shop/pack.yml",
    "shop/nlu.yml",
    "shop/domain.yml",
    "shop/flows.yml",
    "shop/escalation.yml",
)
TESTS = "shop/tests/conversations.yml"
EXTRA = "shop/returns.yml"  # an extra file of the shop pack; it sorts after all the others
BASE, BASE_RESPONSES = "base/pack.yml", "base/responses.yml"

RETURN_ITEM = "  return_item:\n    examples:\n"
THANK_YOU_FEW = "intents:\n  thank_you:\n    examples:\n      - thanks\n      - thank you\n      - cheers\n"
SECOND_TEST = "\n  - name: check an order that has shipped\n    steps:\n      - user: hi\n"
EXTRA_PACK = "pack: extra\nversion: 1.0.0\nlanguage: en\nresponses:\n  greet: Howdy!\n"
STUB_SLOTS = "        slots:\n          order_status: shipped\n"
GOODBYE_STEPS = "      - respond: goodbye\n      - end\n"
IDENTIFY_END = "          - end\n\n  return_item:"
CUSTOM_GOODBYE = "  goodbye:\n    text: Thanks for shopping with us!\n    custom: {sticker: wave}\n"


def case(name: str, edits: Edit | Sequence[Edit], *expected: Expect) -> Any:
    """A row named after its defect: the edits making it, and every diagnostic expected."""
    edit_list = [edits] if isinstance(edits, Edit) else list(edits)
    return pytest.param(edit_list, list(expected), id=name)


E = Expect
CASES = [
    # -- P0xx: files, YAML, imports
    case(
        "yaml-syntax-error-colon-in-plain-value",
        replace(FLOWS, "    description: Say goodbye.\n", "    description: Say: goodbye.\n"),
        E("P002", FLOWS, 69, 21, "YAML syntax error: mapping values are not allowed here"),
    ),
    case(
        "yaml-syntax-error-hides-no-override",
        replace(DOMAIN, "  goodbye: Thanks for shopping with us!\n", "  goodbye: Thanks: for shopping\n"),
        E("P002", DOMAIN, 86, 18, "YAML syntax error: mapping values are not allowed here"),
    ),
    case(
        "yaml-syntax-error-hides-no-queue",
        replace(ESCALATION, "      to: billing\n", "      to: billing: now\n"),
        E("P002", ESCALATION, 25, 18, "YAML syntax error: mapping values are not allowed here"),
    ),
    case(
        "duplicate-key",
        replace(TESTS, "    channel: webchat\n", "    channel: webchat\n    channel: rest\n"),
        E("P003", TESTS, 5, 5, "key 'channel' appears twice in the same mapping"),
    ),
    case(
        "top-level-list",
        write("shop/extra.yml", "- intents\n- flows\n"),
        E("P004", "shop/extra.yml", 1, 1, "a pack file must be a mapping of sections"),
    ),
    case(
        "file-not-utf8",
        write("shop/legacy.yml", b"responses:\n  bye: Au revoir et \xe0 bient\xf4t\n"),
        E("P005", "shop/legacy.yml", 2, 1, "it is not UTF-8 text"),
    ),
    case(
        "import-not-found",
        replace(SHOP, "imports: [base]", "imports: [base, payments]"),
        E("P006", SHOP, 6, 17, "imported pack 'payments' not found"),
    ),
    case(
        "import-cycle",
        replace(BASE, "language: en\n", "language: en\nimports: [shop]\n"),
        E("P007", BASE, 5, 11, "packs import each other in a cycle: shop -> base -> shop"),
    ),
    case(
        "lookup-file-missing",
        replace(NLU, "file: products.txt", "file: product.txt"),
        E("P008", NLU, 64, 13, "lookup file 'product.txt': no file at"),
    ),
    case(
        "lookup-csv-column-missing",
        replace(NLU, "column: name", "column: title"),
        E("P008", NLU, 68, 15, "no column 'title'; columns: id, name"),
    ),
    case(
        "pack-version-malformed",
        replace(SHOP, "version: 1.2.0\n", "version: '1.2'\n"),
        E("P104", SHOP, 3, 10, "version: "),
    ),
    case(
        "pack-version-missing",
        replace(SHOP, "version: 1.2.0\n", ""),
        E("P009", SHOP, 1, 1, "the pack declares no 'version'"),
    ),
    case(
        "empty-file",
        write("shop/notes.yml", "# nothing here yet\n"),
        E("P010", "shop/notes.yml", 1, 1, "file is empty"),
    ),
    # -- P101 unknown keys, at every depth
    case(
        "unknown-key-top-level",
        replace(SHOP, "description: Answers", "descripton: Answers"),
        E("P101", SHOP, 5, 1, "unknown key 'descripton' in the pack file; did you mean 'description'?"),
    ),
    case(
        "unknown-key-in-intent",
        replace(NLU, RETURN_ITEM, "  return_item:\n    treshold: 0.4\n    examples:\n"),
        E("P101", NLU, 17, 5, "unknown key 'treshold' in intents.return_item; did you mean 'threshold'?"),
    ),
    case(
        "unknown-key-in-slot",
        replace(DOMAIN, "    initial: 0\n", "    intial: 0\n"),
        E("P101", DOMAIN, 51, 5, "in slots.return_count; did you mean 'initial'?"),
    ),
    case(
        "unknown-key-in-fill-rule",
        replace(DOMAIN, "        only_when_asked: true\n", "        only_when_askd: true\n"),
        E("P101", DOMAIN, 20, 9, "in slots.quantity.fill[0]; did you mean 'only_when_asked'?"),
    ),
    case(
        "unknown-key-in-step",
        replace(FLOWS, "        reprompt: invalid_order_id\n", "        repromt: invalid_order_id\n"),
        E("P101", FLOWS, 24, 9, "in flows.identify_order.steps[0]; did you mean 'reprompt'?"),
    ),
    case(
        "unknown-key-in-nested-step",
        replace(FLOWS, "            reason: no_order_id\n", "            reson: no_order_id\n"),
        E("P101", FLOWS, 28, 13, "in flows.identify_order.steps[0].on_exhausted[0]; did you mean 'reason'?"),
    ),
    case(
        "unknown-key-in-escalation-rule",
        replace(ESCALATION, "      priority: urgent\n", "      priorty: urgent\n"),
        E("P101", ESCALATION, 27, 7, "in escalation.rules[1]; did you mean 'priority'?"),
    ),
    case(
        "unknown-key-in-queue",
        replace(ESCALATION, "      max_wait_minutes: 30\n", "      max_wait_mins: 30\n"),
        E("P101", ESCALATION, 15, 7, "in escalation.queues.support; did you mean 'max_wait_minutes'?"),
    ),
    case(
        "unknown-key-in-settings",
        replace(SHOP, "  collect:\n", "  colect:\n"),
        E("P101", SHOP, 15, 3, "unknown key 'colect' in settings; did you mean 'collect'?"),
    ),
    case(
        "unknown-key-in-settings-fallback",
        replace(SHOP, "    ambiguity_margin: 0.1\n", "    ambiguity_margn: 0.1\n"),
        E("P101", SHOP, 13, 5, "in settings.fallback; did you mean 'ambiguity_margin'?"),
    ),
    case(
        "unknown-key-in-hours-hides-timezone",
        replace(ESCALATION, "        timezone: Europe/London\n", "        timezon: Europe/London\n"),
        E("P103", ESCALATION, 6, 7, "escalation.queues.support.hours needs 'timezone'"),
        E("P101", ESCALATION, 7, 9, "in escalation.queues.support.hours; did you mean 'timezone'?"),
    ),
    case(
        "unknown-key-in-test-step",
        replace(TESTS, "        intent: check_order\n", "        intnt: check_order\n"),
        E("P101", TESTS, 13, 9, "unknown key 'intnt' in tests[0].steps[0]; did you mean 'intent'?"),
    ),
    # -- P102 wrong types, P103 missing keys
    case(
        "wrong-type-number",
        replace(DOMAIN, "    timeout: 10\n", "    timeout: ten\n"),
        E("P102", DOMAIN, 100, 14, "actions.create_return.timeout: expected a number, found 'ten'"),
    ),
    case(
        "wrong-type-section",
        write(EXTRA, "flows:\n  - greet\n"),
        E("P102", EXTRA, 2, 3, "flows: expected a mapping of flow names to definitions, found a list"),
    ),
    case(
        "missing-flow-description",
        replace(FLOWS, "    description: Say where a parcel is.\n", ""),
        E("P103", FLOWS, 60, 3, "flows.track_parcel needs 'description'"),
    ),
    case(
        "missing-rule-reason",
        replace(ESCALATION, "      reason: not_understood\n", ""),
        E("P103", ESCALATION, 21, 7, "escalation.rules[0] needs 'reason'"),
    ),
    # -- P104 values not allowed
    case(
        "bad-slot-type",
        replace(DOMAIN, "  quantity:\n    type: integer\n", "  quantity:\n    type: integr\n"),
        E("P104", DOMAIN, 17, 11, "slots.quantity.type: 'integr' is not allowed; did you mean 'integer'?"),
    ),
    case(
        "unknown-channel",
        replace(DOMAIN, "      channel: webchat\n", "      channel: slak\n"),
        E(
            "P218",
            DOMAIN,
            83,
            16,
            "responses.parcel_status[1].channel: unknown channel 'slak'; did you mean 'slack'?",
        ),
    ),
    case(
        "unknown-served-channel",
        replace(SHOP, "imports: [base]\n", "channels: [webchat, sms]\nimports: [base]\n"),
        E("P218", SHOP, 6, 21, "channels[1]: unknown channel 'sms'; known: botframework, facebook"),
    ),
    case(
        "served-channel-listed-twice",
        replace(SHOP, "imports: [base]\n", "channels: [webchat, slack, webchat]\nimports: [base]\n"),
        E("P104", SHOP, 6, 11, "channels: 'webchat' is listed more than once"),
    ),
    # -- P105 .. P110
    case(
        "bad-validation-pattern",
        replace(DOMAIN, r"pattern: '[A-Z]\d{5}'", r"pattern: '([A-Z]\d{5}'"),
        E("P105", DOMAIN, 8, 16, r"regular expression '([A-Z]\d{5}' does not compile: missing )"),
    ),
    case(
        "bad-regex-second-of-list",
        replace(NLU, r"      - 'BFPO ?\d{1,4}'", r"      - 'BFPO (\d{1,4}'"),
        E("P105", NLU, 56, 9, r"regular expression 'BFPO (\d{1,4}' does not compile"),
    ),
    case(
        "colon-in-example",
        replace(NLU, "      - the delivery is late\n", "      - the delivery: late\n"),
        E("P102", NLU, 35, 9, "intents.track_parcel.examples[5]: expected a text, found a mapping"),
    ),
    case(
        "bad-annotation-entity-name",
        replace(NLU, "[Trailrunner 2](product)", "[Trailrunner 2](product name)"),
        E("P106", NLU, 19, 9, "entity name 'product name' must use lowercase letters"),
    ),
    case(
        "step-without-kind",
        replace(FLOWS, "      - respond: parcel_status\n", "      - say: parcel_status\n"),
        E("P107", FLOWS, 66, 9, "a step needs exactly one of: collect, action, respond, set, if"),
    ),
    case(
        "step-with-two-kinds",
        replace(FLOWS, GOODBYE_STEPS, "      - respond: goodbye\n        end: true\n"),
        E("P107", FLOWS, 71, 9, "a step needs exactly one of"),
    ),
    case(
        "bad-entity-name",
        replace(NLU, "  brand:\n", "  Brand:\n"),
        E("P108", NLU, 65, 3, "entity name 'Brand' is not allowed"),
    ),
    case(
        "bad-reason-name",
        replace(FLOWS, "reason: no_order_id", "reason: no-order-id"),
        E("P108", FLOWS, 28, 21, "reason name 'no-order-id' is not allowed"),
    ),
    case(
        "bad-step-id-name",
        replace(FLOWS, "      - id: confirm\n", "      - id: Confirm\n"),
        E("P108", FLOWS, 47, 13, "id name 'Confirm' is not allowed"),
    ),
    case(
        "entity-regex-and-system",
        replace(NLU, "      - 'BFPO ?\\d{1,4}'\n", "      - 'BFPO ?\\d{1,4}'\n    system: number\n"),
        E("P109", NLU, 53, 5, "entities.postcode: an entity is found by one of regex, lookup or system"),
    ),
    case(
        "fill-rule-without-kind",
        replace(DOMAIN, "      - entity: product\n", "      - entitiy: product\n"),
        E("P110", DOMAIN, 31, 9, "a slot fill rule needs exactly one of: entity, intent, text"),
    ),
    # -- P2xx: merging and references
    case(
        "duplicate-response-across-files",
        replace(ESCALATION, "responses:\n", "responses:\n  goodbye: Bye for now.\n"),
        E("P201", ESCALATION, 31, 3, "response 'goodbye' is defined twice in this pack (also at "),
    ),
    case(
        "duplicate-entity-across-files",
        write(EXTRA, "entities:\n  size:\n    lookup: [xs, xl]\n"),
        E("P201", EXTRA, 2, 3, "entity 'size' is defined twice in this pack"),
    ),
    case(
        "channels-in-two-files",
        [
            replace(SHOP, "imports: [base]\n", "channels: [webchat]\nimports: [base]\n"),
            write(EXTRA, "channels: [whatsapp]\n"),
        ],
        E("P201", EXTRA, 1, 1, "pack setting 'channels' is defined twice in this pack (also at "),
    ),
    case(
        "conflict-with-import",
        replace(SHOP, "overrides:\n  - responses.help\n", ""),
        E("P202", DOMAIN, 87, 3, "response 'help' is already defined by imported pack 'base'"),
    ),
    case(
        "conflict-between-two-imports",
        [write("extra/pack.yml", EXTRA_PACK), replace(SHOP, "imports: [base]", "imports: [base, extra]")],
        E("P202", SHOP, 6, 17, "response 'greet' is already defined by imported pack 'base' at "),
    ),
    case(
        "override-of-nothing",
        replace(SHOP, "  - responses.help\n", "  - responses.help\n  - responses.farewell\n"),
        E(
            "P203",
            SHOP,
            9,
            5,
            "'responses.farewell' is listed under overrides but no imported pack defines it",
        ),
    ),
    case(
        "unknown-intent-in-trigger",
        replace(FLOWS, "      intents: [track_parcel]", "      intents: [track_parcl]"),
        E(
            "P210",
            FLOWS,
            63,
            17,
            "names intent 'track_parcl', which is not defined; did you mean 'track_parcel'?",
        ),
    ),
    case(
        "unknown-intent-in-button",
        replace(DOMAIN, "payload: /affirm", "payload: /afirm"),
        E("P210", DOMAIN, 70, 20, "button payload names intent 'afirm'"),
    ),
    case(
        "unknown-repair-intent",
        replace(SHOP, "    cancel: cancel\n", "    cancel: cancl\n"),
        E("P210", SHOP, 22, 13, "settings.repair.cancel names intent 'cancl'"),
    ),
    case(
        "unknown-entity-in-fill",
        replace(DOMAIN, "      - entity: product\n", "      - entity: products\n"),
        E("P211", DOMAIN, 31, 17, "names entity 'products', which is not defined; did you mean 'product'?"),
    ),
    case(
        "unknown-entity-in-annotation",
        replace(NLU, "[Trailrunner 2](product)", "[Trailrunner 2](prodct)"),
        E("P211", NLU, 19, 9, "example of intent 'return_item' names entity 'prodct'"),
    ),
    case(
        "unknown-slot-in-set",
        replace(FLOWS, "              return_count: 0\n", "              return_cont: 0\n"),
        E(
            "P212",
            FLOWS,
            54,
            15,
            "names slot 'return_cont', which is not defined; did you mean 'return_count'?",
        ),
    ),
    case(
        "unknown-slot-in-collect",
        replace(FLOWS, "      - collect: return_reason\n", "      - collect: return_reson\n"),
        E("P410", DOMAIN, 73, 3, "response 'ask_return_reason' is defined but nothing uses it"),
        E(
            "P212",
            FLOWS,
            46,
            18,
            "names slot 'return_reson', which is not defined; did you mean 'return_reason'?",
        ),
    ),
    case(
        "unknown-response-in-action",
        replace(DOMAIN, "failure_response: action_failed", "failure_response: action_faild"),
        E("P213", DOMAIN, 96, 23, "names response 'action_faild', which is not defined; did you mean"),
    ),
    case(
        "unknown-action-in-step",
        replace(FLOWS, "      - action: create_return\n", "      - action: create_retrun\n"),
        E("P410", DOMAIN, 97, 3, "action 'create_return' is defined but nothing uses it"),
        E("P214", FLOWS, 56, 17, "names custom action 'create_retrun', which is not declared"),
    ),
    case(
        "unknown-flow-in-call",
        replace(
            FLOWS, "      - call: identify_order\n      - if:", "      - call: identify_ordr\n      - if:"
        ),
        E(
            "P215",
            FLOWS,
            9,
            15,
            "names flow 'identify_ordr', which is not defined; did you mean 'identify_order'?",
        ),
    ),
    case(
        "unknown-queue-in-rule",
        replace(ESCALATION, "      to: billing\n", "      to: biling\n"),
        E("P216", ESCALATION, 25, 11, "escalation rule names escalation queue 'biling'"),
    ),
    case(
        "unknown-default-queue",
        replace(ESCALATION, "  default_queue: support\n", "  default_queue: suport\n"),
        E("P216", ESCALATION, 2, 18, "escalation default_queue names escalation queue 'suport'"),
    ),
    case(
        "unknown-role-in-annotation",
        replace(NLU, "[Leeds](city:origin)", "[Leeds](city:start)"),
        E(
            "P217",
            NLU,
            31,
            9,
            "uses role 'start' of entity 'city', which declares roles: origin, destination",
        ),
    ),
    case(
        "missing-system-response",
        replace(
            BASE_RESPONSES, "  ask_rephrase: Sorry, I did not get that. Could you say it differently?\n", ""
        ),
        E("P219", SHOP, 1, 1, "the fallback ladder needs response 'ask_rephrase', which is not defined"),
    ),
    # -- P3xx: flows
    case(
        "unreachable-step",
        replace(FLOWS, GOODBYE_STEPS, GOODBYE_STEPS + "      - respond: action_failed\n"),
        E("P301", FLOWS, 73, 9, "this step can never run: the step before it ends the flow"),
    ),
    case(
        "orphan-flow",
        replace(FLOWS, "    trigger:\n      intents: [track_parcel]\n", ""),
        E("P302", FLOWS, 60, 3, "flow 'track_parcel' can never start"),
    ),
    case(
        "duplicate-step-id",
        replace(
            FLOWS, "      - action: create_return\n", "      - id: confirm\n        action: create_return\n"
        ),
        E("P303", FLOWS, 56, 13, "step id 'confirm' is used twice in flow 'return_item'"),
    ),
    case(
        "goto-unknown-step",
        replace(FLOWS, "          - goto: confirm\n", "          - goto: confrim\n"),
        E(
            "P304",
            FLOWS,
            55,
            19,
            "goto 'confrim' names no step of flow 'return_item'; did you mean 'confirm'?",
        ),
    ),
    case(
        "call-cycle",
        replace(FLOWS, IDENTIFY_END, "          - end\n      - call: check_order\n\n  return_item:"),
        E(
            "P305",
            FLOWS,
            34,
            15,
            "flows call each other in a cycle: check_order -> identify_order -> check_order",
        ),
    ),
    case(
        "intent-triggers-two-flows",
        replace(FLOWS, "      intents: [track_parcel]", "      intents: [track_parcel, check_order]"),
        E(
            "P306",
            FLOWS,
            63,
            31,
            "intent 'check_order' triggers both flow 'check_order' and flow 'track_parcel'",
        ),
    ),
    # -- P4xx: training data and slots
    case(
        "example-in-two-intents",
        replace(NLU, "      - parcel tracking please\n", "      - where is my order\n"),
        E("P401", NLU, 37, 9, "appears in intent 'track_parcel' and intent 'check_order'"),
    ),
    case(
        "too-few-examples",
        replace(NLU, "intents:\n", THANK_YOU_FEW),
        E("P402", NLU, 3, 5, "intent 'thank_you' has 3 example(s); at least 10 are recommended"),
    ),
    case(
        "repeated-example",
        replace(NLU, "      - start a return\n", "      - start a return\n      - Start a return!\n"),
        E("P403", NLU, 25, 9, "example 'Start a return!' appears twice in intent 'return_item'"),
    ),
    case(
        "annotated-value-not-in-lookup",
        replace(NLU, "[Trailrunner 2](product)", "[Trailrunner 3](product)"),
        E(
            "P411",
            NLU,
            19,
            9,
            "marks 'Trailrunner 3' as product, but it is neither a lookup value nor a synonym",
        ),
    ),
    case(
        "learned-entity-never-annotated",
        replace(
            NLU, "    roles: [origin, destination]\n", "    roles: [origin, destination]\n  colour: {}\n"
        ),
        E(
            "P404",
            NLU,
            76,
            3,
            "entity 'colour' has no regex, lookup or system type, and no example annotates it",
        ),
    ),
    case(
        "slot-never-filled",
        replace(DOMAIN, "slots:\n", "slots:\n  gift_note:\n    type: text\n"),
        E("P405", DOMAIN, 2, 3, "slot 'gift_note' is never filled"),
    ),
    case(
        "set-value-wrong-type",
        replace(FLOWS, "              return_count: 0\n", "              return_count: zero\n"),
        E("P406", FLOWS, 54, 29, "value zero does not fit slot 'return_count' of type integer"),
    ),
    case(
        "fill-value-wrong-type",
        replace(DOMAIN, "        value: true\n", "        value: yes\n"),
        E("P406", DOMAIN, 36, 16, "value yes does not fit slot 'confirmed' of type bool"),
    ),
    case(
        "intent-without-examples",
        replace(NLU, "intents:\n", "intents:\n  thank_you:\n    examples: []\n"),
        E("P407", NLU, 3, 5, "intent 'thank_you' has no examples"),
    ),
    case(
        "categorical-without-values",
        replace(DOMAIN, "    values: [small, medium, large]\n", ""),
        E("P408", DOMAIN, 25, 11, "slot 'size' of type categorical: categorical slots need 'values'"),
    ),
    case(
        "values-on-text-slot",
        replace(DOMAIN, "    description: The order being discussed.\n", "    values: [a, b]\n"),
        E("P408", DOMAIN, 4, 5, "slot 'order_id' of type text: 'values' only applies to categorical slots"),
    ),
    case(
        "retries-without-idempotent",
        replace(DOMAIN, "    idempotent: true\n", ""),
        E(
            "P409",
            DOMAIN,
            94,
            14,
            "action 'fetch_order' retries 2 time(s) but is not marked 'idempotent: true'",
        ),
    ),
    case(
        "unused-response",
        replace(ESCALATION, "responses:\n", "responses:\n  thanks: Thank you!\n"),
        E("P410", ESCALATION, 31, 3, "response 'thanks' is defined but nothing uses it"),
    ),
    # -- P5xx: templates and conditions
    case(
        "template-syntax",
        replace(DOMAIN, "({{ slots.return_count }} so far)", "({{ slots.return_count } so far)"),
        E("P501", DOMAIN, 79, 16, "template does not compile"),
    ),
    case(
        "template-unknown-name",
        replace(DOMAIN, "Order {{ slots.order_id }} is", "Order {{ slot.order_id }} is"),
        E("P502", DOMAIN, 76, 13, "template uses 'slot', which is not known; did you mean 'slots'?"),
    ),
    case(
        "condition-syntax",
        replace(FLOWS, "guard: conversation.escalations == 0", "guard: conversation.escalations = 0"),
        E("P503", FLOWS, 39, 12, "condition 'conversation.escalations = 0' does not compile"),
    ),
    case(
        "condition-unknown-name",
        replace(FLOWS, 'if: slots.order_status == "lost"', 'if: order_status == "lost"'),
        E("P504", FLOWS, 10, 13, "condition uses 'order_status', which is not known"),
    ),
    # -- P5xx: responses on the channels the pack is served on
    case(
        "button-title-too-long-for-whatsapp",
        [
            replace(SHOP, "imports: [base]\n", "channels: [webchat, whatsapp]\nimports: [base]\n"),
            replace(DOMAIN, "        - title: Small\n", "        - title: Small, for narrow feet\n"),
        ],
        E(
            "P505",
            DOMAIN,
            61,
            18,
            "response 'ask_size' on WhatsApp: button title 'Small, for narrow feet' is longer than "
            "WhatsApp's 20 characters: it is cut short",
        ),
    ),
    case(
        "custom-payload-on-sms",
        [
            replace(SHOP, "imports: [base]\n", "channels: [webchat, twilio]\nimports: [base]\n"),
            replace(DOMAIN, "  goodbye: Thanks for shopping with us!\n", CUSTOM_GOODBYE),
        ],
        E("P506", DOMAIN, 88, 5, "response 'goodbye' has a custom payload, which SMS (Twilio) does not send"),
    ),
    case(
        "custom-payload-for-several-messengers",
        [
            replace(SHOP, "imports: [base]\n", "channels: [telegram, slack]\nimports: [base]\n"),
            replace(DOMAIN, "  goodbye: Thanks for shopping with us!\n", CUSTOM_GOODBYE),
        ],
        E("P507", DOMAIN, 88, 5, "message is sent to Telegram and Slack"),
    ),
    # -- P6xx: escalation
    case(
        "bad-business-hours",
        replace(ESCALATION, '        mon: "09:00-17:00"\n', '        mon: "9am-5pm"\n'),
        E("P601", ESCALATION, 8, 14, "queue 'support' hours on mon: '9am-5pm' has a time that is not HH:MM"),
    ),
    case(
        "unknown-timezone",
        replace(ESCALATION, "timezone: Europe/London", "timezone: Europe/Londn"),
        E("P601", ESCALATION, 7, 19, "queue 'support' hours: unknown timezone 'Europe/Londn'"),
    ),
    case(
        "escalate-without-queues",
        write(ESCALATION, "escalation:\n  queues: {}\n"),
        E("P602", FLOWS, 12, 23, "flow 'check_order' escalates, but the pack defines no escalation queues"),
        E(
            "P602",
            FLOWS,
            27,
            23,
            "flow 'identify_order' escalates, but the pack defines no escalation queues",
        ),
    ),
    # -- P7xx: conversation tests
    case(
        "test-step-without-kind",
        replace(TESTS, "      - bot_text: shipped\n", "      - bot_txt: shipped\n"),
        E("P701", TESTS, 23, 9, "a test step needs exactly one of: user, bot, bot_text"),
    ),
    case(
        "duplicate-test-name",
        replace(TESTS, "      - no_escalation: true\n", "      - no_escalation: true\n" + SECOND_TEST),
        E("P702", TESTS, 27, 11, "test 'check an order that has shipped' is defined twice (also at "),
    ),
    case(
        "stub-for-unknown-action",
        replace(TESTS, "      fetch_order:\n", "      fetch_ordr:\n"),
        E(
            "P703",
            TESTS,
            8,
            7,
            "test stubs action 'fetch_ordr', which the pack does not declare; did you mean",
        ),
    ),
    case(
        "stub-sets-undeclared-slot",
        replace(TESTS, STUB_SLOTS, STUB_SLOTS + "          order_id: A12345\n"),
        E(
            "P704",
            TESTS,
            11,
            11,
            "the stub of action 'fetch_order' sets slot 'order_id', which the action does not list",
        ),
    ),
    # -- an item that failed the schema pass is not reported again where a test uses it
    case(
        "broken-slot-used-by-test",
        replace(DOMAIN, "    pii: true\n", "    pi: true\n"),
        E("P101", DOMAIN, 11, 5, "unknown key 'pi' in slots.email; did you mean 'pii'?"),
    ),
    case(
        "broken-action-used-by-test",
        replace(DOMAIN, "    timeout: 5\n", "    timeout: five\n"),
        E("P102", DOMAIN, 93, 14, "actions.fetch_order.timeout: expected a number, found 'five'"),
    ),
    case(
        "broken-flow-used-by-test",
        replace(FLOWS, "    reset_slots: [order_status]\n", "    reset_slot: [order_status]\n"),
        E("P101", FLOWS, 7, 5, "unknown key 'reset_slot' in flows.check_order; did you mean 'reset_slots'?"),
    ),
]


@pytest.mark.parametrize(("edits", "expected"), CASES)
def test_broken_packs_report_exactly_their_defect(
    tmp_path: Path, edits: Sequence[Edit], expected: Sequence[Expect]
) -> None:
    folder = copy_fixtures(tmp_path, edits)
    result = check_pack(folder)
    assert_reports(result, tmp_path, expected)
    if all(d.severity is Severity.WARNING for d in result.diagnostics):
        assert result.ok() and not result.ok(strict=True)
    else:
        assert not result.ok()


def test_broken_packs_table_covers_the_catalogue() -> None:
    from engine.packs import CATALOGUE

    covered = {expect.code for row in CASES for expect in row.values[1]}
    # P001 is for a pack folder that does not exist (tests/test_cli.py); P8xx are reported by
    # training, not validation (tests/nlu/test_training.py).
    assert sorted(set(CATALOGUE) - covered) == ["P001", "P801", "P802", "P803", "P804"]
    assert len({row.id for row in CASES}) == len(CASES)


# -- several defects at once -----------------------------------------------------------------
FIVE_DEFECTS = [
    replace(DOMAIN, "    initial: 0\n", "    intial: 0\n"),
    replace(DOMAIN, "failure_response: action_failed", "failure_response: action_faild"),
    replace(DOMAIN, r"pattern: '[A-Z]\d{5}'", r"pattern: '([A-Z]\d{5}'"),
    replace(NLU, "      - parcel tracking please\n", "      - where is my order\n"),
    replace(FLOWS, GOODBYE_STEPS, GOODBYE_STEPS + "      - respond: action_failed\n"),
]
FIVE_EXPECTED = [
    E("P105", DOMAIN, 8, 16, "does not compile"),
    E("P101", DOMAIN, 51, 5, "unknown key 'intial' in slots.return_count"),
    E("P213", DOMAIN, 96, 23, "names response 'action_faild'"),
    E("P301", FLOWS, 73, 9, "the step before it ends the flow"),
    E("P401", NLU, 37, 9, "appears in intent 'track_parcel' and intent 'check_order'"),
]


@pytest.fixture(scope="module")
def five_defects(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CheckResult]:
    """The fixture with five defects of different kinds, none hiding another; checked once."""
    root = tmp_path_factory.mktemp("five")
    return root, check_pack(copy_fixtures(root, FIVE_DEFECTS))


def test_broken_packs_five_defects_are_all_reported_in_one_run(
    five_defects: tuple[Path, CheckResult],
) -> None:
    root, result = five_defects
    assert_reports(result, root, FIVE_EXPECTED)
    assert result.pack is not None and not result.ok()


def test_broken_packs_format_shows_place_source_line_and_caret(
    five_defects: tuple[Path, CheckResult],
) -> None:
    _, result = five_defects
    assert len(result.diagnostics) == 5
    for diagnostic in result.diagnostics:
        location = diagnostic.location
        assert location is not None
        source = Path(location.file).read_text(encoding="utf-8").splitlines()[location.line - 1]
        head, line, caret, fix = diagnostic.format().splitlines()
        assert head == f"{location.file}:{location.line}:{location.column}: error {diagnostic.code}: " + (
            diagnostic.message
        )
        assert line == "    " + source.rstrip()
        assert caret == "    " + " " * (location.column - 1) + "^"
        assert fix == f"  fix: {diagnostic.fix}"
    # The caret sits under the offending text: here the misspelt key.
    unknown_key = next(d for d in result.diagnostics if d.code == "P101")
    _, line, caret, _ = unknown_key.format().splitlines()
    assert line[caret.index("^") :] == "intial: 0"


def test_broken_packs_load_pack_raises_with_every_error_code(tmp_path: Path) -> None:
    folder = copy_fixtures(tmp_path, FIVE_DEFECTS)
    with pytest.raises(PackInvalid) as raised:
        load_pack(folder)
    assert raised.value.codes == [e.code for e in FIVE_EXPECTED]
    assert [d.code for d in raised.value.diagnostics] == raised.value.codes
    assert "has 5 error(s)" in str(raised.value)
    assert "unknown key 'intial'" in str(raised.value)


WARNING_ONLY = [replace(DOMAIN, "    idempotent: true\n", "")]


def test_broken_packs_load_pack_accepts_warnings_unless_strict(tmp_path: Path) -> None:
    folder = copy_fixtures(tmp_path, WARNING_ONLY)
    assert load_pack(folder).name == "shop"
    with pytest.raises(PackInvalid) as raised:
        load_pack(folder, strict=True)
    assert [d.code for d in raised.value.diagnostics] == ["P409"]


def test_broken_packs_strict_load_pack_names_the_warnings_that_fail_it(tmp_path: Path) -> None:
    folder = copy_fixtures(tmp_path, WARNING_ONLY)
    with pytest.raises(PackInvalid) as raised:
        load_pack(folder, strict=True)
    assert raised.value.codes == ["P409"]
    assert "P409" in str(raised.value)


# -- the command line ------------------------------------------------------------------------
def test_broken_packs_cli_validate_fails_on_errors_and_passes_the_fixture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_fixtures(tmp_path / "good")
    copy_fixtures(tmp_path / "bad", FIVE_DEFECTS)
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "good/shop"]) == 0
    assert "shop 1.2.0 is valid" in capsys.readouterr().out
    assert main(["validate", "bad/shop"]) == 1
    out = capsys.readouterr().out
    assert "bad/shop/domain.yml:51:5: error P101: unknown key 'intial'" in out
    assert "shop 1.2.0 is not valid (5 error(s), 0 warning(s))" in out


def test_broken_packs_cli_strict_fails_on_warnings_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_fixtures(tmp_path, WARNING_ONLY)
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "shop"]) == 0
    assert "shop/domain.yml:94:14: warning P409" in capsys.readouterr().out
    assert main(["validate", "--strict", "shop"]) == 1
    assert "is not valid (0 error(s), 1 warning(s))" in capsys.readouterr().out


def test_broken_packs_cli_json_lists_code_file_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_fixtures(tmp_path, FIVE_DEFECTS)
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "--format", "json", "shop", "base"]) == 1
    shop, base = json.loads(capsys.readouterr().out)
    assert (shop["pack"], shop["ok"], shop["errors"], shop["warnings"]) == ("shop", False, 5, 0)
    assert [(d["code"], d["file"], d["line"], d["column"]) for d in shop["diagnostics"]] == [
        (e.code, e.file, e.line, e.column) for e in FIVE_EXPECTED
    ]
    assert all(d["severity"] == "error" and d["message"] and d["fix"] for d in shop["diagnostics"])
    assert (base["pack"], base["ok"], base["diagnostics"]) == ("base", True, [])
