"""The connectors' inbox on memory, SQLite and PostgreSQL: a delivery is recorded once, leased
to the worker that recorded it, due again when its lease or wait ends, finished, and pruned."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from engine.channels.base import Inbound
from engine.channels.inbox import MAX_MESSAGE_ID, Inbox, InMemoryInbox, SqlInbox
from engine.stores.sql import SqlTrackerStore
from tests.stores.conftest import postgres_admin, postgresql_url, sqlite_url  # noqa: F401 (fixtures)

LEASE = 300.0


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def inbox(request: pytest.FixtureRequest) -> Iterator[Inbox]:
    if request.param == "memory":
        yield InMemoryInbox()
        return
    database = SqlTrackerStore(request.getfixturevalue(f"{request.param}_url"))
    yield SqlInbox(database)
    database.close()


def message(message_id: str, text: str = "where is my order?", sender: str = "4477") -> Inbound:
    return Inbound(message_id, sender, text, {"chat_id": 4477}, {"attachments": [{"type": "image"}]})


def test_inbox_records_a_delivery_once_and_returns_it_whole(inbox: Inbox) -> None:
    first = inbox.record("telegram", "retail", [message("1001"), message("1002", "hi")], now=100.0)
    again = inbox.record("telegram", "retail", [message("1001"), message("1003", "bye")], now=101.0)

    assert [item.inbound for item in first] == [message("1001"), message("1002", "hi")]
    assert [item.inbound.message_id for item in again] == ["1003"]  # 1001 was seen: not returned
    assert (first[0].channel, first[0].pack, first[0].attempts, first[0].received_at) == (
        "telegram",
        "retail",
        0,
        100.0,
    )
    assert inbox.state("telegram", "1001") == "pending"
    assert inbox.state("telegram", "9999") is None


def test_the_same_id_on_another_channel_is_another_delivery(inbox: Inbox) -> None:
    inbox.record("telegram", "retail", [message("1001")], now=100.0)

    assert len(inbox.record("slack", "retail", [message("1001")], now=100.0)) == 1


def test_a_recorded_delivery_is_leased_to_its_worker_then_due_for_anyone(inbox: Inbox) -> None:
    [item] = inbox.record("telegram", "retail", [message("1001")], now=100.0, lease=LEASE)

    assert inbox.due(now=100.0 + LEASE - 1) == []  # its worker is on it
    [taken] = inbox.due(now=100.0 + LEASE, lease=LEASE)  # the worker died: another takes it
    assert taken.id == item.id and taken.inbound == message("1001")
    assert inbox.due(now=100.0 + LEASE + 1) == []  # leased again to the one that took it


def test_a_renewed_lease_keeps_the_delivery_with_its_worker(inbox: Inbox) -> None:
    [item] = inbox.record("telegram", "retail", [message("1001")], now=100.0, lease=LEASE)
    assert item.leased_until == 100.0 + LEASE

    inbox.renew(item.id, until=100.0 + 2 * LEASE)

    assert inbox.due(now=100.0 + 2 * LEASE - 1) == []
    [again] = inbox.due(now=100.0 + 2 * LEASE, lease=LEASE)
    assert again.id == item.id and again.leased_until == 100.0 + 3 * LEASE


def test_a_retried_delivery_waits_and_counts_its_attempts(inbox: Inbox) -> None:
    [item] = inbox.record("telegram", "retail", [message("1001")], now=100.0)
    inbox.retry(item.id, attempts=1, at=110.0, error="the conversation stayed busy")

    assert inbox.due(now=109.0) == []
    [taken] = inbox.due(now=110.0)
    assert taken.attempts == 1
    assert inbox.state("telegram", "1001") == "pending"


def test_done_and_failed_deliveries_are_never_due_and_are_pruned_after_retention(inbox: Inbox) -> None:
    done, failed, pending = inbox.record(
        "telegram", "retail", [message("1"), message("2"), message("3")], now=100.0
    )
    inbox.done(done.id, now=101.0)
    inbox.failed(failed.id, attempts=8, now=102.0, error="given up")

    assert [item.id for item in inbox.due(now=10_000.0)] == [pending.id]
    assert (inbox.state("telegram", "1"), inbox.state("telegram", "2")) == ("done", "failed")
    assert inbox.prune(before=100.0) == 0  # received at 100: not before it
    assert inbox.prune(before=200.0) == 2  # the pending one stays
    assert inbox.state("telegram", "1") is None
    assert inbox.state("telegram", "3") == "pending"
    # Pruned ids are forgotten: the platform retrying a week later would be taken as new.
    assert len(inbox.record("telegram", "retail", [message("1")], now=300.0)) == 1


def test_an_overlong_platform_id_is_kept_as_its_hash_and_still_deduplicated(inbox: Inbox) -> None:
    long_id = "x" * (MAX_MESSAGE_ID + 50)
    [item] = inbox.record("whatsapp", "retail", [message(long_id)], now=100.0)

    assert item.inbound.message_id == long_id
    assert inbox.record("whatsapp", "retail", [message(long_id)], now=101.0) == []
    assert inbox.state("whatsapp", long_id) == "pending"


def test_text_the_platform_sent_comes_back_byte_for_byte(inbox: Inbox) -> None:
    text = "naïve 🙂 \u202e <b>&amp;</b> ' \" \\"
    inbox.record("slack", "retail", [message("Ev1", text)], now=100.0)

    [item] = inbox.due(now=100.0 + LEASE)
    assert item.inbound.text == text
    assert item.inbound.metadata == {"attachments": [{"type": "image"}]}


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_workers_recording_the_same_delivery_process_it_once(
    database: str, request: pytest.FixtureRequest
) -> None:
    store = SqlTrackerStore(request.getfixturevalue(f"{database}_url"))
    inbox = SqlInbox(store)
    won: list[int] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        won.append(len(inbox.record("slack", "retail", [message("Ev42"), message(f"own-{id(won)}")], 1.0)))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.close()

    # Ev42 went to exactly one worker; the shared "own" id too.
    assert sum(won) == 2


def test_ids_are_never_reused_after_pruning(inbox: Inbox) -> None:
    first, second = inbox.record("telegram", "retail", [message("1"), message("2")], now=100.0)
    inbox.done(first.id, now=101.0)
    inbox.prune(before=200.0)

    [third] = inbox.record("telegram", "retail", [message("3")], now=300.0)
    inbox.done(third.id, now=301.0)

    assert third.id not in (first.id, second.id)
    assert inbox.state("telegram", "2") == "pending"
