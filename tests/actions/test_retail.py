"""The retail pack's actions against the seeded demo shop."""

from __future__ import annotations

import asyncio
import re
from datetime import date
from decimal import Decimal

import pytest
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection
from sqlalchemy import select

from actions.backend import Backend, Order, OrderState, Refund, RefundState, Return
from actions.retail.changes import rerouted_eta
from tests.actions.conftest import RunAction, request, slot_values

NOT_OWNER = "was not placed with the email in this conversation"

# -- validate_order_id -------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["B20417", "b20417", " B20417 "])
def test_orders_validate_order_id_accepts_a_real_order_upper_case(run_action: RunAction, typed: str) -> None:
    assert slot_values(run_action("validate_order_id", order_id=typed)) == {"order_id": "B20417"}


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        pytest.param("A99999", "there is no order A99999", id="unknown"),
        pytest.param("", "there is no order number to check", id="blank"),
        pytest.param(None, "there is no order number to check", id="not-set"),
    ],
)
def test_orders_validate_order_id_rejects(run_action: RunAction, typed: str | None, message: str) -> None:
    with pytest.raises(ActionExecutionRejection) as rejected:
        run_action("validate_order_id", order_id=typed)
    assert rejected.value.action_name == "validate_order_id"
    assert rejected.value.message == message


# -- action_verify_customer --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order_id", "email", "verified"),
    [
        pytest.param("A12345", "jane@example.com", True, id="owner"),
        pytest.param("a12345", " Jane@Example.COM ", True, id="any-case"),
        pytest.param("A12345", "not.the.owner@example.com", False, id="someone-else"),
        pytest.param("A12345", "sam.okoro@gmail.com", False, id="another-customer"),
        pytest.param("A99999", "jane@example.com", False, id="unknown-order"),
        pytest.param("A12345", None, False, id="no-email"),
    ],
)
def test_customers_verify_customer(
    run_action: RunAction, order_id: str, email: str | None, verified: bool
) -> None:
    result = run_action("action_verify_customer", order_id=order_id, email=email)
    assert slot_values(result) == {"customer_verified": verified}


# -- action_lookup_order -----------------------------------------------------------------------


def test_orders_lookup_order_found(run_action: RunAction, demo_db: Backend) -> None:
    with demo_db.transaction() as session:
        eta = session.get_one(Order, "B20417").delivery_eta
    assert eta is not None
    assert slot_values(run_action("action_lookup_order", order_id="B20417")) == {
        "order_state": "dispatched",
        "order_total": 59.99,
        "carrier": "DPD",
        "delivery_eta": eta.isoformat(),
    }


def test_orders_lookup_order_processing_has_no_carrier_yet(run_action: RunAction) -> None:
    values = slot_values(run_action("action_lookup_order", order_id="C48213"))
    assert values["order_state"] == "processing"
    assert values["order_total"] == 124.5
    assert values["carrier"] is None


def test_orders_lookup_order_missing_clears_every_slot(run_action: RunAction) -> None:
    assert slot_values(run_action("action_lookup_order", order_id="A99999")) == {
        "order_state": None,
        "order_total": None,
        "carrier": None,
        "delivery_eta": None,
    }


# -- action_check_delivery ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order_id", "status", "carrier", "tracked"),
    [
        pytest.param("B77310", "delayed", "Evri", True, id="delayed"),
        pytest.param("C10020", "lost", "Yodel", True, id="lost"),
        pytest.param("A12345", "delivered", "DPD", True, id="delivered"),
        pytest.param("F20087", "on_time", "DPD", True, id="on-time"),
        pytest.param("C48213", "on_time", None, False, id="still-packing"),
    ],
)
def test_orders_check_delivery(
    run_action: RunAction, order_id: str, status: str, carrier: str | None, tracked: bool
) -> None:
    values = slot_values(run_action("action_check_delivery", order_id=order_id))
    assert values["delivery_status"] == status
    assert values["carrier"] == carrier
    assert date.fromisoformat(values["delivery_eta"])
    assert (values["tracking_url"] is not None) is tracked


def test_orders_check_delivery_tracking_page_of_the_test_parcel(run_action: RunAction) -> None:
    values = slot_values(run_action("action_check_delivery", order_id="B77310"))
    assert values["tracking_url"] == "https://track.example.com/EV1234567"


