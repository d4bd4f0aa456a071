"""The ticket store contract (engine/handoff/store.py `TicketStore`), run against every store: the
in-memory fake and `SqlTicketStore` on SQLite and on the real PostgreSQL server (a schema of
the test's own, see tests/stores/conftest.py; skipped, or failed with PARLEY_REQUIRE_SERVICES=1,
when PostgreSQL is down)."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from engine.handoff.sql import SqlTicketStore
from engine.handoff.store import (
    DELIVERY_LEASE,
    InMemoryTicketStore,
    Notification,
    StaleTicket,
    TicketQuery,
    TicketStore,
)
from engine.handoff.tickets import Entry, NewTicket, Ticket, TicketStatus, UnknownTicket
from engine.stores.sql import SqlTrackerStore
from tests.stores.conftest import postgres_admin, postgresql_url, sqlite_url  # noqa: F401 (fixtures)

T0 = 1_700_000_000.0
QUEUED, CLAIMED, CLOSED = TicketStatus.QUEUED, TicketStatus.CLAIMED, TicketStatus.CLOSED
CONTEXT = {
    "summary": "Reason: customer request. Known: order id A12345.",
    "slots": {"order_id": "A12345", "email": "[redacted]"},
    "transcript": [{"from": "customer", "text": "Où est ma commande ? 📦", "time": T0, "intent": None}],
}


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> Iterator[TicketStore]:
    """Every ticket store, empty."""
    if request.param == "memory":
        yield InMemoryTicketStore()
        return
    database = SqlTrackerStore(request.getfixturevalue(f"{request.param}_url"))
    try:
        yield SqlTicketStore(database)
    finally:
        database.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_store(request: pytest.FixtureRequest) -> Iterator[SqlTicketStore]:
    database = SqlTrackerStore(request.getfixturevalue(f"{request.param}_url"))
    try:
        yield SqlTicketStore(database)
    finally:
        database.close()


def new(
    sender: str = "jo",
    *,
    seq: int = 3,
    pack: str = "shop",
    queue: str = "general",
    priority: str = "normal",
    at: float = T0,
    reason: str = "customer_request",
) -> NewTicket:
    return NewTicket(
        pack=pack,
        sender_id=sender,
        channel="rest",
        handoff_seq=seq,
        queue=queue,
        reason=reason,
        priority=priority,
        context=CONTEXT,
        created_at=at,
    )


def requested(at: float = T0) -> Entry:
    return Entry("requested", "system", at, None, {"queue": "general", "rule": None})


def claim(store: TicketStore, ticket: Ticket, agent: str, at: float, **notify: Any) -> Ticket:
    changes = {"status": CLAIMED, "agent": agent, "claimed_at": at, "queue_claimed_at": at, "updated_at": at}
    return store.change(ticket, changes, Entry("claimed", agent, at), **notify)


def event_of(event: str) -> Any:
    """A notification made from the ticket as the change leaves it (the callable form)."""

    def make(ticket: Ticket) -> Notification:
        body = {"ticket": ticket.id, "status": ticket.status.value, "agent": ticket.agent}
        return Notification(event, ticket.id, json.dumps(body))

    return make


# -- open ---------------------------------------------------------------------------------------
def test_ticket_store_open_queues_the_ticket_with_its_first_entries(store: TicketStore) -> None:
    wait = Entry("wait_message", "system", T0, "A person will take over (general).")
    ticket = store.open(new(), [requested(), wait])
    assert (ticket.status, ticket.agent, ticket.queue, ticket.priority) == (QUEUED, None, "general", "normal")
    assert (ticket.created_at, ticket.queued_at, ticket.updated_at) == (T0, T0, T0)
    assert (ticket.claimed_at, ticket.first_reply_at, ticket.ended_at) == (None, None, None)
    assert (ticket.timed_out, ticket.resolution, ticket.handback) == (False, None, None)
    assert (ticket.context, ticket.summary) == (CONTEXT, CONTEXT["summary"])
    assert store.get(ticket.id) == ticket
    assert [(e.kind, e.text, e.data) for e in store.entries(ticket.id)] == [
        ("requested", None, {"queue": "general", "rule": None}),
        ("wait_message", "A person will take over (general).", {}),
    ]


def test_ticket_store_open_is_idempotent_per_conversation_request(store: TicketStore) -> None:
    first = store.open(new(), [requested()], event_of("ticket.created"))
    again = store.open(
        new(queue="billing", priority="urgent", at=T0 + 60),
        [requested(T0 + 60), requested(T0 + 61)],
        event_of("ticket.created"),
    )
    assert again == first
    assert store.get(first.id) == first
    assert len(store.entries(first.id)) == 1
    assert len(store.deliveries()) == 1
    # Another request of the conversation, or the same request number elsewhere, is another ticket.
    others = [
        store.open(new(seq=9), []),
        store.open(new("sam"), []),
        store.open(new(pack="bank"), []),
    ]
    assert len({first.id, *(t.id for t in others)}) == 4


def test_ticket_store_unknown_ticket_is_refused_everywhere(store: TicketStore) -> None:
    ticket = store.open(new(), [])
    missing = dataclasses.replace(ticket, id=ticket.id + 1000)
    with pytest.raises(UnknownTicket):
        store.get(missing.id)
    with pytest.raises(UnknownTicket):
        store.entries(missing.id)
    with pytest.raises(UnknownTicket):
        store.add_entry(missing.id, Entry("note", "alice", T0, "hi"))
    with pytest.raises(UnknownTicket):
        store.change(missing, {"updated_at": T0 + 1}, None)


# -- reading ------------------------------------------------------------------------------------
def test_ticket_store_latest_is_the_conversations_newest_ticket_open_or_not(store: TicketStore) -> None:
    assert store.latest("shop", "jo") is None
    first = store.open(new(seq=3, at=T0), [])
    second = store.open(new(seq=20, at=T0 + 100), [])
    store.open(new("sam", seq=30, at=T0 + 200), [])
    store.open(new(pack="bank", seq=40, at=T0 + 300), [])
    assert store.latest("shop", "jo") == second
    closed = store.change(second, {"status": CLOSED, "ended_at": T0 + 150, "updated_at": T0 + 150}, None)
    assert store.latest("shop", "jo") == closed
    assert store.get(first.id).status is QUEUED  # an older open ticket is not the latest


@pytest.fixture
def queue(store: TicketStore) -> dict[str, Ticket]:
    """Tickets of the general queue of shop and a few that are elsewhere or not waiting."""
    tickets = {
        "a": store.open(new("a", at=T0), []),
        "b": store.open(new("b", priority="high", at=T0 + 10), []),
        "c": store.open(new("c", at=T0 + 5), []),
        "d": store.open(new("d", at=T0), []),  # same age as a, opened after it
        "e": store.open(new("e", priority="urgent", at=T0 - 100), []),
        "f": store.open(new("f", queue="billing", at=T0 - 50), []),
        "g": store.open(new("g", pack="bank", priority="urgent", at=T0 - 50), []),
        "h": store.open(new("h", priority="low", at=T0 - 200), []),
    }
    tickets["e"] = claim(store, tickets["e"], "alice", T0 + 20)
    return tickets


def ids(found: list[Ticket], queue: dict[str, Ticket]) -> list[str]:
    names = {t.id: name for name, t in queue.items()}
    return [names[t.id] for t in found]


def test_ticket_store_waiting_list_is_most_urgent_then_oldest_first(
    store: TicketStore, queue: dict[str, Ticket]
) -> None:
    waiting = TicketQuery(statuses=(QUEUED,), pack="shop", queue="general", waiting_order=True)
    assert ids(store.find(waiting), queue) == ["b", "a", "d", "c", "h"]
    assert ids(store.find(dataclasses.replace(waiting, limit=2, offset=1)), queue) == ["a", "d"]
    everywhere = TicketQuery(statuses=(QUEUED, CLAIMED), waiting_order=True)
    assert ids(store.find(everywhere), queue) == ["e", "g", "b", "f", "a", "d", "c", "h"]


def test_ticket_store_other_lists_are_newest_first(store: TicketStore, queue: dict[str, Ticket]) -> None:
    # f and g were created at the same time: the later one (g) first.
    assert ids(store.find(TicketQuery()), queue) == ["b", "c", "d", "a", "g", "f", "e", "h"]
    assert ids(store.find(TicketQuery(limit=3, offset=2)), queue) == ["d", "a", "g"]
    closed = store.change(queue["c"], {"status": CLOSED, "ended_at": T0 + 30, "updated_at": T0 + 30}, None)
    queue["c"] = closed
    assert ids(store.find(TicketQuery(statuses=(CLOSED,))), queue) == ["c"]
    # Whatever the statuses asked for: a report's order does not change with its filter.
    assert ids(store.find(TicketQuery(statuses=(QUEUED,), pack="shop")), queue) == ["b", "d", "a", "f", "h"]
    assert ids(store.find(TicketQuery(statuses=(QUEUED, CLOSED), queue="general", pack="shop")), queue) == [
        "b",
        "c",
        "d",
        "a",
        "h",
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(TicketQuery(pack="bank"), ["g"], id="pack"),
        pytest.param(TicketQuery(queue="billing"), ["f"], id="queue"),
        pytest.param(TicketQuery(agent="alice"), ["e"], id="agent"),
        pytest.param(TicketQuery(sender_id="d"), ["d"], id="sender"),
        pytest.param(TicketQuery(statuses=(CLAIMED,)), ["e"], id="status"),
        pytest.param(TicketQuery(created_since=T0 + 5), ["b", "c"], id="since-inclusive"),
        pytest.param(TicketQuery(created_until=T0 - 50), ["e", "h"], id="until-exclusive"),
        pytest.param(
            TicketQuery(created_since=T0 - 50, created_until=T0 + 5, pack="shop"),
            ["d", "a", "f"],
            id="window",
        ),
        pytest.param(TicketQuery(queued_before=T0 - 50), ["g", "f", "e", "h"], id="queued-before-inclusive"),
        pytest.param(TicketQuery(covered_by=("billing",)), ["f"], id="covered-by-a-queue"),
        pytest.param(TicketQuery(covered_by=("bank/general",)), ["g"], id="covered-by-pack-queue"),
        pytest.param(TicketQuery(covered_by=("billing", "bank/general")), ["g", "f"], id="covered-by-two"),
        pytest.param(TicketQuery(covered_by=()), [], id="covered-by-nothing"),
        pytest.param(
            TicketQuery(covered_by=("*",), created_until=T0 - 50), ["e", "h"], id="covered-by-every-queue"
        ),
    ],
)
def test_ticket_store_find_filters(
    store: TicketStore, queue: dict[str, Ticket], query: TicketQuery, expected: list[str]
) -> None:
    assert ids(store.find(query), queue) == expected


def test_ticket_store_position_counts_who_is_ahead_in_the_same_pack_and_queue(
    store: TicketStore, queue: dict[str, Ticket]
) -> None:
    positions = {name: store.position(queue[name]) for name in ("b", "a", "d", "c", "h", "f", "g")}
    assert positions == {"b": 1, "a": 2, "d": 3, "c": 4, "h": 5, "f": 1, "g": 1}
    # A ticket not opened yet (the desk's provisional one) comes after every normal one, before
    # the low one.
    provisional = dataclasses.replace(queue["a"], id=2**62, queued_at=T0 + 60, created_at=T0 + 60)
    assert store.position(provisional) == 5
    assert store.position(dataclasses.replace(provisional, priority="urgent")) == 1


def test_ticket_store_reprioritized_ticket_moves_up_the_queue(
    store: TicketStore, queue: dict[str, Ticket]
) -> None:
    changed = store.change(queue["c"], {"priority": "urgent", "timed_out": True, "updated_at": T0 + 99}, None)
    assert (changed.priority, changed.timed_out) == ("urgent", True)
    assert store.position(changed) == 1
    assert store.position(queue["b"]) == 2
    waiting = store.find(TicketQuery(statuses=(QUEUED,), pack="shop", queue="general", waiting_order=True))
    assert [t.sender_id for t in waiting] == ["c", "b", "a", "d", "h"]


def test_ticket_store_claim_seconds_are_the_latest_claims_of_the_queue(store: TicketStore) -> None:
    waits = {"a": 30.0, "b": 90.0, "c": 12.5, "d": 600.0}
    for index, (sender, wait) in enumerate(waits.items()):
        ticket = store.open(new(sender, at=T0 + index), [])
        claim(store, ticket, "alice", T0 + index + wait)
    other = store.open(new("x", queue="billing"), [])
    claim(store, other, "alice", T0 + 5)
    store.open(new("y"), [])  # never claimed
    # Latest claims first: d (T0+603), b (T0+91), c (T0+14.5), a (T0+30).
    assert store.claim_seconds("shop", "general") == [600.0, 90.0, 30.0, 12.5]
    assert store.claim_seconds("shop", "general", limit=2) == [600.0, 90.0]
    assert store.claim_seconds("shop", "billing") == [5.0]
    assert store.claim_seconds("bank", "general") == []


def test_ticket_store_counts_open_tickets_by_pack_queue_and_status(
    store: TicketStore, queue: dict[str, Ticket]
) -> None:
    store.change(queue["h"], {"status": CLOSED, "ended_at": T0, "updated_at": T0}, None)
    assert store.counts() == {
        ("shop", "general", "queued"): 4,
        ("shop", "general", "claimed"): 1,
        ("shop", "billing", "queued"): 1,
        ("bank", "general", "queued"): 1,
    }


# -- change -------------------------------------------------------------------------------------
def test_ticket_store_change_sets_the_columns_and_appends_the_entry(store: TicketStore) -> None:
    ticket = store.open(new(), [requested()])
    claimed = claim(store, ticket, "alice", T0 + 30)
    assert (claimed.status, claimed.agent, claimed.claimed_at, claimed.updated_at) == (
        CLAIMED,
        "alice",
        T0 + 30,
        T0 + 30,
    )
    assert store.get(ticket.id) == claimed
    context = {**CONTEXT, "note": "vip ✓"}
    moved = store.change(
        claimed,
        {"queue": "billing", "status": QUEUED, "agent": None, "queued_at": T0 + 40, "context": context},
        Entry("transferred", "alice", T0 + 40, "needs billing", {"from": "general", "to": "billing"}),
    )
    assert (moved.queue, moved.status, moved.agent, moved.queued_at, moved.context) == (
        "billing",
        QUEUED,
        None,
        T0 + 40,
        context,
    )
    assert moved.claimed_at == T0 + 30  # the first claim is kept
    assert store.get(ticket.id) == moved
    assert [e.kind for e in store.entries(ticket.id)] == ["requested", "claimed", "transferred"]


def _claimed_by_bob(store: TicketStore, ticket: Ticket) -> tuple[Ticket, Ticket]:
    """The ticket was read queued; bob claimed it since."""
    return claim(store, ticket, "bob", T0 + 1), ticket


def _other_agent(store: TicketStore, ticket: Ticket) -> tuple[Ticket, Ticket]:
    """Read as claimed by alice (same status); it is bob's."""
    return claim(store, ticket, "bob", T0 + 1), dataclasses.replace(ticket, status=CLAIMED, agent="alice")


