"""The outbound helpdesk webhook: ticket events POSTed as signed JSON to an external helpdesk.

A ticket change that the configuration `wants` queues a notification (built by `notification`) in
the ticket store's outbox, in the same transaction as the change. `WebhookDispatcher` takes due
notifications from the outbox, POSTs them and records the outcome; a background thread
(`start`/`stop`) does this every second.

What a receiver implements
--------------------------
Each notification is one `POST` to `handoff.webhook.url` with a JSON body::

    {"id": "<32 hex digits>", "event": "ticket.created", "occurred_at": 1800000000.5,
     "agent": null, "detail": {}, "ticket": {"id": 7, "status": "queued", ..., "context": {...}}}

and these headers:

- `X-Parley-Event`: the event (`ticket.created`, `ticket.claimed`, `ticket.transferred`,
  `ticket.handed_back`, `ticket.closed`, `ticket.expired`, `ticket.reprioritized`).
- `X-Parley-Delivery`: the body's `id`. It is the same on every attempt of one notification:
  deduplicate on it, because a notification whose answer was lost (a timeout) is sent again.
- `X-Parley-Timestamp`: when this attempt was signed, in unix seconds (an integer).
- `X-Parley-Signature`: `sha256=<hex>`, the HMAC-SHA256 of `<timestamp>.<body>` (the timestamp
  header, a dot, then the body's bytes exactly as received) keyed with the shared secret.
- `Content-Type: application/json` (UTF-8) and `User-Agent: Parley/<engine version>`.

Check the signature before trusting the body; in Python (or use `verify` from this module):

```python
import hashlib, hmac, time

def is_from_parley(secret: bytes, headers, body: bytes) -> bool:
    stamp, signature = headers["X-Parley-Timestamp"], headers["X-Parley-Signature"]
    expected = "sha256=" + hmac.new(secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return abs(time.time() - int(stamp)) <= 300 and hmac.compare_digest(expected, signature)
```

Refuse timestamps more than 5 minutes away from your clock (a replayed request), compare in
constant time, then answer 2xx quickly (within `handoff.webhook.timeout`, 10 s by default) and do
slow work afterwards. Notifications may arrive out of order (a retried `ticket.created` after the
`ticket.claimed` that followed it): order them by `occurred_at`, or trust `ticket.status`. The
ticket's context packet has had personal data redacted by the engine.

Redirects are not followed (the signed body is never sent to an address nobody configured): point
the URL at the final address.

Retries
-------
- 2xx: delivered.
- 3xx, 408, 425, 429, 5xx, no connection, or no answer within the timeout: tried again later,
  until `handoff.webhook.max_attempts` attempts have been made.
- any other 4xx (400, 401, 403, 404, 410, 422, ...): failed at once, since retrying cannot help;
  the error log says what to fix (a 401 or 403 usually means the two sides' secrets differ).

After the n-th failed attempt the next one waits `backoff(n)`: 2 s, 4 s, 8 s, ... doubling up to
15 minutes (never more), each ±20% at random so that many notifications do not retry in step.
A 429 or 503 with a longer `Retry-After` (seconds or an HTTP date) waits that long instead, at
most an hour. With the default `max_attempts` of 20 the attempts reach the 15-minute cap from the
10th and span about 2.5 hours; 8 attempts are spread over about 4 minutes (2 + 4 + ... + 128 s).

"Failed" means given up: the notification stays in the outbox with its attempts and its last error
(`TicketStore.deliveries()` lists them) and is not sent again. The ticket itself is unaffected.
Logs name the delivery, event, status or exception and attempt, never the body: it holds
customer text.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

import requests

from engine import __version__
from engine.config import WebhookConfig
from engine.handoff.store import DELIVERY_LEASE, Delivery, Notification, TicketStore
from engine.handoff.tickets import Ticket
from engine.http import retry_after

log = logging.getLogger(__name__)

WEBHOOK_EVENTS: tuple[str, ...] = (
    "ticket.created",
    "ticket.claimed",
    "ticket.transferred",
    "ticket.handed_back",
    "ticket.closed",
    "ticket.expired",
    "ticket.reprioritized",
)
#: `WebhookConfig.events` entry that selects every event.
ALL_EVENTS = "*"

USER_AGENT = f"Parley/{__version__}"
#: Seconds between a signed timestamp and the receiver's clock that `verify` accepts.
TOLERANCE = 300
#: Seconds before the second attempt; each later failure doubles it, up to BACKOFF_CAP.
BACKOFF_BASE = 2.0
BACKOFF_CAP = 15 * 60.0
BACKOFF_JITTER = 0.2
#: The longest `Retry-After` honoured.
RETRY_AFTER_CAP = 60 * 60.0
#: Seconds allowed per notification beyond the receiver's timeout (signing, recording the outcome).
LEASE_MARGIN_SECONDS = 5.0

_TIMESTAMP = re.compile(r"[0-9]{1,12}")


# -- the notification ----------------------------------------------------------------------------
def notification(
    event: str,
    ticket: Ticket,
    *,
    at: float,
    agent: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> Notification:
    """The notification of `event` about `ticket`, ready to queue with the ticket change.

    The body gets a fresh delivery id (the `X-Parley-Delivery` receivers deduplicate on). Raises
    ValueError for an event that is not one of WEBHOOK_EVENTS, TypeError for a context or detail
    that is not JSON.
    """
    if event not in WEBHOOK_EVENTS:
        raise ValueError(f"unknown webhook event {event!r}: the events are {', '.join(WEBHOOK_EVENTS)}")
    body = {
        "id": uuid.uuid4().hex,
        "event": event,
        "occurred_at": at,
        "agent": agent,
        "detail": dict(detail or {}),
        "ticket": {**ticket.to_json(), "context": ticket.context},
    }
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return Notification(event=event, ticket_id=ticket.id, payload=payload)


def wants(config: WebhookConfig, event: str) -> bool:
    """Whether the helpdesk asked for `event` ('*' in `events` asks for all of them)."""
    return ALL_EVENTS in config.events or event in config.events


# -- the signature -------------------------------------------------------------------------------
def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """`sha256=` + the hex HMAC-SHA256 of `<timestamp>.<body>` keyed with `secret`."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: bytes,
    timestamp_header: str | None,
    signature_header: str | None,
    body: bytes,
    *,
    now: float,
    tolerance: float = TOLERANCE,
) -> bool:
    """Whether a request carries Parley's signature of `body` with `secret`, signed within
    `tolerance` seconds of `now`. Missing or malformed headers are simply not valid."""
    if timestamp_header is None or signature_header is None:
        return False
    if not _TIMESTAMP.fullmatch(timestamp_header):
        return False
    if abs(now - int(timestamp_header)) > tolerance:
        return False
    mac = hmac.new(secret, timestamp_header.encode() + b"." + body, hashlib.sha256)
    expected = ("sha256=" + mac.hexdigest()).encode()
    return hmac.compare_digest(expected, signature_header.encode("utf-8", "replace"))


