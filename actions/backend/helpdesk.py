"""The IT helpdesk's tables: the employee directory, tickets, the asset register, services and
their outages, the software catalogue, new-starter bookings and the outgoing SMS queue."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from actions.backend.base import Base


class TicketState(enum.StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    CLOSED = "closed"


class TicketCategory(enum.StrEnum):
    ACCESS = "access"
    VPN = "vpn"
    SOFTWARE = "software"
    HARDWARE = "hardware"
    OUTAGE = "outage"
    ONBOARDING = "onboarding"


class Urgency(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class EquipmentProfile(enum.StrEnum):
    STANDARD_LAPTOP = "standard_laptop"
    DEVELOPER_LAPTOP = "developer_laptop"
    MAC = "mac"
    DESKTOP = "desktop"


class Employee(Base):
    __tablename__ = "employees"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    first_name: Mapped[str] = mapped_column(String(60))
    last_name: Mapped[str] = mapped_column(String(60))
    #: The registered mobile that temporary passwords are texted to; some people have none.
    phone: Mapped[str | None] = mapped_column(String(20))
    account_locked: Mapped[bool]
    #: The code Okta Verify would show right now. A real directory checks a TOTP; the demo keeps
    #: one fixed code per employee so that analysts can type it.
    current_code: Mapped[str] = mapped_column(String(6))
    #: scrypt hash of the temporary password after a reset (salt$hash, hex).
    temporary_password_hash: Mapped[str | None] = mapped_column(String(200))
    must_change_password: Mapped[bool] = mapped_column(default=False)
    password_reset_at: Mapped[datetime | None]
    unlocked_at: Mapped[datetime | None]

    assets: Mapped[list[Asset]] = relationship(back_populates="assigned_to")


class Asset(Base):
    __tablename__ = "assets"

    #: Letters, a dash and four digits, e.g. LAPTOP-0042.
    tag: Mapped[str] = mapped_column(String(20), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    #: Make and model, e.g. "Dell Latitude 7440".
    model: Mapped[str] = mapped_column(String(80))
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"))

    assigned_to: Mapped[Employee | None] = relationship(back_populates="assets")


class Ticket(Base):
    __tablename__ = "tickets"

    #: The ticket is INC followed by this number in six digits; SQLite hands out the next one on
    #: insert.
    number: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[TicketState]
    category: Mapped[TicketCategory]
    urgency: Mapped[Urgency]
    summary: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    #: When the service desk expects to resolve it, as the analyst wrote it ("Friday 17:00").
    eta: Mapped[str | None] = mapped_column(String(60))
    assignee: Mapped[str | None] = mapped_column(String(80))
    caller_email: Mapped[str | None] = mapped_column(String(254))
    asset_tag: Mapped[str | None] = mapped_column(ForeignKey("assets.tag"))
    affected_service: Mapped[str | None] = mapped_column(String(80))
    #: Comma-separated application names of a software request.
    requested_apps: Mapped[str | None] = mapped_column(String(400))
    opened_at: Mapped[datetime]
    last_update: Mapped[str | None] = mapped_column(String(300))

    @property
    def reference(self) -> str:
        return ticket_reference(self.number)


def ticket_reference(number: int) -> str:
    return f"INC{number:06d}"


class Service(Base):
    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    #: Other names people use for it, comma-separated and lower case ("vpn, globalprotect").
    aliases: Mapped[str] = mapped_column(String(300), default="")

    outages: Mapped[list[Outage]] = relationship(back_populates="service", order_by="Outage.started_at")

    def names(self) -> set[str]:
        """Every lower-case name the service goes by."""
        return {self.name.lower()} | {alias.strip() for alias in self.aliases.split(",") if alias.strip()}


class Outage(Base):
    __tablename__ = "outages"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    summary: Mapped[str] = mapped_column(String(200))
    #: When engineers expect it fixed, as text ("by 14:30"); unknown early in an incident.
    eta: Mapped[str | None] = mapped_column(String(60))
    started_at: Mapped[datetime]
    #: None while the outage is open.
    resolved_at: Mapped[datetime | None]

    service: Mapped[Service] = relationship(back_populates="outages")


class Application(Base):
    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    category: Mapped[str] = mapped_column(String(40))
    #: None for software that needs no licence.
    licences_total: Mapped[int | None]
    licences_used: Mapped[int] = mapped_column(default=0)
    approval_required: Mapped[bool]

    @property
    def has_free_licence(self) -> bool:
        return self.licences_total is None or self.licences_used < self.licences_total


class SetupBooking(Base):
    __tablename__ = "setup_bookings"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: NS-<year of the start date>-<id>, e.g. NS-2024-118; set once the id is known.
    reference: Mapped[str | None] = mapped_column(String(20), unique=True)
    starter_name: Mapped[str] = mapped_column(String(120))
    start_date: Mapped[date]
    equipment_profile: Mapped[EquipmentProfile]
    requested_by: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime]


def setup_reference(start_date: date, booking_id: int) -> str:
    return f"NS-{start_date.year}-{booking_id:03d}"


class SmsMessage(Base):
    """The outgoing SMS queue: the demo's stand-in for the SMS gateway."""

    __tablename__ = "sms_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime]