@pytest.mark.parametrize("order_id", ["A54321", "A99999"], ids=["cancelled", "missing"])
def test_orders_check_delivery_nothing_to_deliver(run_action: RunAction, order_id: str) -> None:
    values = slot_values(run_action("action_check_delivery", order_id=order_id))
    assert values == dict.fromkeys(("delivery_status", "delivery_eta", "carrier", "tracking_url"))


# -- action_lookup_refund ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order_id", "state", "amount"),
    [
        pytest.param("A12345", "issued", 34.99, id="issued"),
        pytest.param("K12003", "pending", 40.0, id="pending-less-than-paid"),
        pytest.param("J40036", "pending", 749.99, id="pending-high-value"),
        pytest.param("B44120", "failed", 79.0, id="failed"),
        pytest.param("L50981", "not_started", None, id="no-return-yet"),
        pytest.param("A99999", None, None, id="missing"),
    ],
)
def test_refunds_lookup_refund(
    run_action: RunAction, order_id: str, state: str | None, amount: float | None
) -> None:
    result = run_action("action_lookup_refund", order_id=order_id)
    assert slot_values(result) == {"refund_state": state, "refund_amount": amount}


# -- action_create_return ----------------------------------------------------------------------


def test_refunds_create_return_persists_the_return(run_action: RunAction, demo_db: Backend) -> None:
    result = run_action(
        "action_create_return",
        order_id="L50981",
        email="jane@example.com",
        product="hoodie",
        return_reason="wrong_size",
    )
    values = slot_values(result)
    assert re.fullmatch(r"R-\d{5}", values["return_id"])
    assert values["return_label_url"] == f"https://returns.example.com/label/{values['return_id']}"
    with demo_db.transaction() as session:
        created = session.scalars(select(Return).where(Return.order_id == "L50981")).one()
        assert (created.reference, created.product, created.reason) == (
            values["return_id"],
            "hoodie",
            "wrong_size",
        )
        assert created.label_url == values["return_label_url"]
        assert created.free_collection is False


def test_refunds_create_return_our_mistake_is_collected_free(run_action: RunAction, demo_db: Backend) -> None:
    run_action("action_create_return", order_id="D27730", email="p.nowak@outlook.com", product="hair dryer",
               return_reason="faulty")  # fmt: skip
    with demo_db.transaction() as session:
        assert (
            session.scalars(select(Return).where(Return.order_id == "D27730")).one().free_collection is True
        )


def test_refunds_create_return_concurrent_returns_get_their_own_references(
    demo_db: Backend, executor: ActionExecutor
) -> None:
    slots = {
        "order_id": "B55012",
        "email": "jane@example.com",
        "product": "desk lamp",
        "return_reason": "changed_mind",
    }

    async def create_many() -> list[str]:
        results = await asyncio.gather(
            *(executor.run(request("action_create_return", slots)) for _ in range(8))
        )
        return [slot_values(r.model_dump())["return_id"] for r in results if r is not None]

    references = asyncio.run(create_many())
    assert len(set(references)) == 8
    with demo_db.transaction() as session:
        assert len(session.scalars(select(Return).where(Return.order_id == "B55012")).all()) == 8


@pytest.mark.parametrize(
    ("slots", "message"),
    [
        pytest.param({"order_id": "C39871"}, "order C39871 is dispatched, not delivered", id="not-delivered"),
        pytest.param({"email": "sam.okoro@gmail.com"}, f"order L50981 {NOT_OWNER}", id="not-the-owner"),
        pytest.param({"order_id": "A99999"}, "there is no order A99999", id="missing"),
        pytest.param(
            {"return_reason": "too_expensive"}, "the return reason must be one of", id="unknown-reason"
        ),
        pytest.param({"product": None}, "there is no product to return", id="no-product"),
    ],
)
def test_refunds_create_return_rejects(
    run_action: RunAction, demo_db: Backend, slots: dict[str, str | None], message: str
) -> None:
    with pytest.raises(ActionExecutionRejection) as rejected:
        valid = {
            "order_id": "L50981",
            "email": "jane@example.com",
            "product": "hoodie",
            "return_reason": "wrong_size",
        }
        run_action("action_create_return", **{**valid, **slots})
    assert rejected.value.message.startswith(message)
    with demo_db.transaction() as session:
        assert len(session.scalars(select(Return)).all()) == 4  # only the seeded ones


# -- action_change_address ---------------------------------------------------------------------


