"""Fixtures of the NLU tests: small purpose-made packs, training them, and the retail model.

The packs are written with `write_pack` from a header (every built-in behaviour off, so the
validator asks for no extra intents or responses) and one of the bodies below:

- BILLING: three intents on unrelated topics (bills, passwords, opening hours); cross-validation
  gets every example right.
- SUPPORT: three intents that share words ("order", "refund", "cancel"), so cross-validation
  makes mistakes and confidences spread out.
- TRAVEL: a learned entity `city` and a lookup entity `airport`, both with the roles origin
  and destination, a synonym and an annotated value.

The retail pack (domains/retail, importing domains/common) is trained once per session.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from engine.nlu import ModelStore
from engine.packs import load_pack
from tests.conftest import Trained

DOMAINS = Path(__file__).resolve().parents[2] / "domains"

HEADER = """\
pack: {name}
version: 1.0.0
language: en
settings:
  repair: {{digression: false, correction: false, clarification: false, cancel: false,
    restart: false, repeat: false, help: false, human: false}}
  fallback: {fallback}
  nlu: {nlu}
responses:
  ask_rephrase: Sorry?
"""

BILLING = """\
intents:
  pay_bill:
    examples:
      - i want to pay my bill
      - how do i pay my invoice
      - pay the bill
      - can i settle my invoice online
      - where do i pay
      - i need to make a payment
      - take a payment for my bill
      - pay what i owe
      - settle my account balance
      - i would like to pay now
      - payment for invoice please
      - how can i pay the amount due
  reset_password:
    examples:
      - i forgot my password
      - reset my password
      - i cannot log in, password lost
      - change my password please
      - my password does not work
      - how do i reset the password
      - locked out of my account password
      - new password needed
      - password reset link please
      - i need a new password
      - help me recover my password
      - password forgotten
  opening_hours:
    examples:
      - when are you open
      - what are your opening hours
      - are you open on sunday
      - what time do you close
      - opening times please
      - when do you open tomorrow
      - are you open today
      - what hours is the shop open
      - closing time
      - do you open on bank holidays
      - how late are you open
      - hours of business
out_of_scope:
  examples:
    - what's the weather like
    - tell me a joke
    - who won the football
    - sing me a song
    - what is the capital of france
    - recommend a film
"""

SUPPORT = """\
intents:
  order_status:
    examples:
      - where is my order
      - has my order shipped
      - track my order
      - order status please
      - when will my order arrive
      - is my parcel on its way
      - any news about my order
      - where is my parcel
      - my order has not arrived
      - tracking number for my order
      - what happened to my order
      - check my order
  cancel_order:
    examples:
      - cancel my order
      - i want to cancel my order
      - please stop my order
      - cancel the order i placed
      - i do not want my order any more
      - can you cancel the parcel
      - cancel order please
      - stop the order from shipping
      - my order should be cancelled
      - cancel my parcel
      - undo my order
      - drop my order
  refund_status:
    examples:
      - where is my refund
      - has my refund been paid
      - refund status please
      - when will i get my money back
      - my refund has not arrived
      - i am waiting for my refund
      - did you refund my order
      - money back for my order
      - track my refund
      - any news about my refund
      - refund for my cancelled order
      - check my refund
out_of_scope:
  examples:
    - what's the weather like
    - tell me a joke
    - who won the football
    - sing me a song
"""

TRAVEL = """\
entities:
  city:
    roles: [origin, destination]
    synonyms:
      New York: [NYC]
  airport:
    lookup: [Heathrow, Gatwick, Orly, Schiphol, Tegel]
    roles: [origin, destination]
intents:
  book_flight:
    examples:
      - fly from [Paris](city:origin) to [Berlin](city:destination)
      - i want to fly from [London](city:origin) to [Rome](city:destination)
      - book a flight from [Madrid](city:origin) to [Vienna](city:destination)
      - a ticket from [Oslo](city:origin) to [Dublin](city:destination) please
      - flights to [Lisbon](city:destination) from [Prague](city:origin)
      - get me from [Athens](city:origin) to [Warsaw](city:destination)
      - i need to go to [Helsinki](city:destination) from [Brussels](city:origin)
      - travel from [Zurich](city:origin) to [Budapest](city:destination)
      - fly from [NYC](city:origin) to [Geneva](city:destination)
      - 'fly to [LA]{"entity": "city", "role": "destination", "value": "Los Angeles"}'
      - book me a seat from [Munich](city:origin) to [Milan](city:destination)
      - from [Heathrow](airport:origin) to [Orly](airport:destination) please
      - a flight from [Gatwick](airport:origin) to [Tegel](airport:destination)
      - fly to [Schiphol](airport:destination) from [Heathrow](airport:origin)
  cancel_booking:
    examples:
      - cancel my booking
      - i want to cancel my flight
      - please cancel the reservation
      - cancel my trip to [Paris](city:destination)
      - drop my booking
      - i no longer want my ticket
      - cancel the flight from [Berlin](city:origin)
      - call off my reservation
      - scrap my booking please
      - undo my flight booking
      - i need to cancel
      - get rid of my reservation
"""

BODIES = {"billing": BILLING, "support": SUPPORT, "travel": TRAVEL}


def edit(text: str, old: str, new: str) -> str:
    """Replace `old`, which must occur exactly once, by `new`."""
    assert text.count(old) == 1, f"the edited text must occur once: {old!r}"
    return text.replace(old, new)


@pytest.fixture
def nlu_pack(write_pack: Callable[..., Path]) -> Callable[..., Path]:
    """Write the pack BODIES[kind] into a tmp folder and return the folder.

    `fallback` and `nlu` are flow mappings for settings.fallback and settings.nlu, `edits`
    textual replacements of the body ({old: new}), `files` extra files of the pack.
    """

    def write(
        kind: str,
        *,
        name: str | None = None,
        fallback: str = "{}",
        nlu: str = "{}",
        edits: dict[str, str] | None = None,
        files: dict[str, str] | None = None,
    ) -> Path:
        body = BODIES[kind]
        for old, new in (edits or {}).items():
            body = edit(body, old, new)
        pack_name = name or kind
        head = HEADER.format(name=pack_name, fallback=fallback, nlu=nlu)
        return write_pack({"pack.yml": head, "nlu.yml": body, **(files or {})}, pack_name)

    return write


@pytest.fixture
def train(tmp_path: Path) -> Callable[..., Trained]:
    """Train the pack in a folder into tmp_path/models and load the model it made current."""

    def run(folder: Path, *, root: Path | None = None, force: bool = False) -> Trained:
        store = ModelStore(root or tmp_path / "models")
        pack = load_pack(folder)
        outcome = store.train(pack, force=force)
        return Trained(pack, outcome, store.load(pack.name))

    return run
