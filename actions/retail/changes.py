"""Changing an order that has not left the warehouse: its delivery address, or cancelling it."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from actions._common import iso, slots, text_slot, write
from actions._sdk import (
    Action,
    ActionExecutionRejection,
    CollectingDispatcher,
    DomainDict,
    EventType,
    Tracker,
)
from actions.backend import Order, OrderState, Refund, RefundState, utc_now
from actions.retail.customers import owned_order


def _still_in_warehouse(order: Order, action: str) -> None:
    if order.state is not OrderState.PROCESSING:
        raise ActionExecutionRejection(
            action, f"order {order.id} is {order.state.value}: it has left the warehouse"
        )


def rerouted_eta(eta: date | None, today: date) -> date:
    """A new address can mean another depot: delivery moves a day later, and is never sooner
    than two days from today."""
    return max((eta or today) + timedelta(days=1), today + timedelta(days=2))


class ActionChangeAddress(Action):
    """Changes the delivery address of the order to `new_address` and sets the new
    `delivery_eta`. Rejects (400) an order that has left the warehouse, one not placed with the
    conversation's `email`, or a missing address."""

    def name(self) -> str:
        return "action_change_address"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        order_id, email = text_slot(tracker, "order_id"), text_slot(tracker, "email")
        address = text_slot(tracker, "new_address")
        if address is None:
            raise ActionExecutionRejection(self.name(), "there is no new address")

        def change(session: Session) -> list[EventType]:
            order = owned_order(session, self.name(), order_id, email)
            _still_in_warehouse(order, self.name())
            order.delivery_address = address
            order.delivery_eta = rerouted_eta(order.delivery_eta, date.today())
            return slots({"delivery_eta": iso(order.delivery_eta)})

        return await write(change)


class ActionCancelOrder(Action):
    """Cancels the order and starts a refund of its total; sets `order_state` to cancelled. An
    order that is already cancelled is left as it is (running the action twice is harmless).
    Rejects (400) an order that has left the warehouse or was not placed with `email`."""

    def name(self) -> str:
        return "action_cancel_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        order_id, email = text_slot(tracker, "order_id"), text_slot(tracker, "email")

        def cancel(session: Session) -> list[EventType]:
            order = owned_order(session, self.name(), order_id, email)
            if order.state is not OrderState.CANCELLED:
                _still_in_warehouse(order, self.name())
                order.state = OrderState.CANCELLED
                order.delivery_eta = None
                session.add(
                    Refund(order=order, state=RefundState.PENDING, amount=order.total, created_at=utc_now())
                )
            return slots({"order_state": OrderState.CANCELLED.value})

        return await write(cancel)
