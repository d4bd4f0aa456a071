"""The demo backend behind the example action server: an online shop and an IT helpdesk in one
SQLite file (`$PARLEY_DEMO_DB`, default data/demo_backend.sqlite), created and seeded on first
use. `python -m actions.backend --reset` recreates the demo rows."""

from actions.backend.base import Base, utc_now
from actions.backend.db import (
    DATABASE_ENV,
    DEFAULT_DATABASE,
    Backend,
    database_path,
    open_backend,
    reset_backend,
)
from actions.backend.helpdesk import (
    Application,
    Asset,
    Employee,
    EquipmentProfile,
    Outage,
    Service,
    SetupBooking,
    SmsMessage,
    Ticket,
    TicketCategory,
    TicketState,
    Urgency,
)
from actions.backend.retail import Customer, DeliveryStatus, Order, OrderState, Refund, RefundState, Return

__all__ = [
    "DATABASE_ENV",
    "DEFAULT_DATABASE",
    "Application",
    "Asset",
    "Backend",
    "Base",
    "Customer",
    "DeliveryStatus",
    "Employee",
    "EquipmentProfile",
    "Order",
    "OrderState",
    "Outage",
    "Refund",
    "RefundState",
    "Return",
    "Service",
    "SetupBooking",
    "SmsMessage",
    "Ticket",
    "TicketCategory",
    "TicketState",
    "Urgency",
    "database_path",
    "open_backend",
    "reset_backend",
    "utc_now",
]
