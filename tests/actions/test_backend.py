"""The demo database: creation, seeding, reset, the command line and failures."""

from __future__ import annotations

import csv
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from actions._common import BackendError
from actions.backend import (
    DATABASE_ENV,
    Application,
    Asset,
    Backend,
    Base,
    Customer,
    Employee,
    Order,
    OrderState,
    Ticket,
    database_path,
    open_backend,
    reset_backend,
)
from actions.backend.__main__ import main
from actions.it_helpdesk.tickets import ticket_number
from tests.actions.conftest import RunAction
from tests.conftest import DOMAINS

# Every reference the packs' conversation tests use for something that exists.
ORDERS = ["A12345", "B20417", "C48213", "D90211", "K12003", "H84412", "B66213", "J40036", "B77310",
          "C10020", "F20087", "B30928", "G20301", "A54321", "E11873", "B44120", "L50981", "D27730",
          "C39871", "B55012"]  # fmt: skip
CUSTOMERS = ["jane@example.com", "sam.okoro@gmail.com", "p.nowak@outlook.com", "li.wei@yahoo.co.uk",
             "tom_h@example.org", "maria.g@example.com"]  # fmt: skip
TICKETS = ["INC482910", "INC123456", "INC220011", "INC482001", "INC330045"]
ASSETS = ["LAPTOP-0042", "LAPTOP-0043", "MON-2231", "LAPTOP-7781", "DESK-1187", "DOCK-3307", "LAPTOP-1093",
          "KBD-0311"]  # fmt: skip
EMPLOYEES = ["jane.doe@northwind.co.uk", "sam.jones@northwind.co.uk", "tom.baker@northwind.co.uk",
             "priya.shah@northwind.co.uk"]  # fmt: skip
#: The rows of a freshly seeded database, per table.
SEEDED = {"applications": 40, "assets": 10, "customers": 7, "employees": 6, "orders": 20, "outages": 3,
          "refunds": 5, "returns": 4, "services": 9, "setup_bookings": 2, "sms_outbox": 0,
          "tickets": 6}  # fmt: skip


def _counts(backend: Backend) -> dict[str, int]:
    with backend.transaction() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def test_db_seeds_every_reference_the_packs_use(demo_db: Backend) -> None:
    with demo_db.transaction() as session:
        assert [o for o in ORDERS if session.get(Order, o) is None] == []
        assert [t for t in TICKETS if session.get(Ticket, ticket_number(t)) is None] == []
        assert [a for a in ASSETS if session.get(Asset, a) is None] == []
        customers = set(session.scalars(select(Customer.email)))
        assert set(CUSTOMERS) <= customers
        assert set(EMPLOYEES) <= set(session.scalars(select(Employee.email)))


def test_db_leaves_out_the_deliberate_misses(demo_db: Backend) -> None:
    with demo_db.transaction() as session:
        assert session.get(Order, "A99999") is None
        assert session.get(Ticket, 999001) is None
        assert session.get(Asset, "LAPTOP-9999") is None
        assert "not.the.owner@example.com" not in set(session.scalars(select(Customer.email)))


def test_db_catalogue_has_every_application_of_the_pack(demo_db: Backend) -> None:
    with (DOMAINS / "it_helpdesk" / "applications.csv").open(encoding="utf-8") as file:
        listed = {row["name"] for row in csv.DictReader(file)}
    with demo_db.transaction() as session:
        assert listed - set(session.scalars(select(Application.name))) == set()


def test_db_stores_categorical_values_as_the_packs_spell_them(demo_db: Backend) -> None:
    with sqlite3.connect(demo_db.path) as connection:
        states = {row[0] for row in connection.execute("SELECT state FROM tickets")}
    connection.close()
    assert "in_progress" in states


