"""Known outages on the status page."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from actions._common import read, slots, text_slot
from actions._sdk import Action, CollectingDispatcher, DomainDict, EventType, Tracker
from actions.backend import Outage, Service


def match_service(services: Iterable[Service], text: str) -> Service | None:
    """The service `text` names: one whose name or alias it is, else one whose name or alias it
    contains as whole words ("the VPN keeps dropping" names GlobalProtect VPN)."""
    wanted = " ".join(text.lower().split())
    candidates = list(services)
    for service in candidates:
        if wanted in service.names():
            return service
    for service in candidates:
        if any(re.search(rf"\b{re.escape(name)}\b", wanted) for name in service.names()):
            return service
    return None


class ActionCheckOutages(Action):
    """Sets `outage_known` and the outage's summary and expected fix time when the service in
    `affected_service` has an open outage; otherwise (no outage, or a service the status page
    does not list) `outage_known` is False and the other two are None."""

    def name(self) -> str:
        return "action_check_outages"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = text_slot(tracker, "affected_service")

        def check(session: Session) -> list[EventType]:
            service = None if text is None else match_service(session.scalars(select(Service)), text)
            outage = None
            if service is not None:
                outage = session.scalars(
                    select(Outage)
                    .where(Outage.service_id == service.id, Outage.resolved_at.is_(None))
                    .order_by(Outage.started_at.desc())
                ).first()
            if outage is None:
                return slots({"outage_known": False, "outage_summary": None, "outage_eta": None})
            return slots({"outage_known": True, "outage_summary": outage.summary, "outage_eta": outage.eta})

        return await read(check)
