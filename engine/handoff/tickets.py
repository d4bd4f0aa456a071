"""Tickets: what the handoff desk keeps about each conversation handed to a person.

A ticket is opened when the dialogue runtime requests a handoff, and moves through these states::

    (opened) ──> queued ──claim──> claimed ──hand back──> handed_back
                    ^  │              │  │
                    │  │ expire       │  └──close──> closed
                    │  v              │
                    │ expired         │
                    └────transfer─────┘  (a transfer puts it in another queue, unclaimed)

`queued` tickets may also be transferred or closed (an agent may close spam unclaimed); only the
agent who claimed a ticket replies to it, hands it back or transfers it. `handed_back`, `closed`
and `expired` are final. Every other move is refused with a `TicketError` whose `code` names the
problem (`ticket_claimed`, `ticket_ended`, `ticket_not_claimed`, `not_your_ticket`, ...).

The columns of a ticket are also its measures: time to claim, time to first agent reply, how it
ended and why it was opened (see `Ticket.measures`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal


class TicketStatus(StrEnum):
    QUEUED = "queued"
    CLAIMED = "claimed"
    HANDED_BACK = "handed_back"
    CLOSED = "closed"
    EXPIRED = "expired"

    @property
    def open(self) -> bool:
        return self in (TicketStatus.QUEUED, TicketStatus.CLAIMED)


OPEN_STATUSES = (TicketStatus.QUEUED, TicketStatus.CLAIMED)

#: In an agent's queues: every queue of every pack.
EVERY_QUEUE = "*"


def covers(queues: Sequence[str], pack: str, queue: str) -> bool:
    """Whether queue entries as agents list them (a queue name, 'pack/queue', or '*') include
    `pack`'s `queue`."""
    return any(q in (EVERY_QUEUE, queue, f"{pack}/{queue}") for q in queues)


#: The waiting list's order: most urgent first.
PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}

EntryKind = Literal[
    "requested",
    "wait_message",
    "customer_message",
    "claimed",
    "agent_reply",
    "note",
    "transferred",
    "reprioritized",
    "handed_back",
    "closed",
    "expired",
]
#: Actors that are not agents.
CUSTOMER = "customer"
SYSTEM = "system"


class TicketError(Exception):
    """An operation the ticket's state (or the agent) does not allow. `status` is the HTTP status
    the console answers with; `code` is stable for programs, the message is for people."""

    def __init__(self, code: str, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class UnknownTicket(TicketError):
    def __init__(self, ticket_id: int) -> None:
        super().__init__("unknown_ticket", f"there is no ticket {ticket_id}", status=404)


@dataclass(frozen=True)
class Entry:
    """One line of a ticket's timeline."""

    kind: EntryKind
    actor: str
    at: float
    text: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "actor": self.actor,
            "text": self.text,
            "data": self.data,
            "at": self.at,
        }


@dataclass(frozen=True)
class NewTicket:
    """A ticket about to be opened (the store gives it an id)."""

    pack: str
    sender_id: str
    channel: str
    handoff_seq: int
    queue: str
    reason: str
    priority: str
    context: dict[str, Any]
    created_at: float


@dataclass(frozen=True)
class Ticket:
    id: int
    pack: str
    sender_id: str
    channel: str
    handoff_seq: int
    queue: str
    reason: str
    priority: str
    status: TicketStatus
    agent: str | None
    #: The context packet (engine.dialogue.handoff.context_packet), with its summary.
    context: dict[str, Any]
    created_at: float
    queued_at: float
    updated_at: float
    claimed_at: float | None = None
    #: The latest claim (`claimed_at` is the first one, for the measures).
    queue_claimed_at: float | None = None
    first_reply_at: float | None = None
    ended_at: float | None = None
    timed_out: bool = False
    resolution: str | None = None
    handback: str | None = None

    @property
    def open(self) -> bool:
        return self.status.open

    @property
    def summary(self) -> str:
        return str(self.context.get("summary", ""))

    def measures(self) -> dict[str, Any]:
        """Seconds from the request to the first claim and to the first agent reply, how and
        when it ended, and why it was opened (None where it has not happened)."""

        def since_created(moment: float | None) -> float | None:
            return None if moment is None else round(moment - self.created_at, 3)

        return {
            "ticket_id": self.id,
            "pack": self.pack,
            "queue": self.queue,
            "reason": self.reason,
            "priority": self.priority,
            "status": self.status.value,
            "created_at": self.created_at,
            "time_to_claim_s": since_created(self.claimed_at),
            "time_to_first_reply_s": since_created(self.first_reply_at),
            "duration_s": since_created(self.ended_at),
            "outcome": None if self.open else self.status.value,
            "handback": self.handback,
            "resolution": self.resolution,
        }

    def to_json(self, *, now: float | None = None) -> dict[str, Any]:
        """The ticket without its context packet (`HandoffDesk.view` gives the full view)."""
        data: dict[str, Any] = {
            "id": self.id,
            "pack": self.pack,
            "sender_id": self.sender_id,
            "channel": self.channel,
            "queue": self.queue,
            "reason": self.reason,
            "priority": self.priority,
            "status": self.status.value,
            "agent": self.agent,
            "summary": self.summary,
            "created_at": self.created_at,
            "queued_at": self.queued_at,
            "claimed_at": self.claimed_at,
            "first_reply_at": self.first_reply_at,
            "ended_at": self.ended_at,
            "timed_out": self.timed_out,
            "resolution": self.resolution,
            "handback": self.handback,
        }
        if now is not None:
            data["waited_seconds"] = round(max(0.0, (self.ended_at or now) - self.created_at), 1)
        return data


# -- the rules of the state machine ------------------------------------------------------------
def check_open(ticket: Ticket) -> None:
    if not ticket.open:
        raise TicketError(
            "ticket_ended",
            f"ticket {ticket.id} is {ticket.status.value.replace('_', ' ')}: it can no longer be changed",
        )


def check_claimable(ticket: Ticket, agent: str) -> None:
    check_open(ticket)
    if ticket.status is TicketStatus.CLAIMED:
        who = "you" if ticket.agent == agent else ticket.agent
        raise TicketError("ticket_claimed", f"ticket {ticket.id} is already claimed by {who}")


def check_held_by(ticket: Ticket, agent: str, doing: str) -> None:
    """Replies, hand backs and transfers of a claimed ticket are its agent's."""
    check_open(ticket)
    if ticket.status is TicketStatus.QUEUED:
        raise TicketError("ticket_not_claimed", f"claim ticket {ticket.id} before you {doing}")
    if ticket.agent != agent:
        raise TicketError(
            "not_your_ticket", f"ticket {ticket.id} is claimed by {ticket.agent}; only they can {doing}"
        )


def check_closable(ticket: Ticket, agent: str) -> None:
    """A queued ticket may be closed by any agent of its queue; a claimed one by its agent."""
    check_open(ticket)
    if ticket.status is TicketStatus.CLAIMED and ticket.agent != agent:
        raise TicketError(
            "not_your_ticket", f"ticket {ticket.id} is claimed by {ticket.agent}; only they can close it"
        )


def check_transferable(ticket: Ticket, agent: str) -> None:
    check_open(ticket)
    if ticket.status is TicketStatus.CLAIMED and ticket.agent != agent:
        raise TicketError(
            "not_your_ticket",
            f"ticket {ticket.id} is claimed by {ticket.agent}; only they can transfer it",
        )
