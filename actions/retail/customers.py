"""Who is asking: the customer check, and the ownership check every change to an order makes."""

from __future__ import annotations

from sqlalchemy.orm import Session

from actions._common import read, slots, text_slot
from actions._sdk import (
    Action,
    ActionExecutionRejection,
    CollectingDispatcher,
    DomainDict,
    EventType,
    Tracker,
)
from actions.backend import Order
from actions.retail.orders import find_order


def is_owner(order: Order | None, email: str | None) -> bool:
    """Whether `email` (any case) is the address the order was placed with."""
    return (
        order is not None
        and email is not None
        and order.customer.email.casefold() == email.strip().casefold()
    )


def owned_order(session: Session, action: str, order_id: str | None, email: str | None) -> Order:
    """The order, when it exists and `email` placed it. Actions that change an order check this
    themselves instead of trusting `customer_verified`: the order number can be corrected after
    the customer was verified for another order.

    Raises `ActionExecutionRejection` (400) otherwise.
    """
    order = find_order(session, order_id)
    if order is None:
        raise ActionExecutionRejection(action, f"there is no order {order_id}")
    if not is_owner(order, email):
        raise ActionExecutionRejection(
            action, f"order {order.id} was not placed with the email in this conversation"
        )
    return order


class ActionVerifyCustomer(Action):
    """Sets `customer_verified`: True when the order exists and was placed with `email`."""

    def name(self) -> str:
        return "action_verify_customer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        order_id, email = text_slot(tracker, "order_id"), text_slot(tracker, "email")
        verified = await read(lambda session: is_owner(find_order(session, order_id), email))
        return slots({"customer_verified": verified})