def _transferred(store: TicketStore, ticket: Ticket) -> tuple[Ticket, Ticket]:
    """Read queued in general; it was moved to billing since (still queued, no agent)."""
    moved = store.change(ticket, {"queue": "billing", "queued_at": T0 + 1, "updated_at": T0 + 1}, None)
    return moved, ticket


@pytest.mark.parametrize("make_stale", [_claimed_by_bob, _other_agent, _transferred])
def test_ticket_store_change_is_a_compare_and_set(store: TicketStore, make_stale: Any) -> None:
    ticket = store.open(new(), [requested()])
    current, expected = make_stale(store, ticket)
    entries = store.entries(ticket.id)
    with pytest.raises(StaleTicket):
        store.change(
            expected,
            {"status": CLOSED, "resolution": "spam", "ended_at": T0 + 5, "updated_at": T0 + 5},
            Entry("closed", "alice", T0 + 5),
            event_of("ticket.closed"),
        )
    assert store.get(ticket.id) == current
    assert store.entries(ticket.id) == entries
    assert store.deliveries() == []
    # What the caller should have read works.
    closed = store.change(current, {"status": CLOSED, "updated_at": T0 + 6}, None, event_of("ticket.closed"))
    assert closed.status is CLOSED
    assert [d.event for d in store.deliveries()] == ["ticket.closed"]


