"""The messenger connectors' webhooks, `/webhooks/<name>/webhook`, and what happens after.

A platform's request is verified first (a request that fails is answered 401/403, logged
without its content and never read further), then handshakes are answered, then its messages are
recorded in the inbox (engine.channels.inbox) and only then is the platform answered: fast
(Slack wants an answer within 3 s) and never before the message is safe. A delivery seen before
is answered the same and not processed again.

Recorded messages are processed in the background, one conversation's messages in the order
they came: a digit answering numbered options becomes the option's payload, the turn runs like
any channel's (`TurnRunner.message`, with the platform's id as `message_id`), and the replies are
rendered for the platform and sent by the connector's `Sender`. A conversation that stays busy
or a store that fails leaves the message pending, tried again by the sweeper; messages a worker
died holding are taken over when their lease ends. Replies that cannot be delivered are recorded
in the conversation as a `delivery_failed` event.

Agents' messages (and the bot's, when an agent hands a conversation back) reach messenger
customers through `relay`, which the handoff desk calls: in order per conversation, on a small
pool of threads so an agent never waits for a platform.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request, Response

from engine.channels.base import Answer, Inbound, Malformed, Rejected, WebhookRequest
from engine.channels.inbox import LEASE_SECONDS, RETENTION_SECONDS, Inbox, InboxItem, InMemoryInbox
from engine.channels.registry import Channel
from engine.channels.text import buttons_of, chosen_option, is_option_number
from engine.dialogue.events import BotUttered, DeliveryFailed, UserUttered
from engine.dialogue.runtime import Assistant, TurnResult
from engine.dialogue.tracker import Tracker
from engine.server.errors import ConversationBusy, error_response
from engine.server.metrics import Metrics
from engine.server.schemas import MAX_MESSAGE_CHARS
from engine.server.service import ConversationService, UnknownPack, rest_message
from engine.server.turns import TurnFailed, TurnRunner
from engine.stores.base import StoreError

log = logging.getLogger("engine.server.channels")

#: Attempts at a message whose turn keeps failing (busy conversation, store down, a bug) before
#: it is given up (logged, counted, left in the inbox as failed).
MAX_TURN_ATTEMPTS = 8
#: Seconds before a pending message is tried again: 2, 4, 8 ... capped.
RETRY_CAP_SECONDS = 300.0
#: Threads sending relayed messages (agents' replies) to platforms.
RELAY_THREADS = 4
#: Threads sending the replies of turns (they may wait out a platform's Retry-After).
SEND_THREADS = 16
#: Seconds of a message's lease kept back when its replies are sent (marking it done).
SEND_MARGIN_SECONDS = 10.0
#: Threads verifying requests (Bot Framework may fetch its keys) and recording messages.
INTAKE_THREADS = 8
#: The metadata key of a user event that holds the connector's reply address.
ADDRESS_KEY = "address"


@dataclass(frozen=True)
class ChannelSetup:
    """The connectors that are on (name -> Channel), where their messages are recorded, and the
    clock verification and the inbox use (tests give a fake one)."""

    channels: Mapping[str, Channel] = field(default_factory=dict)
    inbox: Inbox = field(default_factory=InMemoryInbox)
    clock: Callable[[], float] = time.time
    #: How often the sweeper looks for messages due again.
    sweep_seconds: float = 5.0


class ChannelHub:
    def __init__(self, setup: ChannelSetup, turns: TurnRunner, metrics: Metrics) -> None:
        self.channels = dict(setup.channels)
        self.inbox = setup.inbox
        self.clock = setup.clock
        self.sweep_seconds = setup.sweep_seconds
        self.turns = turns
        self.metrics = metrics
        self._tasks: set[asyncio.Task[None]] = set()
        self._order: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}
        self._sends = anyio.CapacityLimiter(SEND_THREADS)
        #: Threads verifying and recording webhooks: not the turns' threads, so a burst of slow
        #: turns never delays the platforms' acknowledgements.
        self._intake = anyio.CapacityLimiter(INTAKE_THREADS)
        self._relays = _KeyedSerialExecutor(RELAY_THREADS)
        self._last_prune = 0.0
        #: Inbox items this process has taken and not finished (released when it stops).
        self._taken: dict[int, InboxItem] = {}

    @property
    def service(self) -> ConversationService:
        return self.turns.service

    # -- inbound -------------------------------------------------------------------------------
    async def receive(self, name: str, request: WebhookRequest) -> Response:
        channel = self.channels.get(name)
        if channel is None:
            on = ", ".join(sorted(self.channels)) or "none"
            return error_response(
                404,
                "unknown_channel",
                f"no connector '{name}' is on here (on: {on}); switch it on under channels: in config.yml",
            )
        connector = channel.connector
        if request.method == "GET":
            return _response(connector.subscribe(request))
        try:
            await anyio.to_thread.run_sync(connector.verify, request, self.clock(), limiter=self._intake)
        except Rejected as rejected:
            return self._rejected(name, rejected)
        handshake = connector.challenge(request)
        if handshake is not None:
            return _response(handshake)
        try:
            messages = connector.parse(request)
        except Malformed as error:
            self.metrics.channel_messages.labels(name, "malformed").inc()
            log.warning("%s webhook: a verified request was not understood: %s", name, error)
            return error_response(400, "invalid_payload", f"not a {name} webhook payload: {error}")
        if messages:
            messages = [_storable(m) for m in messages]
            # Recorded before the answer: a platform that hears 200 may forget the message.
            new = await anyio.to_thread.run_sync(
                self.inbox.record, name, channel.pack, messages, self.clock(), limiter=self._intake
            )
            seen = len(messages) - len(new)
            self.metrics.channel_messages.labels(name, "received").inc(len(new))
            if seen:
                self.metrics.channel_messages.labels(name, "duplicate").inc(seen)
                log.info("%s webhook: %d delivery(ies) seen before, not processed again", name, seen)
            for item in new:
                self._spawn(self.process(item))
        return _response(connector.ack(request))

    def _rejected(self, name: str, rejected: Rejected) -> Response:
        """The answer to a request that failed verification: the reason goes to the log (for the
        operator), the caller learns only the status."""
        if rejected.status >= 500:  # we could not check it (Bot Framework's keys unavailable)
            log.error("%s webhook: could not verify a request: %s", name, rejected.reason)
            return error_response(
                rejected.status, "verification_unavailable", "the request cannot be verified now; try again"
            )
        self.metrics.channel_messages.labels(name, "rejected").inc()
        log.warning(
            "%s webhook: rejected a request (%s); it was not processed",
            name,
            rejected.reason,
            extra={"channel": name, "status": rejected.status},
        )
        if rejected.status == 401:
            return error_response(401, "unauthorized", f"the request carries no {name} credentials")
        return error_response(rejected.status, "forbidden", f"the request's {name} credentials are not valid")

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def process(self, item: InboxItem) -> None:
        """Run the message's turn and send the replies; never raises (what fails is logged, and
        the message left pending or marked failed)."""
        key = (item.pack, item.inbound.sender_id)
        self._taken[item.id] = item
        lock, users = self._order.get(key, (asyncio.Lock(), 0))
        self._order[key] = (lock, users + 1)
        try:
            async with lock:
                await self._process(item)
        except Exception:
            log.exception("processing %s message %s failed", item.channel, item.inbound.message_id)
        finally:
            self._taken.pop(item.id, None)
            lock, users = self._order[key]
            if users <= 1:
                del self._order[key]
            else:
                self._order[key] = (lock, users - 1)

    async def _process(self, item: InboxItem) -> None:
        channel = self.channels.get(item.channel)
        name = item.channel
        if channel is None:  # switched off since it was recorded
            await self.turns.run(self._give_up, item, f"the {name} connector is no longer on")
            return
        inbound = item.inbound
        attempts = item.attempts + 1
        try:
            text = await self._choice(channel, item)
            reply = await self.turns.message(
                item.pack,
                inbound.sender_id,
                text,
                channel=name,
                metadata={**inbound.metadata, ADDRESS_KEY: dict(inbound.address)},
                message_id=f"{name}:{inbound.message_id}",
            )
        except UnknownPack as error:
            await self.turns.run(self._give_up, item, str(error))
            return
        except Exception as error:  # busy, store down, a failing turn: tried again later
            if not isinstance(error, (ConversationBusy, StoreError, TurnFailed)):
                log.exception("%s message %s: the turn failed", name, inbound.message_id)
            await self.turns.run(self._later, item, attempts, _reason(error))
            return
        self.metrics.channel_messages.labels(name, "processed").inc()
        # Sent within the message's lease: after it, another worker may take the message over
        # and send the stored turn's replies again. A lease mostly used up (a long wait for the
        # conversation) is renewed first; a fresh one is not (no write per message).
        leased_until, now = item.leased_until, self.clock()
        if reply.messages and leased_until - now < LEASE_SECONDS / 2:
            leased_until = now + LEASE_SECONDS
            await self.turns.run(self.inbox.renew, item.id, leased_until)
        within = leased_until - now - SEND_MARGIN_SECONDS
        await self._send(channel, item.pack, inbound.sender_id, reply.messages, inbound.address, within)
        await self.turns.run(self.inbox.done, item.id, self.clock())

    async def _choice(self, channel: Channel, item: InboxItem) -> str:
        """The message's text, or the payload of the numbered option a bare digit chooses."""
        text = item.inbound.text
        if not is_option_number(text):  # only then is the conversation read
            return text
        tracker = await self.turns.run(self.service.tracker, item.pack, item.inbound.sender_id)
        message = _last_options(tracker)
        if message is None or not channel.connector.numbered(message):
            return text
        return chosen_option(text, buttons_of(message)) or text

    def _later(self, item: InboxItem, attempts: int, reason: str) -> None:
        if attempts >= MAX_TURN_ATTEMPTS:
            self._give_up(item, f"{reason} ({attempts} attempts)", attempts)
            return
        wait = min(RETRY_CAP_SECONDS, 2.0**attempts)
        self.metrics.channel_messages.labels(item.channel, "retried").inc()
        log.warning(
            "%s message %s: %s; trying again in %g s", item.channel, item.inbound.message_id, reason, wait
        )
        self.inbox.retry(item.id, attempts=attempts, at=self.clock() + wait, error=reason)

    def _give_up(self, item: InboxItem, reason: str, attempts: int | None = None) -> None:
        self.metrics.channel_messages.labels(item.channel, "failed").inc()
        log.error("%s message %s was given up: %s", item.channel, item.inbound.message_id, reason)
        self.inbox.failed(item.id, attempts=attempts or item.attempts + 1, now=self.clock(), error=reason)

    # -- outbound ------------------------------------------------------------------------------
    async def _send(
        self,
        channel: Channel,
        pack: str,
        sender_id: str,
        messages: Sequence[Mapping[str, Any]],
        address: Mapping[str, Any],
        within: float,
    ) -> None:
        # Rendered even without messages: a platform may want an answer of its own (Telegram
        # stops a clicked button's spinner with answerCallbackQuery).
        await anyio.to_thread.run_sync(
            partial(self.deliver, channel, pack, sender_id, messages, address, within=within),
            limiter=self._sends,
        )

    def deliver(
        self,
        channel: Channel,
        pack: str,
        sender_id: str,
        messages: Sequence[Mapping[str, Any]],
        address: Mapping[str, Any],
        *,
        within: float | None = None,
    ) -> bool:
        """Render and send `messages` (blocking), within `within` seconds when given; a failure
        is recorded in the conversation as a `delivery_failed` event. Returns whether everything
        was delivered."""
        name = channel.name
        try:
            calls = channel.connector.render(messages, address)
        except Exception as error:  # e.g. Bot Framework's token could not be had
            log.warning("%s: the replies could not be prepared: %s", name, error)
            self._record_failure(
                channel, pack, sender_id, f"{type(error).__name__}: {error}", len(messages), None
            )
            return False
        if not calls:
            return True
        result = channel.sender.send(channel.connector, calls, within=within)
        sends = self.metrics.channel_sends
        sends.labels(name, "sent").inc(result.calls)
        if result.retries:
            sends.labels(name, "retried").inc(result.retries)
        if result.ok:
            return True
        sends.labels(name, "failed").inc()
        if not messages:  # only the platform's own answer (a click's) failed: nothing was lost
            log.warning("%s: the answer to %s's click failed: %s", name, sender_id, result.error)
            return False
        undelivered = max(1, len(messages) - result.sent)
        log.warning("%s: %d message(s) to %s not delivered: %s", name, undelivered, sender_id, result.error)
        self._record_failure(channel, pack, sender_id, result.error or "", undelivered, result.status)
        return False

    def _record_failure(
        self, channel: Channel, pack: str, sender_id: str, error: str, undelivered: int, status: int | None
    ) -> None:
        event = DeliveryFailed(
            channel=channel.name,
            error=error[:500],
            undelivered=undelivered,
            status=status,
            timestamp=self.clock(),
        )

        def add(assistant: Assistant, tracker: Tracker) -> TurnResult:
            return TurnResult((event,), None)

        try:
            self.service.apply(pack, sender_id, add)
        except Exception:
            log.exception("could not record the failed delivery to %s/%s", pack, sender_id)

    def relay(
        self, pack: str, sender_id: str, channel_name: str, messages: Sequence[Mapping[str, Any]]
    ) -> None:
        """Send messages said outside the customer's turns (an agent's reply) to the platform the
        conversation is on; returns at once (sent in order, per conversation, on relay threads)."""
        channel = self.channels.get(channel_name)
        if channel is None or channel.pack != pack or not messages:
            return
        batch = list(messages)

        def send() -> None:
            address = self._address(pack, sender_id, channel_name)
            if address is None:
                log.warning("%s: no reply address known for %s; message not relayed", channel_name, sender_id)
                return
            self.deliver(channel, pack, sender_id, batch, channel.connector.later_address(address))

        def dropped() -> None:
            log.warning(
                "%s: the server stopped before %d message(s) to %s were sent",
                channel_name,
                len(batch),
                sender_id,
            )
            self._record_failure(
                channel, pack, sender_id, "the server stopped before sending", len(batch), None
            )

        self._relays.submit((pack, sender_id), send, dropped)

    def _address(self, pack: str, sender_id: str, channel_name: str) -> Mapping[str, Any] | None:
        for event in reversed(self.service.tracker(pack, sender_id).events):
            if isinstance(event, UserUttered) and event.input_channel == channel_name:
                address = event.metadata.get(ADDRESS_KEY)
                return address if isinstance(address, Mapping) else None
        return None

    # -- background ----------------------------------------------------------------------------
    async def sweep(self) -> int:
        """Process the messages due again (a busy conversation's, a dead worker's); prune old
        finished ones once an hour. Returns how many were taken."""
        now = self.clock()
        due = await self.turns.run(self.inbox.due, now)
        for item in due:
            if item.id not in self._taken:  # still being processed here (a long wait): not twice
                self._spawn(self.process(item))
        if now - self._last_prune > 3600:
            self._last_prune = now
            pruned = await self.turns.run(self.inbox.prune, now - RETENTION_SECONDS)
            if pruned:
                log.info("pruned %d finished messenger deliveries older than a week", pruned)
        return len(due)

    async def run_sweeper(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_seconds)
            try:
                await self.sweep()
            except Exception:
                log.exception(
                    "looking for due messenger messages failed (tried again in %g s)", self.sweep_seconds
                )

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until the messages being processed are done (tests, shutdown)."""
        with anyio.move_on_after(timeout):
            while self._tasks:
                await asyncio.wait(list(self._tasks))
        await anyio.to_thread.run_sync(self._relays.join, timeout)

    async def stop(self) -> None:
        """Finish what is under way for a few seconds; messages still unfinished are released
        (due at once) for the next server to take, instead of waiting out their lease."""
        await self.idle(timeout=5.0)
        for task in list(self._tasks):
            task.cancel()
        left = list(self._taken.values())
        if left:
            now = self.clock()
            try:
                for item in left:
                    self.inbox.retry(item.id, attempts=item.attempts, at=now, error="the server stopped")
            except Exception:
                log.exception("could not release %d unfinished messenger messages", len(left))
            else:
                log.info("released %d unfinished messenger message(s) for the next start", len(left))
        self._relays.shutdown()
        for channel in self.channels.values():
            channel.close()


class _KeyedSerialExecutor:
    """Runs submitted jobs on a thread pool, one at a time and in order for each key. Jobs still
    waiting when it shuts down (or submitted after) are not run: their `dropped` is called."""

    def __init__(self, threads: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="parley-relay")
        self._queues: dict[Any, deque[tuple[Callable[[], None], Callable[[], None]]]] = {}
        self._running: set[Any] = set()
        self._closed = False
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)

    def submit(self, key: Any, job: Callable[[], None], dropped: Callable[[], None]) -> None:
        with self._lock:
            if self._closed:
                closed = True
            else:
                closed = False
                queue = self._queues.get(key)
                if queue is not None:
                    queue.append((job, dropped))
                    return
                self._queues[key] = deque([(job, dropped)])
        if closed:
            _safely(dropped)
            return
        self._pool.submit(self._drain, key)

    def _drain(self, key: Any) -> None:
        with self._lock:
            self._running.add(key)
        while True:
            with self._lock:
                queue = self._queues[key]
                if not queue or self._closed:
                    left = list(queue)
                    del self._queues[key]
                    self._running.discard(key)
                    self._idle.notify_all()
                    break
                job = queue.popleft()[0]
            _safely(job)
        for _, dropped in left:
            _safely(dropped)

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._queues and (wait := deadline - time.monotonic()) > 0:
                self._idle.wait(wait)

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            waiting = [key for key in self._queues if key not in self._running]
            left = [entry for key in waiting for entry in self._queues.pop(key)]
        self._pool.shutdown(wait=False, cancel_futures=True)
        for _, dropped in left:
            _safely(dropped)


def _safely(job: Callable[[], None]) -> None:
    try:
        job()
    except Exception:
        log.exception("relaying a message failed")


def _last_options(tracker: Tracker) -> dict[str, Any] | None:
    """The bot's latest message, in the REST shape, if it offered buttons and the customer has
    not written since."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return None
        if isinstance(event, BotUttered) and (event.data.get("buttons") or event.data.get("quick_replies")):
            return rest_message(tracker.sender_id, event)
    return None


