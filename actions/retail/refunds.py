"""Refunds and returns."""

from __future__ import annotations

from sqlalchemy.orm import Session

from actions._common import money, read, slots, text_slot, write
from actions._sdk import (
    Action,
    ActionExecutionRejection,
    CollectingDispatcher,
    DomainDict,
    EventType,
    Tracker,
)
from actions.backend import Order, OrderState, RefundState, Return, utc_now
from actions.backend.retail import FREE_RETURN_REASONS, RETURN_REASONS, return_label_url
from actions.retail.customers import owned_order
from actions.retail.orders import find_order


class ActionLookupRefund(Action):
    """Sets the state and amount of the order's latest refund. An order with no refund yet (no
    return has reached us) is `not_started` with no amount; an unknown order sets both to None."""

    def name(self) -> str:
        return "action_lookup_refund"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        order_id = text_slot(tracker, "order_id")
        return await read(lambda session: _refund_slots(find_order(session, order_id)))


def _refund_slots(order: Order | None) -> list[EventType]:
    if order is None:
        return slots({"refund_state": None, "refund_amount": None})
    if not order.refunds:
        return slots({"refund_state": RefundState.NOT_STARTED.value, "refund_amount": None})
    latest = order.refunds[-1]
    return slots({"refund_state": latest.state.value, "refund_amount": money(latest.amount)})


class ActionCreateReturn(Action):
    """Registers the return of `product` for `return_reason` and sets its reference (R-xxxxx) and
    the URL of its prepaid label. Rejects (400) an order that has not been delivered, one not
    placed with `email`, or a missing product or reason."""

    def name(self) -> str:
        return "action_create_return"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        order_id, email = text_slot(tracker, "order_id"), text_slot(tracker, "email")
        product, reason = text_slot(tracker, "product"), text_slot(tracker, "return_reason")
        if product is None:
            raise ActionExecutionRejection(self.name(), "there is no product to return")
        if reason not in RETURN_REASONS:
            raise ActionExecutionRejection(
                self.name(), f"the return reason must be one of {', '.join(RETURN_REASONS)}"
            )

        def create(session: Session) -> list[EventType]:
            order = owned_order(session, self.name(), order_id, email)
            if order.state is not OrderState.DELIVERED:
                raise ActionExecutionRejection(
                    self.name(), f"order {order.id} is {order.state.value}, not delivered"
                )
            created = Return(
                order=order,
                product=product,
                reason=reason,
                free_collection=reason in FREE_RETURN_REASONS,
                created_at=utc_now(),
            )
            session.add(created)
            session.flush()  # the number, and so the reference, comes from the insert
            created.label_url = return_label_url(created.reference)
            return slots({"return_id": created.reference, "return_label_url": created.label_url})

        return await write(create)
