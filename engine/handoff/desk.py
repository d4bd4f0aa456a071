"""The handoff desk: tickets for conversations handed to people, and what agents do with them.

It sits beside the `ConversationService`, which calls it around every customer turn (under the
conversation's lock):

- `before_turn`: a conversation still paused although its ticket ended (the server stopped
  between the two) is handed back to the bot first, as the agent chose;
- `after_turn`: a new handoff tells the customer their place in the queue and the usual wait
  (unless the queue is closed: the pack's closed message was said); a message while waiting is
  acknowledged once per wait with the place in the queue;
- `committed` (after the turn's events are stored): opens the ticket of a new handoff request
  (also one whose ticket was never opened because the server stopped in between), and records
  messages the customer sends while waiting in the ticket's timeline.

Agents' operations (`claim`, `reply`, `note`, `transfer`, `hand_back`, `close`) check the
ticket's state (see `engine.handoff.tickets`), change it with a compare-and-set, and change the
conversation under its lock: what the agent says and what the bot says when it takes over are
stored in the conversation like any message, then pushed to the customer's open connections
(`LiveChannels`). `sweep` applies the queues' wait limits and expires tickets nobody claimed.

Every method is blocking (stores, locks): the server runs them in worker threads.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from engine.config import DEFAULT_RESOLUTIONS, WebhookConfig
from engine.dialogue.events import BotUttered, Event, HandoffRequested, HandoffTransferred, UserUttered
from engine.dialogue.handoff import queue_is_open
from engine.dialogue.runtime import Assistant, TurnResult
from engine.dialogue.tracker import Tracker
from engine.handoff.agents import Agent, AgentDirectory
from engine.handoff.live import LiveChannels
from engine.handoff.store import Notify, StaleTicket, TicketQuery, TicketStore
from engine.handoff.tickets import (
    CUSTOMER,
    SYSTEM,
    Entry,
    NewTicket,
    Ticket,
    TicketError,
    TicketStatus,
    check_claimable,
    check_closable,
    check_held_by,
    check_open,
    check_transferable,
)

if TYPE_CHECKING:  # engine.server imports this module: import it at run time only where used
    from engine.server.service import ConversationService

log = logging.getLogger(__name__)

#: What the customer is told when the pack has no response of that name.
DEFAULT_NOTICES = {
    "handoff_queue_position": "You're number {{ context.position }} in the queue.",
    "handoff_waiting": "Thanks, our team will see this. You're number {{ context.position }} in the queue.",
    "handoff_agent_joined": "{{ context.agent_name }} has joined the conversation.",
    "handoff_transferred": "I've passed your conversation to another team. They'll reply here.",
    "handoff_returned": "You're back with the assistant.",
    "handoff_closed": "This conversation with our team is closed.",
    "handoff_expired": "Sorry, nobody from our team could pick up your request in time.",
}
#: Claims the usual wait is estimated from (the queue's latest ones).
WAIT_SAMPLE = 20
MAX_TEXT_CHARS = 4000


@dataclass(frozen=True)
class SweepReport:
    reprioritized: int = 0
    expired: int = 0
    failed: int = 0


class HandoffDesk:
    def __init__(
        self,
        store: TicketStore,
        service: ConversationService,
        agents: AgentDirectory,
        *,
        live: LiveChannels | None = None,
        resolutions: Mapping[str, str] | None = None,
        expire_after_seconds: float = 72 * 3600,
        webhook: WebhookConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.service = service
        self.agents = agents
        self.live = live or LiveChannels()
        #: Sends messages said outside the customer's turns to their messenger: (pack, sender_id,
        #: channel, messages); set by the server when messenger connectors are on.
        self.relay: Callable[[str, str, str, list[dict[str, Any]]], None] | None = None
        self.resolutions = dict(resolutions if resolutions is not None else DEFAULT_RESOLUTIONS)
        self.expire_after_seconds = expire_after_seconds
        self.webhook = webhook
        self.clock = clock

    # -- around customer turns (called by the ConversationService) --------------------------------
    def before_turn(self, assistant: Assistant, tracker: Tracker, channel: str) -> Ticket | None:
        """The conversation's latest ticket while it waits for (or talks to) a person, read once
        for the turn; None when the bot has the conversation."""
        seq = request_seq(tracker)
        if seq is None:
            return None
        latest = self.store.latest(assistant.pack.name, tracker.sender_id)
        if latest is not None and latest.handoff_seq == seq and not latest.open:
            log.warning(
                "ticket %s ended (%s) but conversation %s was still paused: handing it back now",
                latest.id,
                latest.status.value,
                tracker.sender_id,
            )
            assistant.end_handoff(
                tracker, resume=latest.handback == "resume", agent=latest.agent, channel=channel
            )
            return None
        return latest

    def after_turn(
        self, assistant: Assistant, tracker: Tracker, start: int, channel: str, latest: Ticket | None
    ) -> None:
        new = tracker.events[start:]
        user = next((e for e in new if isinstance(e, UserUttered)), None)
        at = user.timestamp if user is not None else None
        request = next((e for e in reversed(new) if isinstance(e, HandoffRequested)), None)
        pack = assistant.pack
        if request is not None:
            definition = pack.queues.get(request.queue)
            if definition is not None and not queue_is_open(
                definition, datetime.fromtimestamp(request.timestamp, UTC)
            ):
                return  # the executor said the queue's closed message
            provisional = self._provisional(assistant, tracker, request, channel)
            position = self.store.position(provisional)
            wait = self._usual_wait_minutes(pack.name, request.queue, position)
            self._notice(
                assistant,
                tracker,
                "handoff_queue_position",
                {"position": position, "wait_minutes": wait},
                channel,
                at,
            )
            return
        if user is None or not tracker.state.paused or tracker.state.handoff_agent is not None:
            return
        if _said_in_this_wait(tracker, "handoff_waiting"):
            return
        ticket = _current_ticket(tracker, latest)
        if ticket is not None and ticket.status is TicketStatus.QUEUED:
            position = self.store.position(ticket)
            self._notice(assistant, tracker, "handoff_waiting", {"position": position}, channel, at)

    def committed(
        self, assistant: Assistant, tracker: Tracker, start: int, channel: str, latest: Ticket | None
    ) -> None:
        """After the turn's events are stored: open the ticket of a new (or never ticketed)
        handoff request; record the customer's messages while they wait."""
        seq = request_seq(tracker)
        if seq is None:
            return
        ticket = _current_ticket(tracker, latest)
        if ticket is None:
            request = tracker.events[seq]
            assert isinstance(request, HandoffRequested)
            ticket = self._open(assistant, tracker, seq, request, channel)
        if seq >= start:
            return  # the message that asked for a person is in the packet's transcript
        for event in tracker.events[start:]:
            if isinstance(event, UserUttered):
                title = event.metadata.get("button_title")
                self.store.add_entry(
                    ticket.id,
                    Entry(
                        "customer_message",
                        CUSTOMER,
                        event.timestamp,
                        event.text,
                        {"button_title": title} if isinstance(title, str) else {},
                    ),
                )

    # -- agents' operations ------------------------------------------------------------------------
    def ticket(self, ticket_id: int, agent: Agent) -> Ticket:
        """The ticket, when `agent` works its queue (else 403 not_your_queue)."""
        ticket = self.store.get(ticket_id)
        if not agent.works(ticket.pack, ticket.queue):
            raise TicketError(
                "not_your_queue",
                f"ticket {ticket.id} is in queue {ticket.pack}/{ticket.queue}, not one {agent.id} works",
                status=403,
            )
        return ticket

    def claim(self, ticket_id: int, agent: Agent) -> Ticket:
        ticket = self.ticket(ticket_id, agent)
        check_claimable(ticket, agent.id)
        now = self.clock()
        changes = {
            "status": TicketStatus.CLAIMED,
            "agent": agent.id,
            "queue_claimed_at": now,
            "updated_at": now,
        }
        if ticket.claimed_at is None:
            changes["claimed_at"] = now

        def change(assistant: Assistant, tracker: Tracker) -> Ticket:
            claimed = self._change(
                ticket, changes, Entry("claimed", agent.id, now), check_claimable, agent, "ticket.claimed"
            )
            if tracker.state.handoff is not None:
                assistant.accept_handoff(tracker, agent.id)
                self._notice(
                    assistant, tracker, "handoff_agent_joined", {"agent_name": agent.name}, ticket.channel
                )
            return claimed

        return self._with_conversation(ticket, change)

    def reply(self, ticket_id: int, agent: Agent, text: str) -> Ticket:
        ticket = self.ticket(ticket_id, agent)
        text = _text(text, "reply")
        check_held_by(ticket, agent.id, "reply")
        now = self.clock()
        changes: dict[str, Any] = {"updated_at": now}
        if ticket.first_reply_at is None:
            changes["first_reply_at"] = now

        def change(assistant: Assistant, tracker: Tracker) -> Ticket:
            replied = self._change(
                ticket,
                changes,
                Entry("agent_reply", agent.id, now, text),
                lambda t, a: check_held_by(t, a, "reply"),
                agent,
                None,
            )
            assistant.agent_said(tracker, text, agent=agent.id, agent_name=agent.name)
            return replied

        return self._with_conversation(ticket, change)

    def note(self, ticket_id: int, agent: Agent, text: str) -> Ticket:
        """An internal note: for colleagues, never shown to the customer."""
        ticket = self.ticket(ticket_id, agent)
        text = _text(text, "note")
        check_open(ticket)
        self.store.add_entry(ticket.id, Entry("note", agent.id, self.clock(), text))
        return self.store.get(ticket.id)

    def transfer(self, ticket_id: int, agent: Agent, queue: str, note: str | None = None) -> Ticket:
        ticket = self.ticket(ticket_id, agent)
        check_transferable(ticket, agent.id)
        queues = self.service.assistant(ticket.pack).pack.queues
        if queue not in queues:
            raise TicketError(
                "unknown_queue",
                f"pack {ticket.pack} has no queue '{queue}'; its queues: {', '.join(sorted(queues))}",
                status=422,
            )
        if queue == ticket.queue:
            raise TicketError("same_queue", f"ticket {ticket.id} is already in queue {queue}")
        now = self.clock()
        changes = {
            "queue": queue,
            "status": TicketStatus.QUEUED,
            "agent": None,
            "queued_at": now,
            "queue_claimed_at": None,
            "timed_out": False,
            "updated_at": now,
        }
        entry = Entry("transferred", agent.id, now, _optional_text(note), {"from": ticket.queue, "to": queue})

        def change(assistant: Assistant, tracker: Tracker) -> Ticket:
            moved = self._change(ticket, changes, entry, check_transferable, agent, "ticket.transferred")
            if tracker.state.handoff is not None:
                assistant.transfer_handoff(tracker, queue, agent.id)
            self._notice(assistant, tracker, "handoff_transferred", {"queue": queue}, ticket.channel)
            return moved

        return self._with_conversation(ticket, change)

    def hand_back(self, ticket_id: int, agent: Agent, *, resume: bool, note: str | None = None) -> Ticket:
        """The bot takes the conversation back: it resumes the interrupted flow where it stopped
        (`resume`), or ends it and waits for the customer."""
        ticket = self.ticket(ticket_id, agent)
        check_held_by(ticket, agent.id, "hand it back")
        now = self.clock()
        mode = "resume" if resume else "end"
        changes = {"status": TicketStatus.HANDED_BACK, "ended_at": now, "handback": mode, "updated_at": now}
        entry = Entry("handed_back", agent.id, now, _optional_text(note), {"resume": resume})

        def change(assistant: Assistant, tracker: Tracker) -> Ticket:
            ended = self._change(
                ticket,
                changes,
                entry,
                lambda t, a: check_held_by(t, a, "hand it back"),
                agent,
                "ticket.handed_back",
            )
            self._notice(assistant, tracker, "handoff_returned", {"agent_name": agent.name}, ticket.channel)
            if tracker.state.handoff is not None:
                assistant.end_handoff(tracker, resume=resume, agent=agent.id, channel=ticket.channel)
            return ended

        return self._with_conversation(ticket, change)

    def close(self, ticket_id: int, agent: Agent, resolution: str, note: str | None = None) -> Ticket:
        ticket = self.ticket(ticket_id, agent)
        check_closable(ticket, agent.id)
        if resolution not in self.resolutions:
            raise TicketError(
                "unknown_resolution",
                f"'{resolution}' is not a resolution code; use one of: {', '.join(self.resolutions)}",
                status=422,
            )
        now = self.clock()
        changes = {
            "status": TicketStatus.CLOSED,
            "ended_at": now,
            "resolution": resolution,
            "updated_at": now,
        }
        entry = Entry("closed", agent.id, now, _optional_text(note), {"resolution": resolution})

        def change(assistant: Assistant, tracker: Tracker) -> Ticket:
            closed = self._change(ticket, changes, entry, check_closable, agent, "ticket.closed")
            if tracker.state.handoff is not None:
                self._notice(assistant, tracker, "handoff_closed", {"resolution": resolution}, ticket.channel)
                assistant.end_handoff(tracker, resume=False, agent=agent.id, channel=ticket.channel)
            return closed

        return self._with_conversation(ticket, change)

    # -- limits ------------------------------------------------------------------------------------
    def sweep(self) -> SweepReport:
        """Apply the queues' wait limits (timeout_priority, timeout_message) to tickets waiting
        longer than max_wait_minutes, and expire tickets nobody claimed for expire_after."""
        now = self.clock()
        reprioritized = expired = failed = 0
        # Only tickets waiting longer than the shortest limit can have reached one: the others
        # (most of a healthy queue) are not read.
        query = TicketQuery(
            statuses=(TicketStatus.QUEUED,), queued_before=now - self._shortest_limit(), limit=100_000
        )
        for ticket in self.store.find(query):
            try:
                if now - ticket.queued_at >= self.expire_after_seconds:  # a transfer restarts it
                    self._expire(ticket, now)
                    expired += 1
                elif self._overdue(ticket, now):
                    self._time_out(ticket, now)
                    reprioritized += 1
            except (StaleTicket, TicketError):
                continue  # claimed or changed meanwhile: nothing to do
            except Exception:
                failed += 1
                log.exception("ticket %s: applying its queue's limits failed (tried again later)", ticket.id)
        return SweepReport(reprioritized, expired, failed)

    def _shortest_limit(self) -> float:
        """Seconds of the shortest wait limit of the served queues (max_wait_minutes, expiry)."""
        waits = [
            queue.max_wait_minutes * 60
            for pack in self.service.packs
            for queue in self.service.assistant(pack).pack.queues.values()
            if queue.max_wait_minutes
        ]
        return min([*waits, self.expire_after_seconds])

    def _overdue(self, ticket: Ticket, now: float) -> bool:
        if ticket.timed_out:
            return False
        try:
            queue = self.service.assistant(ticket.pack).pack.queues.get(ticket.queue)
        except LookupError:
            return False
        return bool(
            queue and queue.max_wait_minutes and now - ticket.queued_at >= queue.max_wait_minutes * 60
        )

    def _time_out(self, ticket: Ticket, now: float) -> None:
        queue = self.service.assistant(ticket.pack).pack.queues[ticket.queue]
        priority = queue.timeout_priority or ticket.priority
        entry = Entry(
            "reprioritized",
            SYSTEM,
            now,
            None,
            {
                "from": ticket.priority,
                "to": priority,
                "waited_minutes": round((now - ticket.queued_at) / 60, 1),
            },
        )

        def change(assistant: Assistant, tracker: Tracker) -> Ticket:
            # Under the conversation's lock: another worker's sweep may have timed it out since
            # `find` (the compare-and-set looks at status, agent and queue, not timed_out).
            if self.store.get(ticket.id).timed_out:
                raise TicketError("ticket_timed_out", f"ticket {ticket.id} was timed out meanwhile")
            changed = self._change(
                ticket,
                {"timed_out": True, "priority": priority, "updated_at": now},
                entry,
                _still_queued,
                None,
                "ticket.reprioritized",
            )
            if queue.timeout_message and tracker.state.handoff is not None:
                self._notice(
                    assistant, tracker, queue.timeout_message, {"queue": ticket.queue}, ticket.channel
                )
            return changed

        self._with_conversation(ticket, change)

    def _expire(self, ticket: Ticket, now: float) -> None:
        changes = {"status": TicketStatus.EXPIRED, "ended_at": now, "handback": "end", "updated_at": now}

        def change(assistant: Assistant, tracker: Tracker) -> Ticket:
            expired = self._change(
                ticket, changes, Entry("expired", SYSTEM, now), _still_queued, None, "ticket.expired"
            )
            if tracker.state.handoff is not None:
                self._notice(assistant, tracker, "handoff_expired", {}, ticket.channel)
                assistant.end_handoff(tracker, resume=False, channel=ticket.channel)
            return expired

        self._with_conversation(ticket, change)

    # -- reading -----------------------------------------------------------------------------------
    def view(self, ticket: Ticket) -> dict[str, Any]:
        """The console's view of a ticket: the ticket, its context packet, its timeline, the
        queues it may be transferred to and the resolution codes."""
        data = ticket.to_json(now=self.clock())
        data["context"] = ticket.context
        data["timeline"] = [entry.to_json() for entry in self.store.entries(ticket.id)]
        try:
            queues = sorted(self.service.assistant(ticket.pack).pack.queues)
        except LookupError:
            queues = []
        return {"ticket": data, "queues": queues, "resolutions": self.resolutions}

    def queues(self, agent: Agent) -> list[dict[str, Any]]:
        """The queues of every served pack that `agent` works, with their open tickets."""
        counts = self.store.counts()
        now = datetime.fromtimestamp(self.clock(), UTC)
        found = []
        for pack_name in self.service.packs:
            pack = self.service.assistant(pack_name).pack
            for name, queue in pack.queues.items():
                if not agent.works(pack_name, name):
                    continue
                found.append(
                    {
                        "pack": pack_name,
                        "name": name,
                        "description": queue.description,
                        "open": queue_is_open(queue, now),
                        "waiting": counts.get((pack_name, name, TicketStatus.QUEUED.value), 0),
                        "claimed": counts.get((pack_name, name, TicketStatus.CLAIMED.value), 0),
                        "max_wait_minutes": queue.max_wait_minutes,
                    }
                )
        return found

    # -- helpers -----------------------------------------------------------------------------------
    def _provisional(
        self, assistant: Assistant, tracker: Tracker, request: HandoffRequested, channel: str
    ) -> Ticket:
        """The ticket the request will open, for counting who is ahead of it."""
        now = request.timestamp
        return Ticket(
            id=2**62,
            pack=assistant.pack.name,
            sender_id=tracker.sender_id,
            channel=channel,
            handoff_seq=-1,
            queue=request.queue,
            reason=request.reason,
            priority=request.priority,
            status=TicketStatus.QUEUED,
            agent=None,
            context={},
            created_at=now,
            queued_at=now,
            updated_at=now,
        )

    def _open(
        self, assistant: Assistant, tracker: Tracker, seq: int, request: HandoffRequested, channel: str
    ) -> Ticket:
        context = dict(request.context)
        queue = tracker.state.handoff_queue or request.queue
        new = NewTicket(
            pack=assistant.pack.name,
            sender_id=tracker.sender_id,
            channel=_channel_of(tracker, seq, channel),
            handoff_seq=seq,
            queue=queue,
            reason=request.reason,
            priority=request.priority,
            context=context,
            created_at=request.timestamp,
        )
        entries = [
            Entry(
                "requested",
                SYSTEM,
                request.timestamp,
                None,
                {
                    "queue": request.queue,
                    "reason": request.reason,
                    "priority": request.priority,
                    "rule": request.rule,
                },
            )
        ]
        said = [
            e.text
            for e in tracker.events[seq + 1 :]
            if isinstance(e, BotUttered) and e.timestamp == request.timestamp and e.text
        ]
        if said:
            entries.append(Entry("wait_message", SYSTEM, request.timestamp, "\n".join(said)))
        ticket = self.store.open(new, entries, self._notify("ticket.created", None))
        log.info(
            "ticket %s opened: %s/%s in queue %s (%s, %s)",
            ticket.id,
            ticket.pack,
            ticket.sender_id,
            ticket.queue,
            ticket.reason,
            ticket.priority,
            extra={"ticket_id": ticket.id},
        )
        return ticket

    def _change(
        self,
        ticket: Ticket,
        changes: dict[str, Any],
        entry: Entry | None,
        check: Callable[[Ticket, str], None],
        agent: Agent | None,
        event: str | None,
    ) -> Ticket:
        """The compare-and-set; when another agent or worker was first, the error says what
        happened (re-checked on the ticket as it is now)."""
        try:
            return self.store.change(ticket, changes, entry, self._notify(event, agent) if event else None)
        except StaleTicket:
            now = self.store.get(ticket.id)
            check(now, agent.id if agent else "")
            raise TicketError(
                "ticket_changed", f"ticket {ticket.id} changed while you acted on it; look at it again"
            ) from None

    def _with_conversation(self, ticket: Ticket, change: Callable[[Assistant, Tracker], Ticket]) -> Ticket:
        """Run `change` on the ticket's conversation under its lock, store what it added, then
        push the new messages to the customer's open connections."""
        box: list[Ticket] = []

        def run(assistant: Assistant, tracker: Tracker) -> TurnResult:
            start = len(tracker.events)
            box.append(change(assistant, tracker))
            return TurnResult(tuple(tracker.events[start:]), None)

        result = self.service.apply(ticket.pack, ticket.sender_id, run)
        self.push(ticket, result.events)
        return box[0]

    def push(self, ticket: Ticket, events: tuple[Event, ...] | list[Event]) -> None:
        """Tell the customer's open connections (web chat) of the new messages, and send them to
        their messenger when the conversation is on one (`relay`)."""
        from engine.server.service import rest_message

        messages = [rest_message(ticket.sender_id, e) for e in events if isinstance(e, BotUttered)]
        if not messages:
            return
        self.live.publish(ticket.pack, ticket.sender_id, messages)
        if self.relay is not None:
            self.relay(ticket.pack, ticket.sender_id, ticket.channel, messages)

    def _notice(
        self,
        assistant: Assistant,
        tracker: Tracker,
        response: str,
        context: Mapping[str, Any],
        channel: str,
        at: float | None = None,
    ) -> None:
        assistant.notice(
            tracker, response, context, channel=channel, default=DEFAULT_NOTICES.get(response), at=at
        )

    def _usual_wait_minutes(self, pack: str, queue: str, position: int) -> int | None:
        """Minutes the customer may expect to wait: the median claim wait of the queue's latest
        tickets, times their place in the queue (None without history)."""
        waits = self.store.claim_seconds(pack, queue, limit=WAIT_SAMPLE)
        if len(waits) < 3:
            return None
        return max(1, round(statistics.median(waits) * position / 60))

    def _notify(self, event: str | None, agent: Agent | None) -> Notify:
        config = self.webhook
        if event is None or config is None:
            return None
        from engine.handoff.webhook import notification, wants

        if not wants(config, event):
            return None
        at = self.clock()
        agent_id = agent.id if agent else None
        return lambda ticket: notification(event, ticket, at=at, agent=agent_id)


