"""Looking orders up: is the number real, where is the order, where is the parcel."""

from __future__ import annotations

from sqlalchemy.orm import Session

from actions._common import iso, money, read, slots, text_slot
from actions._sdk import (
    Action,
    ActionExecutionRejection,
    CollectingDispatcher,
    DomainDict,
    EventType,
    Tracker,
)
from actions.backend import DeliveryStatus, Order, OrderState


def normalize_order_id(text: str) -> str:
    return text.strip().upper()


def find_order(session: Session, order_id: str | None) -> Order | None:
    """The order with this number (any case), or None."""
    return None if order_id is None else session.get(Order, normalize_order_id(order_id))


class ValidateOrderId(Action):
    """Accepts the number in `order_id` when the order exists, setting it back upper-case; rejects
    it (400) when there is no such order, and the engine asks for the number again."""

    def name(self) -> str:
        return "validate_order_id"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        candidate = text_slot(tracker, "order_id")
        if candidate is None:
            raise ActionExecutionRejection(self.name(), "there is no order number to check")
        order_id = normalize_order_id(candidate)
        if not await read(lambda session: session.get(Order, order_id) is not None):
            raise ActionExecutionRejection(self.name(), f"there is no order {order_id}")
        return slots({"order_id": order_id})


class ActionLookupOrder(Action):
    """Sets the order's state, total, courier and expected delivery date. An unknown order sets
    all four to None (the flows validate the number first, so this only happens without
    validation)."""

    def name(self) -> str:
        return "action_lookup_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        order_id = text_slot(tracker, "order_id")
        return await read(lambda session: _order_slots(find_order(session, order_id)))


def _order_slots(order: Order | None) -> list[EventType]:
    if order is None:
        return slots(dict.fromkeys(("order_state", "order_total", "carrier", "delivery_eta")))
    return slots(
        {
            "order_state": order.state.value,
            "order_total": money(order.total),
            "carrier": order.carrier,
            "delivery_eta": iso(order.delivery_eta),
        }
    )


class ActionCheckDelivery(Action):
    """Sets what the courier says about the parcel: on time, delayed, lost or delivered, with the
    expected date, the courier and its tracking page. An order still being packed is on time for
    its planned date (no tracking page yet). A cancelled or unknown order has no delivery: all
    four slots are None."""

    def name(self) -> str:
        return "action_check_delivery"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        order_id = text_slot(tracker, "order_id")
        return await read(lambda session: _delivery_slots(find_order(session, order_id)))


def _delivery_slots(order: Order | None) -> list[EventType]:
    if order is None or order.state is OrderState.CANCELLED:
        return slots(dict.fromkeys(("delivery_status", "delivery_eta", "carrier", "tracking_url")))
    status = order.delivery_status
    if status is None and order.state is OrderState.PROCESSING:
        status = DeliveryStatus.ON_TIME
    return slots(
        {
            "delivery_status": None if status is None else status.value,
            "delivery_eta": iso(order.delivery_eta),
            "carrier": order.carrier,
            "tracking_url": order.tracking_url,
        }
    )