def test_ticket_store_entries_keep_their_order_and_data(store: TicketStore) -> None:
    ticket = store.open(new(), [requested()])
    other = store.open(new("sam"), [requested()])
    said = store.add_entry(
        ticket.id, Entry("customer_message", "customer", T0 + 1, "où 🙂", {"button_title": "Oui ✓"})
    )
    store.add_entry(other.id, Entry("customer_message", "customer", T0 + 2, "someone else"))
    noted = store.add_entry(ticket.id, Entry("note", "alice", T0 + 3, "vip", {"tags": ["a", 1, None]}))
    assert said.id is not None and noted.id is not None and said.id < noted.id
    entries = store.entries(ticket.id)
    assert [(e.kind, e.actor, e.at, e.text, e.data) for e in entries] == [
        ("requested", "system", T0, None, {"queue": "general", "rule": None}),
        ("customer_message", "customer", T0 + 1, "où 🙂", {"button_title": "Oui ✓"}),
        ("note", "alice", T0 + 3, "vip", {"tags": ["a", 1, None]}),
    ]
    assert [e.id for e in entries][1:] == [said.id, noted.id]
    assert [e.text for e in store.entries(other.id)] == [None, "someone else"]


NUL_TEXT = 'nul\x00 character, \\ backslash "quotes"'


