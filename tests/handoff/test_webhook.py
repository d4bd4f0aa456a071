"""The outbound helpdesk webhook, against a real HTTP receiver on 127.0.0.1.

The receiver answers from a script of statuses; a fake clock makes retries due without sleeping.
"""

from __future__ import annotations

import dataclasses
import email.utils
import json
import logging
import random
import re
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

import engine.handoff.webhook as webhook_module
from engine import __version__
from engine.config import WebhookConfig
from engine.handoff.store import DELIVERY_LEASE, Delivery, InMemoryTicketStore, Notification
from engine.handoff.tickets import NewTicket, Ticket, TicketStatus
from engine.handoff.webhook import (
    BACKOFF_CAP,
    WEBHOOK_EVENTS,
    WebhookDispatcher,
    backoff,
    notification,
    sign,
    verify,
    wants,
)

NOW = 1_800_000_000.0
SECRET = b"s3cret-shared-with-the-helpdesk"
CUSTOMER_TEXT = "my card 4111 was charged twice, Zoë"


# -- the fake receiver -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A real HTTP server that records each request and answers from `script` (then 200)."""

    def __init__(self) -> None:
        self.script: list[Answer] = []
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                    answer = receiver.script.pop(0) if receiver.script else Answer(200)
                time.sleep(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                return None  # the client gave up (a timeout test): nothing to report

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks/parley"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(2)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Desk:
    """The store, clock and dispatchers of one test."""

    store: InMemoryTicketStore
    clock: Clock
    url: str
    dispatchers: list[WebhookDispatcher] = field(default_factory=list)
    handoffs: int = 0

    def dispatcher(self, **config: Any) -> WebhookDispatcher:
        settings: dict[str, Any] = {"url": self.url, "events": ["*"], "timeout": 2.0, "max_attempts": 4}
        dispatcher = WebhookDispatcher(
            self.store,
            WebhookConfig(**{**settings, **config}),
            SECRET,
            clock=self.clock,
            rng=random.Random(7),
        )
        self.dispatchers.append(dispatcher)
        return dispatcher

    def queue_created(self, *, at: float | None = None) -> Ticket:
        """Open a ticket with its ticket.created notification queued in the outbox."""
        self.handoffs += 1
        new = NewTicket(
            pack="retail",
            sender_id=f"customer-{self.handoffs}",
            channel="rest",
            handoff_seq=1,
            queue="billing",
            reason="customer_asked",
            priority="normal",
            context={"last_messages": [{"text": CUSTOMER_TEXT}], "slots": {"order_id": "B20417"}},
            created_at=self.clock.now if at is None else at,
        )
        # The store makes the notification from the ticket it opened, id included.
        return self.store.open(
            new, [], lambda ticket: notification("ticket.created", ticket, at=new.created_at)
        )

    def delivery(self) -> Delivery:
        (latest, *_) = self.store.deliveries(limit=1)
        return latest


def _ticket_of(new: NewTicket, ticket_id: int) -> Ticket:
    return Ticket(
        id=ticket_id,
        status=TicketStatus.QUEUED,
        agent=None,
        queued_at=new.created_at,
        updated_at=new.created_at,
        **dataclasses.asdict(new),
    )


@pytest.fixture
def desk(receiver: Receiver) -> Iterator[Desk]:
    test_desk = Desk(InMemoryTicketStore(), Clock(), receiver.url)
    yield test_desk
    for dispatcher in test_desk.dispatchers:
        dispatcher.stop()


# -- the notification and the signature ----------------------------------------------------------
def test_webhook_notification_body_carries_the_ticket_and_its_context() -> None:
    new = NewTicket("retail", "c1", "rest", 1, "billing", "asked", "high", {"note": CUSTOMER_TEXT}, NOW)
    ticket = _ticket_of(new, 7)
    made = notification("ticket.claimed", ticket, at=NOW + 5, agent="ana", detail={"from": "billing"})

    body = json.loads(made.payload)
    assert (made.event, made.ticket_id) == ("ticket.claimed", 7)
    assert re.fullmatch(r"[0-9a-f]{32}", body["id"])
    assert body["event"] == "ticket.claimed"
    assert body["occurred_at"] == NOW + 5
    assert (body["agent"], body["detail"]) == ("ana", {"from": "billing"})
    assert body["ticket"] == {**ticket.to_json(), "context": {"note": CUSTOMER_TEXT}}
    assert "Zoë" in made.payload and ", " not in made.payload.replace(CUSTOMER_TEXT, "")
    assert json.loads(notification("ticket.claimed", ticket, at=NOW).payload)["id"] != body["id"]


def test_webhook_notification_refuses_an_unknown_event() -> None:
    ticket = _ticket_of(NewTicket("p", "c", "rest", 1, "q", "r", "normal", {}, NOW), 1)
    with pytest.raises(ValueError, match=r"ticket\.claimed") as raised:
        notification("ticket.opened", ticket, at=NOW)
    assert "'ticket.opened'" in str(raised.value)


def test_webhook_signature_verifies_only_with_the_shared_secret_body_and_a_fresh_timestamp() -> None:
    body = b'{"id":"abc","event":"ticket.created"}'
    stamp = int(NOW)
    signature = sign(SECRET, stamp, body)

    assert re.fullmatch(r"sha256=[0-9a-f]{64}", signature)
    assert verify(SECRET, str(stamp), signature, body, now=NOW + 10)
    assert not verify(b"another secret", str(stamp), signature, body, now=NOW)
    assert not verify(SECRET, str(stamp), signature, body + b" ", now=NOW)
    assert not verify(SECRET, str(stamp + 1), signature, body, now=NOW)
    assert not verify(SECRET, str(stamp), signature, body, now=NOW + 301)
    assert not verify(SECRET, str(stamp), signature, body, now=NOW - 301)
    assert verify(SECRET, str(stamp), signature, body, now=NOW + 60, tolerance=60)
    assert not verify(SECRET, None, signature, body, now=NOW)
    assert not verify(SECRET, str(stamp), None, body, now=NOW)
    assert not verify(SECRET, "soon", signature, body, now=NOW)
    assert not verify(SECRET, str(stamp), "sha256=é", body, now=NOW)


def test_webhook_wants_star_or_the_listed_events() -> None:
    every = WebhookConfig(url="https://h.example/x", events=["*"])
    some = WebhookConfig(url="https://h.example/x", events=["ticket.created", "ticket.closed"])

    assert all(wants(every, event) for event in WEBHOOK_EVENTS)
    assert wants(some, "ticket.closed") and wants(some, "ticket.created")
    assert not wants(some, "ticket.claimed")
    assert wants(WebhookConfig(url="https://h.example/x"), "ticket.created")


def test_webhook_backoff_doubles_from_2_seconds_with_jitter_and_is_capped() -> None:
    rng = random.Random(3)
    waits = [backoff(attempt, rng) for attempt in range(1, 16)]

    for attempt, wait in enumerate(waits, start=1):
        base = min(BACKOFF_CAP, 2.0 * 2 ** (attempt - 1))
        assert 0.8 * base <= wait <= min(BACKOFF_CAP, 1.2 * base), (attempt, wait)
    assert waits[:9] == sorted(waits[:9])  # ±20% never overlaps a doubling
    assert max(waits) <= BACKOFF_CAP == 900
    assert len(set(waits)) == len(waits)  # jittered, even at the cap
    assert [backoff(a, random.Random(3)) for a in (1, 2)] == [backoff(a, random.Random(3)) for a in (1, 2)]
    assert backoff(1000, rng) <= BACKOFF_CAP
    with pytest.raises(ValueError, match="1 or more"):
        backoff(0)


# -- delivery --------------------------------------------------------------------------------------
def test_webhook_posts_the_queued_payload_with_exact_headers(desk: Desk, receiver: Receiver) -> None:
    ticket = desk.queue_created()
    queued = desk.delivery()

    assert desk.dispatcher().deliver_due() == 1

    (request,) = receiver.received
    body = json.loads(queued.payload)
    assert request.path == "/hooks/parley"
    assert request.body == queued.payload.encode("utf-8")
    assert body["ticket"]["id"] == ticket.id == queued.ticket_id
    headers = request.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == f"Parley/{__version__}"
    assert headers["X-Parley-Event"] == "ticket.created"
    assert headers["X-Parley-Delivery"] == body["id"]
    assert headers["X-Parley-Timestamp"] == str(int(NOW))
    assert headers["X-Parley-Signature"] == sign(SECRET, int(NOW), request.body)
    assert verify(SECRET, headers["X-Parley-Timestamp"], headers["X-Parley-Signature"], request.body, now=NOW)
    done = desk.delivery()
    assert (done.state, done.attempts, done.last_error) == ("delivered", 1, None)
    assert desk.dispatcher().deliver_due() == 0


def test_webhook_receiver_example_in_the_docstring_accepts_a_real_delivery(receiver: Receiver) -> None:
    store = InMemoryTicketStore()
    desk = Desk(store, Clock(time.time()), receiver.url)
    desk.queue_created()
    dispatcher = WebhookDispatcher(store, WebhookConfig(url=receiver.url), SECRET)  # the real clock
    try:
        dispatcher.deliver_due()
    finally:
        dispatcher.stop()
    example = re.search(r"```python\n(.*?)```", webhook_module.__doc__ or "", re.DOTALL)
    assert example is not None
    namespace: dict[str, Any] = {}
    exec(textwrap.dedent(example.group(1)), namespace)
    is_from_parley: Callable[[bytes, dict[str, str], bytes], bool] = namespace["is_from_parley"]

    (request,) = receiver.received
    assert is_from_parley(SECRET, request.headers, request.body)
    assert not is_from_parley(b"wrong", request.headers, request.body)
    assert not is_from_parley(SECRET, request.headers, request.body.replace(b"billing", b"sales"))


def test_webhook_retries_a_500_then_delivers_with_the_same_delivery_id(
    desk: Desk, receiver: Receiver
) -> None:
    receiver.script += [Answer(500), Answer(503, {"Retry-After": "1"}), Answer(200)]
    desk.queue_created()
    dispatcher = desk.dispatcher()

    assert dispatcher.deliver_due() == 1
    first = desk.delivery()
    assert (first.state, first.attempts, first.last_error) == ("pending", 1, "HTTP 500 Internal Server Error")
    assert 1.6 <= first.next_attempt_at - NOW <= 2.4
    assert dispatcher.deliver_due() == 0  # not due yet

    desk.clock.now = first.next_attempt_at
    assert dispatcher.deliver_due() == 1
    second = desk.delivery()
    assert (second.state, second.attempts) == ("pending", 2)
    assert second.last_error is not None and second.last_error.startswith("HTTP 503")
    assert 3.2 <= second.next_attempt_at - desk.clock.now <= 4.8  # Retry-After 1 s is shorter

    desk.clock.now = second.next_attempt_at
    assert dispatcher.deliver_due() == 1
    done = desk.delivery()
    assert (done.state, done.attempts, done.last_error) == ("delivered", 3, None)
    assert len({r.headers["X-Parley-Delivery"] for r in receiver.received}) == 1
    assert len({r.body for r in receiver.received}) == 1
    assert [r.headers["X-Parley-Timestamp"] for r in receiver.received] == [
        str(int(t)) for t in (NOW, first.next_attempt_at, second.next_attempt_at)
    ]


@pytest.mark.parametrize(
    ("status", "retry_after", "wait"),
    [
        pytest.param(503, "120", 120.0, id="503-seconds"),
        pytest.param(429, "90", 90.0, id="429-seconds"),
        pytest.param(429, "7200", 3600.0, id="capped-at-an-hour"),
        pytest.param(429, email.utils.formatdate(NOW + 600, usegmt=True), 600.0, id="http-date"),
        pytest.param(429, "Fri, 01 Jan 2100 00:00:00 GMT", 3600.0, id="http-date-capped"),
        pytest.param(502, "120", None, id="only-429-and-503"),
        pytest.param(429, "soon", None, id="unreadable"),
    ],
)
def test_webhook_honours_a_longer_retry_after(
    desk: Desk, receiver: Receiver, status: int, retry_after: str, wait: float | None
) -> None:
    receiver.script.append(Answer(status, {"Retry-After": retry_after}))
    desk.queue_created()

    desk.dispatcher().deliver_due()

    delivery = desk.delivery()
    assert delivery.state == "pending"
    if wait is None:
        assert 1.6 <= delivery.next_attempt_at - NOW <= 2.4  # the backoff
    else:
        assert delivery.next_attempt_at - NOW == wait


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 410, 413, 422, 451])
def test_webhook_refused_status_fails_at_once(
    desk: Desk, receiver: Receiver, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    receiver.script.append(Answer(status))
    desk.queue_created()
    dispatcher = desk.dispatcher()

    with caplog.at_level(logging.WARNING, logger="engine.handoff.webhook"):
        assert dispatcher.deliver_due() == 1
    desk.clock.now += 3600
    assert dispatcher.deliver_due() == 0

    failed = desk.delivery()
    assert (failed.state, failed.attempts) == ("failed", 1)
    assert failed.last_error is not None and failed.last_error.startswith(f"HTTP {status}")
    assert len(receiver.received) == 1
    (record,) = caplog.records
    assert record.levelno == logging.ERROR
    assert "not retried" in record.getMessage()
    if status in (401, 403):
        assert "check that both sides use the same secret" in record.getMessage()
        assert "PARLEY_HANDOFF_WEBHOOK_SECRET" in record.getMessage()


@pytest.mark.parametrize("status", [301, 307, 408, 425, 429, 500, 502, 504])
def test_webhook_retryable_status_is_retried(desk: Desk, receiver: Receiver, status: int) -> None:
    receiver.script.append(Answer(status, {"Location": "https://elsewhere.example/"}))
    desk.queue_created()

    desk.dispatcher().deliver_due()

    delivery = desk.delivery()
    assert (delivery.state, delivery.attempts) == ("pending", 1)
    assert len(receiver.received) == 1  # a redirect is not followed


def test_webhook_gives_up_after_max_attempts_and_keeps_the_last_error(
    desk: Desk, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.script += [Answer(500), Answer(502), Answer(504), Answer(200)]
    desk.queue_created()
    dispatcher = desk.dispatcher(max_attempts=3)

    with caplog.at_level(logging.WARNING, logger="engine.handoff.webhook"):
        for _ in range(3):
            assert dispatcher.deliver_due() == 1
            desk.clock.now += 3600
    assert dispatcher.deliver_due() == 0

    failed = desk.delivery()
    assert (failed.state, failed.attempts, failed.last_error) == ("failed", 3, "HTTP 504 Gateway Timeout")
    assert len(receiver.received) == 3
    assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING", "ERROR"]
    assert "attempt 3 of 3" in caplog.records[-1].getMessage()
    assert "giving up" in caplog.records[-1].getMessage()


def test_webhook_connection_refused_is_retried_and_logged_without_the_payload(
    desk: Desk, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.stop()
    desk.queue_created()

    with caplog.at_level(logging.WARNING, logger="engine.handoff.webhook"):
        assert desk.dispatcher().deliver_due() == 1

    delivery = desk.delivery()
    assert (delivery.state, delivery.attempts) == ("pending", 1)
    assert delivery.last_error == "ConnectionError: connection refused"
    (record,) = caplog.records
    message = record.getMessage()
    assert record.levelno == logging.WARNING
    body_id = json.loads(delivery.payload)["id"]
    for expected in (
        f"delivery {delivery.id}",
        body_id,
        "ticket.created",
        "ConnectionError",
        "attempt 1 of 4",
    ):
        assert expected in message
    assert CUSTOMER_TEXT not in caplog.text and "B20417" not in caplog.text


def test_webhook_timeout_is_retried(desk: Desk, receiver: Receiver) -> None:
    receiver.script.append(Answer(200, delay=0.6))
    desk.queue_created()

    desk.dispatcher(timeout=0.2).deliver_due()

    delivery = desk.delivery()
    assert (delivery.state, delivery.attempts) == ("pending", 1)
    assert delivery.last_error == "ReadTimeout: no answer within 0.2 s"


def test_webhook_payload_that_is_not_a_notification_fails_without_raising(desk: Desk) -> None:
    desk.store.open(
        _new_ticket("c9"), [], Notification(event="ticket.created", ticket_id=None, payload="not json")
    )

    assert desk.dispatcher().deliver_due() == 1

    failed = desk.delivery()
    assert (failed.state, failed.attempts) == ("failed", 0)
    assert failed.last_error is not None and "not a notification" in failed.last_error


def test_webhook_dispatcher_uses_a_given_session_and_leaves_it_open(desk: Desk, receiver: Receiver) -> None:
    desk.queue_created()
    with requests.Session() as session:
        dispatcher = WebhookDispatcher(
            desk.store, WebhookConfig(url=receiver.url), SECRET, session=session, clock=desk.clock
        )
        dispatcher.deliver_due()
        dispatcher.stop()
        assert session.post(receiver.url, data=b"{}", timeout=2).status_code == 200
    assert desk.delivery().state == "delivered"


# -- configuration -------------------------------------------------------------------------------
def test_webhook_from_config_reads_the_secret_from_the_environment(desk: Desk, receiver: Receiver) -> None:
    config = WebhookConfig(url=receiver.url, secret_variable="HELPDESK_SECRET")
    desk.queue_created(at=time.time())  # from_config dispatchers use the real clock
    dispatcher = WebhookDispatcher.from_config(desk.store, config, {"HELPDESK_SECRET": "from-env"})
    try:
        dispatcher.deliver_due()
    finally:
        dispatcher.stop()

    (request,) = receiver.received
    stamp, signature = request.headers["X-Parley-Timestamp"], request.headers["X-Parley-Signature"]
    assert verify(b"from-env", stamp, signature, request.body, now=int(stamp))


@pytest.mark.parametrize(
    ("config", "environ", "message"),
    [
        pytest.param(
            {},
            {},
            r"environment variable PARLEY_HANDOFF_WEBHOOK_SECRET, which is not set.*export",
            id="missing",
        ),
        pytest.param(
            {"secret_variable": "HD"},
            {"HD": ""},
            r"variable HD, which is empty.*export HD=",
            id="empty-secret",
        ),
        pytest.param(
            {"url": "ftp://helpdesk.example/in"}, {"PARLEY_HANDOFF_WEBHOOK_SECRET": "x"}, "http://", id="ftp"
        ),
        pytest.param(
            {"url": "https:///hook"}, {"PARLEY_HANDOFF_WEBHOOK_SECRET": "x"}, "with a host", id="no-host"
        ),
        pytest.param(
            {"url": "helpdesk.example/hook"},
            {"PARLEY_HANDOFF_WEBHOOK_SECRET": "x"},
            "https://",
            id="no-scheme",
        ),
        pytest.param(
            {"events": ["ticket.opened"]},
            {"PARLEY_HANDOFF_WEBHOOK_SECRET": "x"},
            r"unknown event\(s\) 'ticket\.opened'.*ticket\.created",
            id="unknown-event",
        ),
    ],
)
def test_webhook_from_config_errors_teach(
    config: dict[str, Any], environ: dict[str, str], message: str
) -> None:
    settings = {"url": "https://helpdesk.example/hooks/parley", **config}
    with pytest.raises(ValueError, match=message):
        WebhookDispatcher.from_config(InMemoryTicketStore(), WebhookConfig(**settings), environ)


# -- the background thread -----------------------------------------------------------------------
class FlakyStore(InMemoryTicketStore):
    """Its outbox cannot be read the first time (a database that is restarting)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def due_deliveries(self, now: float, *, limit: int = 50, lease: float = DELIVERY_LEASE) -> list[Delivery]:
        self.reads += 1
        if self.reads == 1:
            raise ConnectionError("database restarting")
        return super().due_deliveries(now, limit=limit, lease=lease)


def test_webhook_background_thread_delivers_and_stops_cleanly(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    store = FlakyStore()
    dispatcher = WebhookDispatcher(store, WebhookConfig(url=receiver.url), SECRET)
    desk = Desk(store, Clock(time.time()), receiver.url)

    with caplog.at_level(logging.ERROR, logger="engine.handoff.webhook"):
        dispatcher.start(interval=0.05)
        try:
            with pytest.raises(RuntimeError, match="already running"):
                dispatcher.start()
            desk.queue_created()
            deadline = time.monotonic() + 5
            while desk.delivery().state != "delivered" and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            dispatcher.stop(timeout=5)

    assert desk.delivery().state == "delivered"
    assert len(receiver.received) == 1
    assert "reading or updating the outbox failed" in caplog.text
    assert not any(t.name == "parley-webhook" for t in threading.enumerate())


def _new_ticket(sender_id: str) -> NewTicket:
    return NewTicket("retail", sender_id, "rest", 1, "billing", "asked", "normal", {}, NOW)


class _HangingReceiver:
    """A session whose every POST times out after the configured timeout, on the test's clock;
    `during` runs inside each POST (another worker's dispatcher looking for due work)."""

    def __init__(self, clock: Clock, timeout: float, during: Callable[[], None]) -> None:
        self.clock, self.timeout, self.during = clock, timeout, during
        self.posts = 0

    def post(self, *_: Any, **__: Any) -> requests.Response:
        self.posts += 1
        self.clock.now += self.timeout
        self.during()
        raise requests.Timeout("the receiver did not answer")

    def close(self) -> None:
        pass


@pytest.mark.parametrize("timeout", [10.0, 120.0])
def test_webhook_batch_is_sent_within_its_lease_so_no_other_worker_sends_it(
    desk: Desk, timeout: float
) -> None:
    for _ in range(50):
        desk.queue_created()
    taken_untried: set[int] = set()  # by another worker, before anyone had sent them

    def other_worker_looks() -> None:
        due = desk.store.due_deliveries(desk.clock.now, limit=50)
        taken_untried.update(d.id for d in due if d.attempts == 0)

    hanging = _HangingReceiver(desk.clock, timeout, other_worker_looks)
    config = WebhookConfig(url=desk.url, events=["*"], timeout=timeout)
    first = WebhookDispatcher(desk.store, config, SECRET, session=hanging, clock=desk.clock)  # type: ignore[arg-type]

    attempted = first.deliver_due()

    assert attempted == hanging.posts == first.batch_size() == int(DELIVERY_LEASE // (timeout + 5))
    tried = {d.id for d in desk.store.deliveries(limit=100) if d.attempts}
    assert len(tried) == attempted
    assert not tried & taken_untried


def test_webhook_stopping_dispatcher_leaves_what_it_did_not_try_due_at_once(desk: Desk) -> None:
    for _ in range(3):
        desk.queue_created()
    stopping = threading.Event()
    hanging = _HangingReceiver(desk.clock, 2.0, stopping.set)
    config = WebhookConfig(url=desk.url, events=["*"], timeout=2.0)
    dispatcher = WebhookDispatcher(desk.store, config, SECRET, session=hanging, clock=desk.clock)  # type: ignore[arg-type]

    assert dispatcher._deliver_batch(50, stopping) == 1

    untried = [d for d in desk.store.deliveries(limit=10) if d.attempts == 0]
    assert len(untried) == 2
    assert [d.id for d in desk.store.due_deliveries(desk.clock.now)] == sorted(d.id for d in untried)
