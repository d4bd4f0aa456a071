"""Service desk tickets: opening one from the conversation, and looking one up."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from actions._common import choice, date_slot, int_slot, list_slot, read, slots, text_slot, write
from actions._sdk import (
    Action,
    ActionExecutionRejection,
    CollectingDispatcher,
    DomainDict,
    EventType,
    Tracker,
)
from actions.backend import Asset, Ticket, TicketCategory, TicketState, Urgency, utc_now
from actions.backend.helpdesk import ticket_reference

#: The service desk's target resolution times.
TARGET_BY_URGENCY = {
    Urgency.CRITICAL: "within 4 hours",
    Urgency.HIGH: "within 8 working hours",
    Urgency.MEDIUM: "within 2 working days",
    Urgency.LOW: "within 5 working days",
}
#: Requests, not incidents: their urgency is low whatever the conversation says.
_REQUESTS = (TicketCategory.SOFTWARE, TicketCategory.ONBOARDING)
_TICKET_NUMBER = re.compile(r"INC(\d{6})")


@dataclass(frozen=True)
class TicketRequest:
    """What the conversation says about the problem (the slots every flow may fill)."""

    category: TicketCategory
    description: str | None
    urgency: Urgency | None
    asset_tag: str | None
    device_type: str | None
    requested_apps: tuple[str, ...]
    affected_service: str | None
    affected_users: int | None
    preferred_date: date | None
    caller_email: str | None

    @classmethod
    def from_tracker(cls, tracker: Tracker, action: str) -> TicketRequest:
        """Raises `ActionExecutionRejection` when `ticket_category` is not a category."""
        category = choice(TicketCategory, text_slot(tracker, "ticket_category"))
        if category is None:
            raise ActionExecutionRejection(
                action, f"ticket_category must be one of {', '.join(TicketCategory)}"
            )
        return cls(
            category=category,
            description=text_slot(tracker, "issue_description"),
            urgency=choice(Urgency, text_slot(tracker, "urgency")),
            asset_tag=(text_slot(tracker, "asset_tag") or "").upper() or None,
            device_type=text_slot(tracker, "device_type"),
            requested_apps=tuple(list_slot(tracker, "requested_apps")),
            affected_service=text_slot(tracker, "affected_service"),
            affected_users=int_slot(tracker, "affected_users"),
            preferred_date=date_slot(tracker, "preferred_date"),
            caller_email=text_slot(tracker, "employee_email"),
        )

    def priority(self) -> Urgency:
        if self.category in _REQUESTS:
            return Urgency.LOW
        if self.urgency is not None:
            return self.urgency
        if self.category is TicketCategory.OUTAGE and (self.affected_users or 0) >= 10:
            return Urgency.HIGH
        return Urgency.MEDIUM

    def target(self) -> str:
        if self.category is TicketCategory.SOFTWARE:
            day = self.preferred_date
            return f"by {day:%A} {day.day} {day:%B}" if day else "within 2 working days"
        return TARGET_BY_URGENCY[self.priority()]

    def summary(self, asset: Asset | None) -> str:
        device = f"{asset.tag} ({asset.model})" if asset else "their device"
        match self.category:
            case TicketCategory.SOFTWARE:
                text = f"Install {', '.join(self.requested_apps) or 'software'} on {device}"
            case TicketCategory.HARDWARE:
                kind = self.device_type or (asset.kind if asset else "device")
                text = f"{kind.capitalize()} fault on {device}"
            case TicketCategory.OUTAGE:
                users = f" affecting about {self.affected_users} people" if self.affected_users else ""
                text = f"{self.affected_service or 'Service'} outage{users}"
            case TicketCategory.VPN:
                text = f"VPN problem: {self.description or 'cannot connect'}"
            case TicketCategory.ACCESS:
                text = f"Sign-in problem: {self.description or 'cannot sign in'}"
            case TicketCategory.ONBOARDING:
                text = "New starter setup"
        return text if len(text) <= 200 else text[:199] + "…"


class ActionCreateTicket(Action):
    """Opens a ticket from the conversation's slots (category, description, urgency, asset,
    applications, affected service) and sets its number (INCxxxxxx) and target resolution time
    as text. Rejects (400) a missing or unknown `ticket_category` and an asset tag the register
    does not have."""

    def name(self) -> str:
        return "action_create_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        request = TicketRequest.from_tracker(tracker, self.name())

        def create(session: Session) -> list[EventType]:
            asset = None
            if request.asset_tag is not None:
                asset = session.get(Asset, request.asset_tag)
                if asset is None:
                    raise ActionExecutionRejection(
                        self.name(), f"there is no asset {request.asset_tag} in the register"
                    )
            summary = request.summary(asset)
            ticket = Ticket(
                state=TicketState.NEW,
                category=request.category,
                urgency=request.priority(),
                summary=summary,
                description=request.description or summary,
                eta=request.target(),
                caller_email=request.caller_email,
                asset_tag=None if asset is None else asset.tag,
                affected_service=request.affected_service,
                requested_apps=", ".join(request.requested_apps) or None,
                opened_at=utc_now(),
            )
            session.add(ticket)
            session.flush()  # the number comes from the insert
            return slots({"new_ticket_id": ticket.reference, "ticket_eta": ticket.eta})

        return await write(create)


def ticket_number(text: str | None) -> int | None:
    """The number of a ticket reference such as INC482910 (any case, spaces ignored), or None."""
    if text is None:
        return None
    found = _TICKET_NUMBER.fullmatch("".join(text.split()).upper())
    return None if found is None else int(found.group(1))


class ActionLookupTicket(Action):
    """Sets the ticket's state, target resolution time and details (number, summary, assignee,
    category, opening date, latest update). When there is no such ticket all three are None:
    the flow checks `ticket_state is none`."""

    def name(self) -> str:
        return "action_lookup_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        number = ticket_number(text_slot(tracker, "ticket_id"))

        def lookup(session: Session) -> list[EventType]:
            ticket = None if number is None else session.get(Ticket, number)
            if ticket is None:
                return slots({"ticket_state": None, "ticket_eta": None, "ticket_details": None})
            details = {
                "number": ticket_reference(ticket.number),
                "summary": ticket.summary,
                "assignee": ticket.assignee,
                "category": ticket.category.value,
                "opened": ticket.opened_at.date().isoformat(),
                "last_update": ticket.last_update,
            }
            return slots(
                {"ticket_state": ticket.state.value, "ticket_eta": ticket.eta, "ticket_details": details}
            )

        return await read(lookup)
