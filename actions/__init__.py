"""The example action server: the 17 custom actions the retail and it_helpdesk packs call,
over a demo backend database (`actions.backend`).

Run it with `make actions` (`python -m engine.actions.sdk_server --actions actions`, which registers
exactly `ACTIONS`) or with rasa_sdk's own `python -m rasa_sdk --actions actions`, which imports every
module of this package and registers every concrete `Action` subclass it finds. A test checks
that both agree with the packs' actions.yml.
"""

from actions._sdk import Action
from actions.it_helpdesk.assets import ValidateAssetTag
from actions.it_helpdesk.identity import ActionResetPassword, ActionUnlockAccount, ActionVerifyEmployee
from actions.it_helpdesk.onboarding import ActionScheduleSetup
from actions.it_helpdesk.services import ActionCheckOutages
from actions.it_helpdesk.software import ActionCheckLicence
from actions.it_helpdesk.tickets import ActionCreateTicket, ActionLookupTicket
from actions.retail.changes import ActionCancelOrder, ActionChangeAddress
from actions.retail.customers import ActionVerifyCustomer
from actions.retail.orders import ActionCheckDelivery, ActionLookupOrder, ValidateOrderId
from actions.retail.refunds import ActionCreateReturn, ActionLookupRefund

#: Every action of the server, retail first.
ACTIONS: tuple[type[Action], ...] = (
    ValidateOrderId,
    ActionVerifyCustomer,
    ActionLookupOrder,
    ActionCheckDelivery,
    ActionLookupRefund,
    ActionCreateReturn,
    ActionChangeAddress,
    ActionCancelOrder,
    ActionVerifyEmployee,
    ActionResetPassword,
    ActionUnlockAccount,
    ActionCreateTicket,
    ActionLookupTicket,
    ActionCheckOutages,
    ActionCheckLicence,
    ActionScheduleSetup,
    ValidateAssetTag,
)

__all__ = [
    "ACTIONS",
    "ActionCancelOrder",
    "ActionChangeAddress",
    "ActionCheckDelivery",
    "ActionCheckLicence",
    "ActionCheckOutages",
    "ActionCreateReturn",
    "ActionCreateTicket",
    "ActionLookupOrder",
    "ActionLookupRefund",
    "ActionLookupTicket",
    "ActionResetPassword",
    "ActionScheduleSetup",
    "ActionUnlockAccount",
    "ActionVerifyCustomer",
    "ActionVerifyEmployee",
    "ValidateAssetTag",
    "ValidateOrderId",
]