def test_db_opening_a_seeded_database_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "demo.sqlite"
    first = open_backend(path)
    with first.transaction(write=True) as session:
        session.get_one(Order, "H84412").state = OrderState.CANCELLED
    counts = _counts(first)
    first.close()
    again = open_backend(path)
    try:
        assert _counts(again) == counts
        with again.transaction() as session:
            assert session.get_one(Order, "H84412").state is OrderState.CANCELLED
    finally:
        again.close()


def test_db_servers_starting_at_once_seed_once(tmp_path: Path) -> None:
    # Several worker processes (ACTION_SERVER_SANIC_WORKERS) open a new file at the same time.
    path = tmp_path / "demo.sqlite"
    with ThreadPoolExecutor(max_workers=4) as pool:
        backends = list(pool.map(lambda _: open_backend(path), range(4)))
    try:
        assert [_counts(backend) for backend in backends] == [SEEDED] * 4
    finally:
        for backend in backends:
            backend.close()


def test_db_reset_brings_back_the_demo_rows(tmp_path: Path) -> None:
    path = tmp_path / "demo.sqlite"
    backend = open_backend(path)
    counts = _counts(backend)
    with backend.transaction(write=True) as session:
        session.get_one(Order, "H84412").state = OrderState.CANCELLED
        session.add(Customer(email="extra@example.com", full_name="Extra"))
    backend.close()
    backend = reset_backend(path)
    try:
        assert _counts(backend) == counts
        with backend.transaction() as session:
            assert session.get_one(Order, "H84412").state is OrderState.PROCESSING
    finally:
        backend.close()


def test_db_path_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATABASE_ENV, str(tmp_path / "x.sqlite"))
    assert database_path() == tmp_path / "x.sqlite"
    monkeypatch.delenv(DATABASE_ENV)
    monkeypatch.chdir(tmp_path)
    assert database_path() == tmp_path / "data" / "demo_backend.sqlite"


def test_db_cli_creates_resets_and_lists(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nested" / "demo.sqlite"
    assert main(["--db", str(path)]) == 0
    assert f"Demo database {path}: created." in capsys.readouterr().out
    assert main(["--db", str(path)]) == 0
    assert "already there, left as it is" in capsys.readouterr().out
    assert main(["--db", str(path), "--reset", "--list"]) == 0
    out = capsys.readouterr().out
    assert ": reset." in out
    assert "orders 20" in out
    for reference in ("A12345", "INC482910", "LAPTOP-0042", "jane.doe@northwind.co.uk"):
        assert reference in out
    assert re.search(r"jane\.doe@northwind\.co\.uk +482913", out)


def test_db_cli_reports_a_file_that_is_not_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_text("these are not the tables you are looking for\n" * 100)
    assert main(["--db", str(path)]) == 1
    assert f"error: cannot open {path} as the demo database" in capsys.readouterr().err


def _break_the_database(path: Path) -> None:
    """Drop the refunds table under a server that has already opened the database (opening it
    would create the table again)."""
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA foreign_keys = OFF")
        connection.execute("DROP TABLE refunds")
    connection.close()


def test_db_error_inside_an_action_is_a_backend_error(run_action: RunAction, demo_db: Backend) -> None:
    run_action("action_lookup_refund", order_id="A12345")
    _break_the_database(demo_db.path)
    with pytest.raises(BackendError, match="demo database error: OperationalError: no such table: refunds"):
        run_action("action_lookup_refund", order_id="A12345")


def test_db_failed_write_is_rolled_back(run_action: RunAction, demo_db: Backend) -> None:
    # The cancellation's refund insert fails (no refunds table) after the order row was changed:
    # the whole transaction, including the order's new state, must be rolled back.
    run_action("action_lookup_order", order_id="H84412")
    _break_the_database(demo_db.path)
    with pytest.raises(BackendError):
        run_action("action_cancel_order", order_id="H84412", email="tom_h@example.org")
    with sqlite3.connect(demo_db.path) as connection:
        assert connection.execute("SELECT state FROM orders WHERE id = 'H84412'").fetchone() == (
            "processing",
        )