def test_ticket_store_keeps_a_nul_character_a_customer_typed(
    store: TicketStore, request: pytest.FixtureRequest
) -> None:
    # The tracker store keeps such messages (tests/stores/conftest.py conversation_events); the
    # desk copies them into the timeline and the summary.
    ticket = store.open(new(), [])
    store.add_entry(ticket.id, Entry("customer_message", "customer", T0 + 1, NUL_TEXT))
    assert [e.text for e in store.entries(ticket.id)] == [NUL_TEXT]


def test_ticket_store_keeps_a_summary_quoting_a_nul_character(
    store: TicketStore, request: pytest.FixtureRequest
) -> None:
    summary = f'Reason: frustration. Last message: "{NUL_TEXT}"'
    ticket = store.open(dataclasses.replace(new(), context={**CONTEXT, "summary": summary}), [])
    assert store.get(ticket.id).summary == summary


# -- the webhook outbox -------------------------------------------------------------------------
def test_ticket_store_open_and_change_queue_their_notification_made_from_the_ticket(
    store: TicketStore,
) -> None:
    ticket = store.open(new(), [requested()], event_of("ticket.created"))
    claimed = claim(store, ticket, "alice", T0 + 30, notify=event_of("ticket.claimed"))
    store.add_entry(ticket.id, Entry("note", "alice", T0 + 31, "no notification for notes"))
    store.change(claimed, {"updated_at": T0 + 40}, None)  # no notification asked for
    deliveries = store.deliveries()
    assert [(d.event, d.ticket_id, json.loads(d.payload)) for d in deliveries] == [
        ("ticket.claimed", ticket.id, {"ticket": ticket.id, "status": "claimed", "agent": "alice"}),
        ("ticket.created", ticket.id, {"ticket": ticket.id, "status": "queued", "agent": None}),
    ]
    assert [(d.state, d.attempts, d.created_at, d.next_attempt_at) for d in deliveries] == [
        ("pending", 0, T0 + 30, T0 + 30),
        ("pending", 0, T0, T0),
    ]
    assert [(d.last_error, d.finished_at) for d in deliveries] == [(None, None), (None, None)]


