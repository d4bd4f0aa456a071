"""Licence stock and approval rules of the software catalogue."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions._common import list_slot, read, slots
from actions._sdk import (
    Action,
    ActionExecutionRejection,
    CollectingDispatcher,
    DomainDict,
    EventType,
    Tracker,
)
from actions.backend import Application


class ActionCheckLicence(Action):
    """Sets `licence_available` (every requested application is free or has a licence left) and
    `approval_required` (any of them needs the line manager's approval). An application missing
    from the catalogue has no licence to give and needs approval. Rejects (400) an empty
    `requested_apps`."""

    def name(self) -> str:
        return "action_check_licence"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        wanted = {app.lower() for app in list_slot(tracker, "requested_apps")}
        if not wanted:
            raise ActionExecutionRejection(self.name(), "no applications were requested")

        def check(session: Session) -> list[EventType]:
            found = session.scalars(select(Application).where(func.lower(Application.name).in_(wanted))).all()
            unknown = len(found) < len(wanted)
            return slots(
                {
                    "licence_available": not unknown and all(app.has_free_licence for app in found),
                    "approval_required": unknown or any(app.approval_required for app in found),
                }
            )

        return await read(check)
