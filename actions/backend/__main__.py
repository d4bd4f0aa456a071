"""`python -m actions.backend [--reset] [--list] [--db PATH]`: create (or recreate) the demo
database and show what is in it.

rasa_sdk imports every module of the `actions` package, this one included, so nothing here runs
on import.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from actions.backend.base import Base
from actions.backend.db import DATABASE_ENV, database_path, open_backend, reset_backend
from actions.backend.helpdesk import Asset, Employee, Outage, Ticket
from actions.backend.retail import Order


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m actions.backend",
        description="Create the demo database of the example action server, seeded with demo rows.",
    )
    parser.add_argument(
        "--db", type=Path, help=f"the SQLite file (default: ${DATABASE_ENV}, else data/demo_backend.sqlite)"
    )
    parser.add_argument("--reset", action="store_true", help="drop all demo data and seed it again")
    parser.add_argument(
        "--list", action="store_true", help="print the demo orders, employees, tickets and assets"
    )
    args = parser.parse_args(argv)

    path: Path = (args.db or database_path()).resolve()
    existed = path.exists()
    try:
        backend = reset_backend(path) if args.reset else open_backend(path)
    except SQLAlchemyError as error:
        print(f"error: cannot open {path} as the demo database: {error}", file=sys.stderr)
        return 1
    try:
        what = "reset" if args.reset else ("already there, left as it is" if existed else "created")
        print(f"Demo database {path}: {what}.")
        with backend.transaction() as session:
            print(_counts(session))
            if args.list:
                print(_listing(session))
    finally:
        backend.close()
    return 0


def _counts(session: Session) -> str:
    parts = []
    for table in Base.metadata.sorted_tables:
        count = session.scalar(select(func.count()).select_from(table))
        parts.append(f"{table.name} {count}")
    return ", ".join(parts)


def _listing(session: Session) -> str:
    lines = ["", "Orders (id, customer, state, total, carrier, ETA, delivery, refund):"]
    for order in session.scalars(select(Order).order_by(Order.id)):
        refund = order.refunds[-1].state.value if order.refunds else "-"
        lines.append(
            f"  {order.id}  {order.customer.email:<24} {order.state.value:<10} {order.total:>8}  "
            f"{order.carrier or '-':<10} {order.delivery_eta or '-'!s:<10}  "
            f"{order.delivery_status.value if order.delivery_status else '-':<9}  {refund}"
        )
    lines += ["", "Employees (email, Okta Verify code, locked, phone):"]
    for employee in session.scalars(select(Employee).order_by(Employee.email)):
        lines.append(
            f"  {employee.email:<28} {employee.current_code}  "
            f"{'locked' if employee.account_locked else '-':<6}  {employee.phone or 'no phone'}"
        )
    lines += ["", "Tickets (number, state, ETA, summary):"]
    for ticket in session.scalars(select(Ticket).order_by(Ticket.number)):
        lines.append(
            f"  {ticket.reference}  {ticket.state.value:<11} {ticket.eta or '-':<22} {ticket.summary}"
        )
    lines += ["", "Assets (tag, model):"]
    for asset in session.scalars(select(Asset).order_by(Asset.tag)):
        lines.append(f"  {asset.tag:<12} {asset.model}")
    lines += ["", "Open outages (service, summary, ETA):"]
    for outage in session.scalars(select(Outage).where(Outage.resolved_at.is_(None))):
        lines.append(f"  {outage.service.name:<18} {outage.summary} ({outage.eta or 'no ETA'})")
    lines += ["", "Deliberately missing: order A99999, tickets INC999001 and INC999002, asset LAPTOP-9999."]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