def test_ticket_store_notification_belongs_to_the_changed_ticket(
    store: TicketStore, request: pytest.FixtureRequest
) -> None:
    ticket = store.open(new(), [], Notification("ticket.created", None, "{}"))
    claim(store, ticket, "alice", T0 + 1, notify=Notification("ticket.claimed", None, "{}"))
    assert [d.ticket_id for d in store.deliveries()] == [ticket.id, ticket.id]


def _broken(ticket: Ticket) -> Notification:
    raise TypeError("the context is not JSON")


def test_ticket_store_open_whose_notification_cannot_be_made_opens_nothing(
    store: TicketStore, request: pytest.FixtureRequest
) -> None:
    with pytest.raises(TypeError):
        store.open(new(), [requested()], _broken)
    assert store.latest("shop", "jo") is None
    assert store.find(TicketQuery()) == []


def test_ticket_store_change_whose_notification_cannot_be_made_changes_nothing(
    store: TicketStore, request: pytest.FixtureRequest
) -> None:
    ticket = store.open(new(), [requested()])
    with pytest.raises(TypeError):
        claim(store, ticket, "alice", T0 + 1, notify=_broken)
    assert store.get(ticket.id) == ticket
    assert [e.kind for e in store.entries(ticket.id)] == ["requested"]
    assert store.deliveries() == []


