"""The online shop's tables: customers, orders, refunds and returns."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from actions.backend.base import Base


class OrderState(enum.StrEnum):
    PROCESSING = "processing"
    DISPATCHED = "dispatched"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class DeliveryStatus(enum.StrEnum):
    """The courier's view of the parcel."""

    ON_TIME = "on_time"
    DELAYED = "delayed"
    LOST = "lost"
    DELIVERED = "delivered"


class RefundState(enum.StrEnum):
    NOT_STARTED = "not_started"
    PENDING = "pending"
    ISSUED = "issued"
    FAILED = "failed"


#: The retail pack's return_reason values.
RETURN_REASONS = ("damaged", "faulty", "wrong_item", "wrong_size", "not_as_described", "changed_mind")
#: Our mistakes: these come back at the shop's cost.
FREE_RETURN_REASONS = frozenset({"damaged", "faulty", "wrong_item"})


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))

    orders: Mapped[list[Order]] = relationship(back_populates="customer")


class Order(Base):
    __tablename__ = "orders"

    #: A letter and five digits, e.g. A12345.
    id: Mapped[str] = mapped_column(String(6), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    placed_on: Mapped[date]
    state: Mapped[OrderState]
    total: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    delivery_address: Mapped[str] = mapped_column(String(300))
    #: Not chosen until the order is packed.
    carrier: Mapped[str | None] = mapped_column(String(40))
    delivery_eta: Mapped[date | None]
    #: None while nothing is on its way (processing or cancelled orders).
    delivery_status: Mapped[DeliveryStatus | None]
    tracking_url: Mapped[str | None] = mapped_column(String(200))

    customer: Mapped[Customer] = relationship(back_populates="orders")
    refunds: Mapped[list[Refund]] = relationship(back_populates="order", order_by="Refund.id")
    returns: Mapped[list[Return]] = relationship(back_populates="order", order_by="Return.number")


class Refund(Base):
    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    state: Mapped[RefundState]
    amount: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    created_at: Mapped[datetime]

    order: Mapped[Order] = relationship(back_populates="refunds")


class Return(Base):
    __tablename__ = "returns"

    #: SQLite hands out the next number on insert, so two returns created at once never share
    #: a reference.
    number: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    product: Mapped[str] = mapped_column(String(120))
    #: One of the retail pack's return_reason values.
    reason: Mapped[str] = mapped_column(String(40))
    #: True for FREE_RETURN_REASONS.
    free_collection: Mapped[bool]
    created_at: Mapped[datetime]
    #: Set in the same transaction as the insert, once the number is known.
    label_url: Mapped[str | None] = mapped_column(String(200))

    order: Mapped[Order] = relationship(back_populates="returns")

    @property
    def reference(self) -> str:
        """The customer-facing id, e.g. R-10442."""
        return return_reference(self.number)


def return_reference(number: int) -> str:
    return f"R-{number:05d}"


def return_label_url(reference: str) -> str:
    return f"https://returns.example.com/label/{reference}"
