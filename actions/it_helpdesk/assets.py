"""The asset register check for asset tags."""

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
from actions.backend import Asset


class ValidateAssetTag(Action):
    """Accepts the tag in `asset_tag` when the asset register has it, setting the tag back
    upper-case and `asset_model` to the device's make and model; rejects it (400) otherwise."""

    def name(self) -> str:
        return "validate_asset_tag"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        candidate = text_slot(tracker, "asset_tag")
        if candidate is None:
            raise ActionExecutionRejection(self.name(), "there is no asset tag to check")
        tag = candidate.upper()

        def model_of(session: Session) -> str | None:
            asset = session.get(Asset, tag)
            return None if asset is None else asset.model

        model = await read(model_of)
        if model is None:
            raise ActionExecutionRejection(self.name(), f"there is no asset {tag} in the register")
        return slots({"asset_tag": tag, "asset_model": model})