def test_changes_change_address_persists_address_and_new_eta(run_action: RunAction, demo_db: Backend) -> None:
    with demo_db.transaction() as session:
        before = session.get_one(Order, "B66213").delivery_eta
    result = run_action(
        "action_change_address",
        order_id="B66213",
        email="sam.okoro@gmail.com",
        new_address="17 Hill Road, Bristol BS1 5AA",
    )
    expected = rerouted_eta(before, date.today())
    assert slot_values(result) == {"delivery_eta": expected.isoformat()}
    with demo_db.transaction() as session:
        order = session.get_one(Order, "B66213")
        assert (order.delivery_address, order.delivery_eta) == ("17 Hill Road, Bristol BS1 5AA", expected)


def test_changes_rerouted_eta_is_a_day_later_and_never_sooner_than_two_days() -> None:
    today = date(2026, 3, 2)
    assert rerouted_eta(date(2026, 3, 10), today) == date(2026, 3, 11)
    assert rerouted_eta(date(2026, 3, 2), today) == date(2026, 3, 4)
    assert rerouted_eta(None, today) == date(2026, 3, 4)


@pytest.mark.parametrize(
    ("slots", "message"),
    [
        pytest.param({"order_id": "F20087", "email": "p.nowak@outlook.com"},
                     "order F20087 is dispatched: it has left the warehouse", id="dispatched"),
        pytest.param({"order_id": "B66213", "email": "jane@example.com"}, f"order B66213 {NOT_OWNER}",
                     id="not-the-owner"),
        pytest.param({"order_id": "B66213", "email": "sam.okoro@gmail.com", "new_address": "  "},
                     "there is no new address", id="no-address"),
    ],
)  # fmt: skip
def test_changes_change_address_rejects_and_changes_nothing(
    run_action: RunAction, demo_db: Backend, slots: dict[str, str], message: str
) -> None:
    with demo_db.transaction() as session:
        before = {o.id: o.delivery_address for o in session.scalars(select(Order))}
    with pytest.raises(ActionExecutionRejection, match=message):
        run_action("action_change_address", **{"new_address": "1 New Street, Leeds LS1 1AA", **slots})
    with demo_db.transaction() as session:
        assert {o.id: o.delivery_address for o in session.scalars(select(Order))} == before


# -- action_cancel_order -----------------------------------------------------------------------


def test_changes_cancel_order_persists_and_starts_the_refund(run_action: RunAction, demo_db: Backend) -> None:
    result = run_action("action_cancel_order", order_id="H84412", email="tom_h@example.org")
    assert slot_values(result) == {"order_state": "cancelled"}
    with demo_db.transaction() as session:
        order = session.get_one(Order, "H84412")
        assert order.state is OrderState.CANCELLED
        assert [(r.state, r.amount) for r in order.refunds] == [(RefundState.PENDING, Decimal("35.00"))]
    # The refund the cancellation started is what the refund flow now finds.
    assert slot_values(run_action("action_lookup_refund", order_id="H84412")) == {
        "refund_state": "pending",
        "refund_amount": 35.0,
    }


def test_changes_cancel_order_twice_is_harmless(run_action: RunAction, demo_db: Backend) -> None:
    for _ in range(2):
        result = run_action("action_cancel_order", order_id="E11873", email="jane@example.com")
        assert slot_values(result) == {"order_state": "cancelled"}
    with demo_db.transaction() as session:
        assert len(session.scalars(select(Refund).where(Refund.order_id == "E11873")).all()) == 1


@pytest.mark.parametrize(
    ("order_id", "email", "message"),
    [
        pytest.param("G20301", "maria.g@example.com", "order G20301 is dispatched: it has left the warehouse",
                     id="dispatched"),
        pytest.param("A12345", "jane@example.com", "order A12345 is delivered: it has left the warehouse",
                     id="delivered"),
        pytest.param("B30928", "jane@example.com", f"order B30928 {NOT_OWNER}", id="not-the-owner"),
    ],
)  # fmt: skip
def test_changes_cancel_order_rejects_and_changes_nothing(
    run_action: RunAction, demo_db: Backend, order_id: str, email: str, message: str
) -> None:
    with demo_db.transaction() as session:
        state_before = session.get_one(Order, order_id).state
        refunds_before = len(session.scalars(select(Refund)).all())
    with pytest.raises(ActionExecutionRejection, match=message):
        run_action("action_cancel_order", order_id=order_id, email=email)
    with demo_db.transaction() as session:
        assert session.get_one(Order, order_id).state is state_before
        assert len(session.scalars(select(Refund)).all()) == refunds_before