def _storable(message: Inbound) -> Inbound:
    """The message with text the engine accepts: no NUL, at most MAX_MESSAGE_CHARS characters
    (a platform allows more; the NLU reads the first 1,000 anyway)."""
    text = message.text.replace("\x00", "")[:MAX_MESSAGE_CHARS] or " "
    return message if text == message.text else replace(message, text=text)


def _reason(error: Exception) -> str:
    if isinstance(error, ConversationBusy):
        return "the conversation stayed busy"
    return str(error) or type(error).__name__


def _response(answer: Answer) -> Response:
    return Response(answer.body, status_code=answer.status, media_type=answer.media_type)


# -- the route -------------------------------------------------------------------------------
router = APIRouter(tags=["messenger connectors"])


@router.post("/webhooks/{name}/webhook")
async def webhook(name: str, request: Request) -> Response:
    """A messenger platform's webhook (telegram, slack, facebook, whatsapp, botframework,
    twilio): verified, recorded, answered at once, processed after. See docs/channels/."""
    return await _receive(name, request)


@router.get("/webhooks/{name}/webhook")
async def webhook_subscription(name: str, request: Request) -> Response:
    """A platform checking the webhook when it is registered (Messenger's and WhatsApp's
    `hub.challenge`)."""
    return await _receive(name, request)


async def _receive(name: str, request: Request) -> Response:
    hub: ChannelHub = request.app.state.channels
    body = await request.body() if request.method == "POST" else b""
    incoming = WebhookRequest(
        method=request.method,
        url=str(request.url),
        headers={k.lower(): v for k, v in request.headers.items()},
        query=dict(request.query_params),
        body=body,
    )
    return await hub.receive(name, incoming)