def request_seq(tracker: Tracker) -> int | None:
    """The position of the open handoff's request in the conversation (None when not paused)."""
    if tracker.state.handoff is None:
        return None
    for index in range(len(tracker.events) - 1, -1, -1):
        if isinstance(tracker.events[index], HandoffRequested):
            return index
    return None


def _current_ticket(tracker: Tracker, latest: Ticket | None) -> Ticket | None:
    """The ticket of the conversation's open handoff request, if `latest` is it (a request made
    in this turn, or one whose ticket was never opened, has none yet)."""
    seq = request_seq(tracker)
    if seq is None or latest is None or latest.handoff_seq != seq:
        return None
    return latest


def _said_in_this_wait(tracker: Tracker, response: str) -> bool:
    """Whether `response` was said since the handoff was requested (or last transferred)."""
    seq = request_seq(tracker)
    if seq is None:
        return False
    events = tracker.events
    start = next(
        (i for i in range(len(events) - 1, seq, -1) if isinstance(events[i], HandoffTransferred)), seq
    )
    return any(isinstance(e, BotUttered) and e.response == response for e in events[start:])


def _channel_of(tracker: Tracker, seq: int, channel: str) -> str:
    """The channel of the customer's latest message before the request."""
    for event in reversed(tracker.events[:seq]):
        if isinstance(event, UserUttered) and event.input_channel:
            return event.input_channel
    return channel


def _still_queued(ticket: Ticket, _agent: str) -> None:
    check_open(ticket)
    if ticket.status is not TicketStatus.QUEUED:
        raise TicketError("ticket_claimed", f"ticket {ticket.id} was claimed meanwhile")


def _text(text: str, what: str) -> str:
    text = text.strip()
    if not text:
        raise TicketError("empty_text", f"the {what} is empty", status=422)
    if len(text) > MAX_TEXT_CHARS:
        raise TicketError(
            "text_too_long",
            f"a {what} may have at most {MAX_TEXT_CHARS} characters; got {len(text)}",
            status=422,
        )
    return text


def _optional_text(text: str | None) -> str | None:
    return None if text is None or not text.strip() else _text(text, "note")
