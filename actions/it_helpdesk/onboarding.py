"""Booking a new starter's accounts and kit with the deployment team."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from actions._common import choice, date_slot, slots, text_slot, write
from actions._sdk import (
    Action,
    ActionExecutionRejection,
    CollectingDispatcher,
    DomainDict,
    EventType,
    Tracker,
)
from actions.backend import EquipmentProfile, SetupBooking, utc_now
from actions.backend.helpdesk import setup_reference


class ActionScheduleSetup(Action):
    """Books the setup of `starter_name` for `preferred_date` with `equipment_profile` and sets
    its reference (NS-<year>-<number>). Rejects (400) a missing name, a missing or past start
    date, or an unknown equipment profile."""

    def name(self) -> str:
        return "action_schedule_setup"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        starter, start = text_slot(tracker, "starter_name"), date_slot(tracker, "preferred_date")
        profile = choice(EquipmentProfile, text_slot(tracker, "equipment_profile"))
        if starter is None:
            raise ActionExecutionRejection(self.name(), "there is no name for the new starter")
        if start is None or start < date.today():
            raise ActionExecutionRejection(self.name(), "the start date is missing or in the past")
        if profile is None:
            raise ActionExecutionRejection(
                self.name(), f"equipment_profile must be one of {', '.join(EquipmentProfile)}"
            )
        requested_by = text_slot(tracker, "employee_email")

        def book(session: Session) -> list[EventType]:
            booking = SetupBooking(
                starter_name=starter,
                start_date=start,
                equipment_profile=profile,
                requested_by=requested_by,
                created_at=utc_now(),
            )
            session.add(booking)
            session.flush()  # the id, and so the reference, comes from the insert
            booking.reference = setup_reference(start, booking.id)
            return slots({"setup_reference": booking.reference})

        return await write(book)