# -- the retry schedule --------------------------------------------------------------------------
def backoff(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after `attempt` failed attempts (1 or more): 2 s doubling per failure, with
    up to ±20% jitter drawn from `rng`, never above 15 minutes. Raises ValueError below 1."""
    if attempt < 1:
        raise ValueError(f"backoff is for an attempt that failed (1 or more), not {attempt}")
    base = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** min(attempt - 1, 30))
    # Near the cap the jitter only shortens the wait, so capped waits still spread out.
    highest = min(1.0 + BACKOFF_JITTER, BACKOFF_CAP / base)
    return base * (rng or random).uniform(1.0 - BACKOFF_JITTER, highest)


class Outcome(Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    REFUSED = "refused"


#: 4xx answers that may succeed later (a timeout, "too early", rate limited).
RETRYABLE_CLIENT_ERRORS = frozenset({408, 425, 429})
#: Exceptions of a receiver that is down or slow: the attempt is retried.
RETRYABLE_ERRORS: tuple[type[requests.RequestException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


def outcome_of(status: int) -> Outcome:
    """What an HTTP status means for a notification (see the table in the module docstring)."""
    if 200 <= status < 300:
        return Outcome.DELIVERED
    if 400 <= status < 500 and status not in RETRYABLE_CLIENT_ERRORS:
        return Outcome.REFUSED
    return Outcome.RETRY


@dataclass(frozen=True)
class _Attempt:
    """How one POST went."""

    outcome: Outcome
    error: str | None = None
    #: Seconds the receiver asked to wait (429 and 503 only).
    retry_after: float | None = None
    #: What the operator should fix, for answers that retrying cannot cure.
    hint: str | None = None


# -- the dispatcher ------------------------------------------------------------------------------
class WebhookDispatcher:
    """Delivers the outbox of a ticket store to one helpdesk.

    `deliver_due` sends what is due once; `start` runs it in a daemon thread every `interval`
    seconds until `stop`. A receiver's failure never raises: it is recorded in the outbox and
    logged. Every worker may run one: the store leases the notifications it hands out
    (`DELIVERY_LEASE`), and a batch is never larger than can be sent within that lease.
    """

    def __init__(
        self,
        store: TicketStore,
        config: WebhookConfig,
        secret: bytes,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        """Raises ValueError for an empty secret or a URL that is not http(s)."""
        _check_url(config.url)
        if not secret:
            raise ValueError("the helpdesk webhook needs a non-empty shared secret to sign its notifications")
        self._store = store
        self._config = config
        self._secret = secret
        self._owns_session = session is None
        self._session = session or requests.Session()
        self._clock = clock
        self._rng = rng or random.Random()
        self._batch = threading.Lock()
        self._stopping: threading.Event | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_config(
        cls, store: TicketStore, config: WebhookConfig, environ: Mapping[str, str] = os.environ
    ) -> WebhookDispatcher:
        """A dispatcher whose secret is read from `environ[config.secret_variable]`.

        Raises ValueError, saying what to change, for a missing or empty secret, a URL that is not
        http(s), or an event name that does not exist."""
        _check_url(config.url)
        unknown = [e for e in config.events if e != ALL_EVENTS and e not in WEBHOOK_EVENTS]
        if unknown:
            raise ValueError(
                f"handoff.webhook.events: unknown event(s) {', '.join(map(repr, unknown))}; "
                f"the events are {', '.join(WEBHOOK_EVENTS)}, or '*' for all of them"
            )
        variable = config.secret_variable
        secret = environ.get(variable, "")
        if not secret:
            state = "is empty" if variable in environ else "is not set"
            raise ValueError(
                f"the helpdesk webhook signs its notifications with a shared secret read from the "
                f"environment variable {variable}, which {state}. Generate one and give the same value "
                f"to the helpdesk, e.g. `export {variable}=$(python -c 'import secrets; "
                f"print(secrets.token_hex(32))')` before `parley run` (secrets never go in config.yml; "
                f"handoff.webhook.secret_variable names another variable)"
            )
        return cls(store, config, secret.encode("utf-8"))

    # -- one pass ----------------------------------------------------------------------------------
    def deliver_due(self, limit: int = 50) -> int:
        """POST the notifications that are due (at most `limit`) and record each outcome; returns
        how many were attempted. Raises only what the store raises."""
        return self._deliver_batch(limit, None)

    def batch_size(self, limit: int = 50) -> int:
        """At most `limit`, and no more notifications than can be POSTed (each up to the timeout)
        within their lease: another worker's dispatcher must never take one this one still holds."""
        return min(limit, max(1, int(DELIVERY_LEASE // (self._config.timeout + LEASE_MARGIN_SECONDS))))

    def _deliver_batch(self, limit: int, stopping: threading.Event | None) -> int:
        with self._batch:
            due = self._store.due_deliveries(self._clock(), limit=self.batch_size(limit))
            for attempted, delivery in enumerate(due):
                if stopping is not None and stopping.is_set():
                    # Stopping: what this dispatcher leased and did not try is due again at once
                    # for the other workers, not in a lease's time.
                    for untried in due[attempted:]:
                        self._store.delivery_retry(
                            untried.id,
                            attempts=untried.attempts,
                            next_attempt_at=self._clock(),
                            error=untried.last_error or "",
                        )
                    return attempted
                self._deliver(delivery)
            return len(due)

    def _deliver(self, delivery: Delivery) -> None:
        attempts = delivery.attempts + 1
        delivery_id = _delivery_id(delivery.payload)
        if delivery_id is None:
            error = "the payload is not a notification built by engine.handoff.webhook.notification"
            log.error("webhook delivery %d (%s): %s; giving up", delivery.id, delivery.event, error)
            self._store.delivery_failed(
                delivery.id, attempts=delivery.attempts, now=self._clock(), error=error
            )
            return
        attempt = self._post(delivery, delivery_id)
        now = self._clock()
        where = f"webhook delivery {delivery.id} ({delivery.event}, X-Parley-Delivery {delivery_id})"
        if attempt.outcome is Outcome.DELIVERED:
            self._store.delivery_done(delivery.id, attempts=attempts, now=now)
            log.debug("%s delivered on attempt %d", where, attempts)
            return
        error = attempt.error or "failed"
        if attempt.outcome is Outcome.REFUSED:
            self._store.delivery_failed(delivery.id, attempts=attempts, now=now, error=error)
            log.error("%s failed on attempt %d: %s; not retried: %s", where, attempts, error, attempt.hint)
            return
        if attempts >= self._config.max_attempts:
            self._store.delivery_failed(delivery.id, attempts=attempts, now=now, error=error)
            log.error(
                "%s failed on attempt %d of %d: %s; giving up (kept as failed in the outbox)%s",
                where,
                attempts,
                self._config.max_attempts,
                error,
                f": {attempt.hint}" if attempt.hint else "",
            )
            return
        delay = backoff(attempts, self._rng)
        if attempt.retry_after is not None and attempt.retry_after > delay:
            delay = attempt.retry_after
        self._store.delivery_retry(delivery.id, attempts=attempts, next_attempt_at=now + delay, error=error)
        log.warning(
            "%s failed on attempt %d of %d: %s; next attempt in %.1f s%s",
            where,
            attempts,
            self._config.max_attempts,
            error,
            delay,
            f" ({attempt.hint})" if attempt.hint else "",
        )

    def _post(self, delivery: Delivery, delivery_id: str) -> _Attempt:
        body = delivery.payload.encode("utf-8")
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Parley-Event": delivery.event,
            "X-Parley-Delivery": delivery_id,
            "X-Parley-Timestamp": str(timestamp),
            "X-Parley-Signature": sign(self._secret, timestamp, body),
        }
        timeout = self._config.timeout
        try:
            with self._session.post(
                self._config.url, data=body, headers=headers, timeout=timeout, allow_redirects=False
            ) as response:
                return self._judge(response)
        except requests.ConnectTimeout as error:
            return _Attempt(Outcome.RETRY, f"{type(error).__name__}: no connection within {timeout:g} s")
        except requests.Timeout as error:
            return _Attempt(Outcome.RETRY, f"{type(error).__name__}: no answer within {timeout:g} s")
        except RETRYABLE_ERRORS as error:
            return _Attempt(Outcome.RETRY, f"{type(error).__name__}: {self._scrub(_reason(error))}")
        except requests.RequestException as error:
            return _Attempt(
                Outcome.REFUSED,
                f"{type(error).__name__}: {self._scrub(str(error))[:300]}",
                hint="check handoff.webhook.url in config.yml",
            )

    def _judge(self, response: requests.Response) -> _Attempt:
        status = response.status_code
        error = f"HTTP {status} {response.reason or ''}".strip()
        outcome = outcome_of(status)
        if outcome is Outcome.DELIVERED:
            return _Attempt(outcome)
        if outcome is Outcome.REFUSED:
            return _Attempt(outcome, error, hint=self._refusal_hint(status))
        wait = None
        if status in (429, 503):
            asked = retry_after(response.headers.get("Retry-After"), self._clock())
            wait = None if asked is None else min(RETRY_AFTER_CAP, asked)
        hint = None
        if 300 <= status < 400:
            hint = (
                f"the receiver redirects to {response.headers.get('Location', '(no Location)')}; "
                "redirects are not followed: set handoff.webhook.url to the final address"
            )
        return _Attempt(outcome, error, retry_after=wait, hint=hint)

    def _refusal_hint(self, status: int) -> str:
        if status in (401, 403):
            return (
                "the receiver refused the signature: check that both sides use the same secret "
                f"(Parley reads it from ${self._config.secret_variable}) and that the receiver's "
                f"clock is within {TOLERANCE // 60} minutes of this machine's"
            )
        if status in (404, 410):
            return "the receiver has no such endpoint: check handoff.webhook.url in config.yml"
        if status == 405:
            return "the URL does not accept POST: check handoff.webhook.url in config.yml"
        if status == 413:
            return "the body is larger than the receiver accepts: raise its request size limit"
        if status in (400, 415, 422):
            return (
                "the receiver rejected the body: check that it reads Parley's notification format "
                "(documented in engine/handoff/webhook.py)"
            )
        return "the receiver refused the notification; retrying cannot help: check its logs"

    def _scrub(self, text: str) -> str:
        """Error texts name the URL; a query string may hold a token."""
        query = urlsplit(self._config.url).query
        return text.replace(query, "…") if query else text

    # -- the background thread ---------------------------------------------------------------------
    def start(self, interval: float = 1.0) -> None:
        """Deliver due notifications every `interval` seconds in a daemon thread until `stop`.
        Raises RuntimeError if it is already running, ValueError for an interval not above 0."""
        if not interval > 0:
            raise ValueError(f"the dispatcher's interval must be above 0 seconds, not {interval}")
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("the webhook dispatcher is already running: stop() it first")
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(interval, self._stopping), name="parley-webhook", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the thread (waiting at most `timeout` seconds, by default the receiver's timeout
        plus 5 s, for a POST in flight) and close the session if the dispatcher created it."""
        if self._stopping is not None:
            self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(self._config.timeout + 5.0 if timeout is None else timeout)
            if thread.is_alive():
                log.warning("the webhook dispatcher is still delivering; leaving its daemon thread")
                return
        if self._owns_session:
            self._session.close()

    def _run(self, interval: float, stopping: threading.Event) -> None:
        while not stopping.is_set():
            limit = self.batch_size()
            try:
                full = self._deliver_batch(limit, stopping) >= limit
            except Exception:  # the store failed (database down): try again next interval
                log.exception("webhook dispatcher: reading or updating the outbox failed; retrying")
                full = False
            if not full:  # a full batch means more may be due: go on at once
                stopping.wait(interval)


# -- helpers -------------------------------------------------------------------------------------
def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"handoff.webhook.url must be an http:// or https:// address with a host, like "
            f"https://helpdesk.example.com/hooks/parley; {url!r} is not"
        )


def _delivery_id(payload: str) -> str | None:
    try:
        body = json.loads(payload)
    except ValueError:
        return None
    value = body.get("id") if isinstance(body, dict) else None
    return value if isinstance(value, str) and value else None


def _reason(error: BaseException) -> str:
    text = str(error)
    for marker in ("Connection refused", "Name or service not known", "Connection reset", "timed out"):
        if marker in text:
            return marker.lower()
    return text[:300]