def _outbox(store: TicketStore, count: int) -> list[int]:
    """`count` notifications, created a second apart from T0; their delivery ids, oldest first."""
    for index in range(count):
        store.open(new(f"s{index}", at=T0 + index), [], event_of("ticket.created"))
    return sorted(d.id for d in store.deliveries())


def test_ticket_store_due_deliveries_are_leased_to_the_caller(store: TicketStore) -> None:
    first, second, third = _outbox(store, 3)
    (due,) = store.due_deliveries(T0 + 0.5)
    assert (due.id, due.event, due.state, due.attempts) == (first, "ticket.created", "pending", 0)
    taken = store.due_deliveries(T0 + 10, limit=1)
    assert [d.id for d in taken] == [second]
    assert [d.id for d in store.due_deliveries(T0 + 10)] == [third]
    # Right after, everything is leased: nothing is due.
    assert store.due_deliveries(T0 + 10) == []
    # Once a lease is over its notifications are due again (the dispatcher died mid-way).
    assert [d.id for d in store.due_deliveries(T0 + 0.5 + DELIVERY_LEASE)] == [first]
    assert [d.id for d in store.due_deliveries(T0 + 10 + DELIVERY_LEASE)] == [second, third]


def test_ticket_store_due_deliveries_use_the_given_lease(store: TicketStore) -> None:
    (only,) = _outbox(store, 1)
    assert [d.id for d in store.due_deliveries(T0, lease=30)] == [only]
    assert store.due_deliveries(T0 + 29.9) == []
    assert [d.id for d in store.due_deliveries(T0 + 30)] == [only]


def test_ticket_store_delivery_outcomes_are_recorded(store: TicketStore) -> None:
    done, retried, failed = _outbox(store, 3)
    store.due_deliveries(T0 + 5)
    store.delivery_done(done, attempts=1, now=T0 + 6)
    store.delivery_retry(retried, attempts=1, next_attempt_at=T0 + 60, error="HTTP 503")
    store.delivery_failed(failed, attempts=4, now=T0 + 7, error="HTTP 410")
    by_id = {d.id: d for d in store.deliveries()}
    assert (by_id[done].state, by_id[done].attempts, by_id[done].finished_at, by_id[done].last_error) == (
        "delivered",
        1,
        T0 + 6,
        None,
    )
    assert (by_id[retried].state, by_id[retried].attempts, by_id[retried].next_attempt_at) == (
        "pending",
        1,
        T0 + 60,
    )
    assert (by_id[retried].last_error, by_id[retried].finished_at) == ("HTTP 503", None)
    assert (by_id[failed].state, by_id[failed].attempts, by_id[failed].finished_at) == ("failed", 4, T0 + 7)
    assert by_id[failed].last_error == "HTTP 410"
    # Only the retried one is ever due again, and only from its next attempt (the retry replaced
    # the lease).
    assert store.due_deliveries(T0 + 59) == []
    assert [d.id for d in store.due_deliveries(T0 + 10_000)] == [retried]


def test_ticket_store_deliveries_are_newest_first(store: TicketStore) -> None:
    delivery_ids = _outbox(store, 4)
    assert [d.id for d in store.deliveries()] == delivery_ids[::-1]
    assert [d.id for d in store.deliveries(limit=2)] == delivery_ids[:1:-1]


# -- two agents, one ticket (SQL stores: real connections) ---------------------------------------
def test_ticket_store_sql_only_one_of_eight_racing_agents_claims_the_ticket(
    sql_store: SqlTicketStore,
) -> None:
    ticket = sql_store.open(new(), [requested()])
    start = threading.Barrier(8)
    won: list[str] = []
    stale: list[str] = []
    other: list[BaseException] = []

    def agent(name: str) -> None:
        start.wait()
        try:
            claim(sql_store, ticket, name, T0 + 10, notify=event_of("ticket.claimed"))
        except StaleTicket:
            stale.append(name)
        except BaseException as error:
            other.append(error)
        else:
            won.append(name)

    threads = [threading.Thread(target=agent, args=(f"agent{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert other == []
    assert len(won) == 1 and len(stale) == 7
    current = sql_store.get(ticket.id)
    assert (current.status, current.agent) == (CLAIMED, won[0])
    assert [(e.kind, e.actor) for e in sql_store.entries(ticket.id)] == [
        ("requested", "system"),
        ("claimed", won[0]),
    ]
    assert [json.loads(d.payload)["agent"] for d in sql_store.deliveries()] == [won[0]]
