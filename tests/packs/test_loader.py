"""Loading packs that are valid: merging, imports, overrides, lookups, origins, immutability."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from engine.packs import PackInvalid, check_pack, load_pack

SYSTEM = """\
responses:
  ask_rephrase: "Sorry, could you say that another way?"
  clarify: "Did you mean one of these?"
  flow_cancelled: "OK, I've stopped that."
  help: "I can help with orders."
  restarted: "Let's start again."
  handoff_requested: "I'm passing you to a colleague."
  flow_resumed: "Back to {{ context.flow_description }}."
"""

BASE = {
    "pack.yml": "pack: base\nversion: 1.0.0\nlanguage: en\n"
    "settings: {repair: {cancel: false, restart: false, repeat: false, help: false, human: false}}\n",
    "nlu.yml": "intents:\n  greet:\n    examples: [hi, hello, hey, good morning, hiya, howdy, yo, greetings, "
    "morning, evening]\n",
    "responses.yml": SYSTEM + '  greet: ["Hello!", "Hi there!"]\n',
    "flows.yml": "flows:\n  greet:\n    description: Say hello\n    trigger: {intents: [greet]}\n"
    "    steps: [{respond: greet}]\n",
}

SHOP = {
    "pack.yml": "pack: shop\nversion: 2.1.0\nlanguage: en\nimports: [base]\noverrides: [responses.greet]\n"
    "settings: {repair: {cancel: false, restart: false, repeat: false, help: false, human: false}}\n",
    "nlu.yml": """\
intents:
  order_status:
    examples:
      - where is order [A12345](order_id)
      - track [B22222](order_id)
      - status of my order
      - where's my parcel
      - has my order shipped
      - when will my [kettle](product) arrive
      - order [C33333](order_id) status please
      - is my order on its way
      - tracking info
      - where is my stuff
entities:
  order_id: {regex: '[A-Z]\\d{5}'}
  product: {lookup: {file: products.txt}, synonyms: {kettle: [water boiler]}}
""",
    "products.txt": "# one product per line\nkettle\ntoaster\n\ntoaster\n",
    "slots.yml": "slots:\n  order_id: {type: text, fill: [{entity: order_id}]}\n"
    "  product: {type: text, fill: [{entity: product}]}\n",
    "responses.yml": """\
responses:
  greet: "Welcome to the shop!"
  ask_order_id: "What's the order number?"
  order_found: "Order {{ slots.order_id }} is on its way."
""",
    "flows.yml": """\
flows:
  order_status:
    description: Track an order
    trigger: {intents: [order_status]}
    steps:
      - collect: order_id
      - respond: order_found
""",
    "tests/orders.yml": """\
tests:
  - name: order given up front
    steps:
      - user: where is order A12345
        intent: order_status
      - bot: order_found
""",
}


@pytest.fixture
def shop(write_pack: Callable[..., Path]) -> Path:
    write_pack(BASE, "base")
    return write_pack(SHOP, "shop")


def test_loader_merges_files_and_imports(shop: Path) -> None:
    result = check_pack(shop)
    assert [d.format() for d in result.diagnostics] == []
    pack = result.pack
    assert pack is not None
    assert (pack.name, pack.version, pack.language, pack.imports) == ("shop", "2.1.0", "en", ("base",))
    assert set(pack.intents) == {"greet", "order_status"}
    assert set(pack.flows) == {"greet", "order_status"}
    assert pack.defined_here("intents", "order_status") and not pack.defined_here("intents", "greet")


def test_loader_override_replaces_the_imported_item(shop: Path) -> None:
    pack = load_pack(shop)
    assert [v.text for v in pack.responses["greet"]] == ["Welcome to the shop!"]
    assert pack.origins[("responses", "greet")].pack == "shop"


def test_loader_reads_lookup_files_without_comments_blanks_or_repeats(shop: Path) -> None:
    pack = load_pack(shop)
    assert pack.lookups["product"] == ("kettle", "toaster")


def test_loader_items_know_where_they_came_from(shop: Path) -> None:
    pack = load_pack(shop)
    step = pack.flows["order_status"].steps[1]
    location = step.at("respond")
    assert location is not None
    assert (Path(location.file).name, location.line, location.column) == ("flows.yml", 7, 18)
    example = pack.intents["order_status"].at("examples", 5)
    assert example is not None and example.line == 9
    assert pack.intents["order_status"].examples[0].entities[0].entity == "order_id"
    assert str(pack.location("intents", "greet")).endswith("nlu.yml:2:3")


def test_loader_pack_is_immutable(shop: Path) -> None:
    pack = load_pack(shop)
    with pytest.raises(TypeError):
        pack.intents["new"] = pack.intents["greet"]  # type: ignore[index]
    with pytest.raises(ValidationError):
        pack.slots["order_id"].pii = True  # type: ignore[misc]


def test_loader_reads_conversation_tests_apart_from_the_pack(shop: Path) -> None:
    pack = load_pack(shop)
    assert [t.name for t in pack.tests] == ["order given up front"]
    assert "tests" not in {source.path.parent.name for source in pack.files}


def test_loader_load_pack_raises_with_every_error(shop: Path) -> None:
    flows = shop / "flows.yml"
    flows.write_text(flows.read_text().replace("respond: order_found", "respond: order_fund"))
    nlu = shop / "nlu.yml"
    nlu.write_text(nlu.read_text().replace("regex:", "regx:"))
    with pytest.raises(PackInvalid) as raised:
        load_pack(shop)
    assert sorted(raised.value.codes) == ["P101", "P213"]
