"""The ticket state machine (engine/handoff/tickets.py): which agent may do what in which state,
the codes of the refusals, and the measures a ticket's columns give."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from engine.handoff.tickets import (
    OPEN_STATUSES,
    Ticket,
    TicketError,
    TicketStatus,
    UnknownTicket,
    check_claimable,
    check_closable,
    check_held_by,
    check_open,
    check_transferable,
)

T0 = 1_700_000_000.0
ENDED = (TicketStatus.HANDED_BACK, TicketStatus.CLOSED, TicketStatus.EXPIRED)


def ticket(status: TicketStatus = TicketStatus.QUEUED, agent: str | None = None, **changes: object) -> Ticket:
    base = Ticket(
        id=7,
        pack="shop",
        sender_id="jo",
        channel="rest",
        handoff_seq=4,
        queue="general",
        reason="customer_request",
        priority="normal",
        status=status,
        agent=agent,
        context={"summary": "Reason: customer request."},
        created_at=T0,
        queued_at=T0,
        updated_at=T0,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


QUEUED = ticket()
CLAIMED_BY_ALICE = ticket(TicketStatus.CLAIMED, "alice", claimed_at=T0 + 5)


def _reply(t: Ticket, agent: str) -> None:
    check_held_by(t, agent, "reply")


def _open(t: Ticket, agent: str) -> None:
    check_open(t)


#: operation name -> the rule the desk applies before it.
RULES: dict[str, Callable[[Ticket, str], None]] = {
    "claim": check_claimable,
    "reply": _reply,
    "close": check_closable,
    "transfer": check_transferable,
    "note": _open,
}

# (operation, ticket, acting agent): allowed.
ALLOWED = [
    pytest.param("claim", QUEUED, "alice", id="claim-queued"),
    pytest.param("reply", CLAIMED_BY_ALICE, "alice", id="reply-own-claimed"),
    pytest.param("close", QUEUED, "bob", id="close-queued-by-anyone"),
    pytest.param("close", CLAIMED_BY_ALICE, "alice", id="close-own-claimed"),
    pytest.param("transfer", QUEUED, "bob", id="transfer-queued-by-anyone"),
    pytest.param("transfer", CLAIMED_BY_ALICE, "alice", id="transfer-own-claimed"),
    pytest.param("note", QUEUED, "bob", id="note-queued"),
    pytest.param("note", CLAIMED_BY_ALICE, "bob", id="note-claimed-by-another"),
]


@pytest.mark.parametrize(("operation", "subject", "agent"), ALLOWED)
def test_tickets_allowed_moves_pass_their_rule(operation: str, subject: Ticket, agent: str) -> None:
    RULES[operation](subject, agent)  # raises when refused


# (operation, ticket, acting agent, code, a fragment of the message).
REFUSED = [
    pytest.param(
        "claim", CLAIMED_BY_ALICE, "bob", "ticket_claimed", "already claimed by alice", id="claim-taken"
    ),
    pytest.param(
        "claim", CLAIMED_BY_ALICE, "alice", "ticket_claimed", "already claimed by you", id="claim-twice"
    ),
    pytest.param(
        "reply", QUEUED, "alice", "ticket_not_claimed", "claim ticket 7 before you reply", id="reply-queued"
    ),
    pytest.param(
        "reply",
        CLAIMED_BY_ALICE,
        "bob",
        "not_your_ticket",
        "claimed by alice; only they can reply",
        id="reply-other-agents",
    ),
    pytest.param(
        "close",
        CLAIMED_BY_ALICE,
        "bob",
        "not_your_ticket",
        "claimed by alice; only they can close it",
        id="close-other-agents",
    ),
    pytest.param(
        "transfer",
        CLAIMED_BY_ALICE,
        "bob",
        "not_your_ticket",
        "claimed by alice; only they can transfer it",
        id="transfer-other-agents",
    ),
]


@pytest.mark.parametrize(("operation", "subject", "agent", "code", "message"), REFUSED)
def test_tickets_refused_moves_name_the_problem(
    operation: str, subject: Ticket, agent: str, code: str, message: str
) -> None:
    with pytest.raises(TicketError) as refused:
        RULES[operation](subject, agent)
    assert (refused.value.code, refused.value.status) == (code, 409)
    assert message in str(refused.value)


@pytest.mark.parametrize("operation", sorted(RULES))
@pytest.mark.parametrize("status", ENDED, ids=lambda s: s.value)
def test_tickets_ended_ticket_refuses_every_move(operation: str, status: TicketStatus) -> None:
    ended = ticket(status, "alice", ended_at=T0 + 60)
    with pytest.raises(TicketError) as refused:
        RULES[operation](ended, "alice")
    assert (refused.value.code, refused.value.status) == ("ticket_ended", 409)
    assert f"ticket 7 is {status.value.replace('_', ' ')}" in str(refused.value)


def test_tickets_held_by_names_the_action_in_the_refusal() -> None:
    with pytest.raises(TicketError, match="claim ticket 7 before you hand it back") as refused:
        check_held_by(QUEUED, "alice", "hand it back")
    assert refused.value.code == "ticket_not_claimed"


def test_tickets_only_queued_and_claimed_are_open() -> None:
    assert [s for s in TicketStatus if s.open] == [TicketStatus.QUEUED, TicketStatus.CLAIMED]
    assert OPEN_STATUSES == (TicketStatus.QUEUED, TicketStatus.CLAIMED)
    assert [ticket(s).open for s in TicketStatus] == [True, True, False, False, False]


def test_tickets_unknown_ticket_is_a_404_ticket_error() -> None:
    error = UnknownTicket(42)
    assert isinstance(error, TicketError)
    assert (error.code, error.status, str(error)) == ("unknown_ticket", 404, "there is no ticket 42")


def test_tickets_measures_of_a_closed_ticket() -> None:
    closed = ticket(
        TicketStatus.CLOSED,
        "alice",
        claimed_at=T0 + 30.5,
        first_reply_at=T0 + 45.25,
        ended_at=T0 + 100,
        resolution="resolved",
        queued_at=T0 + 20,  # a transfer restarted the wait: the measures still count from the request
    )
    assert closed.measures() == {
        "ticket_id": 7,
        "pack": "shop",
        "queue": "general",
        "reason": "customer_request",
        "priority": "normal",
        "status": "closed",
        "created_at": T0,
        "time_to_claim_s": 30.5,
        "time_to_first_reply_s": 45.25,
        "duration_s": 100.0,
        "outcome": "closed",
        "handback": None,
        "resolution": "resolved",
    }


def test_tickets_measures_of_an_open_ticket_are_none_where_nothing_happened() -> None:
    measures = QUEUED.measures()
    assert (
        measures["time_to_claim_s"],
        measures["time_to_first_reply_s"],
        measures["duration_s"],
        measures["outcome"],
    ) == (None, None, None, None)
    claimed = CLAIMED_BY_ALICE.measures()
    assert (claimed["time_to_claim_s"], claimed["outcome"], claimed["status"]) == (5.0, None, "claimed")


@pytest.mark.parametrize(
    ("status", "handback"),
    [(TicketStatus.HANDED_BACK, "resume"), (TicketStatus.HANDED_BACK, "end"), (TicketStatus.EXPIRED, "end")],
)
def test_tickets_measures_outcome_and_handback_of_ended_tickets(status: TicketStatus, handback: str) -> None:
    ended = ticket(status, None, ended_at=T0 + 10, handback=handback)
    measures = ended.measures()
    assert (measures["outcome"], measures["handback"], measures["duration_s"]) == (
        status.value,
        handback,
        10.0,
    )


def test_tickets_measures_round_to_milliseconds() -> None:
    claimed = ticket(TicketStatus.CLAIMED, "alice", claimed_at=T0 + 1 / 3, first_reply_at=T0 + 2 / 3)
    measures = claimed.measures()
    assert (measures["time_to_claim_s"], measures["time_to_first_reply_s"]) == (0.333, 0.667)


def test_tickets_to_json_waited_seconds_stops_when_the_ticket_ends() -> None:
    assert QUEUED.to_json(now=T0 + 90.04)["waited_seconds"] == 90.0
    ended = ticket(TicketStatus.CLOSED, "alice", ended_at=T0 + 30)
    assert ended.to_json(now=T0 + 9999)["waited_seconds"] == 30.0
    assert "waited_seconds" not in QUEUED.to_json()
    assert "context" not in QUEUED.to_json(now=T0)
