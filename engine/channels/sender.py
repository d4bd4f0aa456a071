"""Sending the bot's messages to a platform: one pooled `requests` session per connector, rate
limits honoured, bounded retries.

A call answered 429 is tried again after the platform's Retry-After (seconds or an HTTP date),
or after a backoff of 1, 2, 4 ... seconds when it gives none; a 5xx answer, a timeout or a
refused connection is tried again after the backoff. Other refusals (4xx, or a 2xx that the
connector reads as a refusal, like Slack's `"ok": false`) are not: the same call would fail the
same way. A Retry-After longer than `max_retry_after` fails the call at once rather than holding
a worker. The calls of one reply go in order and stop at the first that fails, so the customer
never sees a later message without the one before it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import requests

from engine.channels.base import Connector, OutboundCall

log = logging.getLogger(__name__)

#: Connections kept open per platform host (worker threads send at once).
POOL_SIZE = 32


@dataclass(frozen=True)
class SendResult:
    """What became of a reply's calls: `sent` of the bot's messages reached the platform; when a
    call failed for good, `error` says why (never a credential) and `status` is the platform's
    answer (None: no answer)."""

    sent: int
    calls: int
    retries: int
    error: str | None = None
    status: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Sender:
    def __init__(
        self,
        session: requests.Session,
        *,
        max_attempts: int = 4,
        max_retry_after: float = 30.0,
        timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.max_attempts = max_attempts
        self.max_retry_after = max_retry_after
        self.timeout = timeout
        self.sleep = sleep
        self.clock = clock

    def send(
        self, connector: Connector, calls: Sequence[OutboundCall], *, within: float | None = None
    ) -> SendResult:
        """Make `calls` in order, each retried as the module says, stopping at the first that
        fails for good. `within`: seconds the whole reply may take (the lease of the message it
        answers, after which another worker may take the message over and answer it again): no
        call is made, waited for or retried beyond them."""
        deadline = None if within is None else self.clock() + within
        sent = retries = done = 0
        for call in calls:
            error, status, tries = self._call(connector, call, deadline)
            retries += tries - 1
            if error is not None:
                return SendResult(sent, done, retries, error, status)
            done += 1
            sent += call.describes
        return SendResult(sent, done, retries)

    def _call(
        self, connector: Connector, call: OutboundCall, deadline: float | None
    ) -> tuple[str | None, int | None, int]:
        """(error, status, attempts) of one call, retried as the module says."""
        error: str | None = None
        status: int | None = None
        for attempt in range(1, self.max_attempts + 1):
            wait = 2.0 ** (attempt - 1)
            timeout = self.timeout
            if deadline is not None:
                left = deadline - self.clock()
                if left <= 0:
                    return _out_of_time(connector, error), status, max(1, attempt - 1)
                timeout = min(timeout, left)
            try:
                response = self.session.request(
                    call.method,
                    call.url,
                    json=call.json,
                    data=call.form,
                    headers=dict(call.headers),
                    auth=call.auth,
                    timeout=timeout,
                )
            except requests.exceptions.InvalidJSONError as failure:  # a custom payload JSON cannot hold
                return f"{connector.name}: the message cannot be sent as JSON: {failure}", None, attempt
            except requests.RequestException as failure:
                error, status = f"{connector.name} API unreachable: {type(failure).__name__}", None
            else:
                status = response.status_code
                if status == 429:
                    after = connector.retry_after(response)
                    error = f"{connector.name} API rate limit (429)"
                    if after is not None and after > self.max_retry_after:
                        return (
                            f"{error}: asked to wait {after:g} s, more than max_retry_after",
                            status,
                            attempt,
                        )
                    wait = after if after is not None else wait
                elif status >= 500:
                    error = f"{connector.name} API error (HTTP {status})"
                else:
                    refused = connector.failure(response)
                    if refused is None:
                        return None, status, attempt
                    return f"{connector.name} API refused the message: {refused}", status, attempt
            if attempt < self.max_attempts:
                if deadline is not None and self.clock() + wait >= deadline:
                    return _out_of_time(connector, error), status, attempt
                log.info(
                    "%s; trying again in %g s (attempt %d of %d)", error, wait, attempt + 1, self.max_attempts
                )
                self.sleep(wait)
        return f"{error}, after {self.max_attempts} attempts", status, self.max_attempts


def _out_of_time(connector: Connector, error: str | None) -> str:
    why = f" ({error})" if error else ""
    return f"{connector.name}: no time left to send within the message's lease{why}"
