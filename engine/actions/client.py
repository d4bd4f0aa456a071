"""The HTTP client for custom action servers (the Rasa SDK protocol).

`HttpActionRunner.run` posts `{next_action, sender_id, tracker, domain, domain_digest, version}`
to the server's webhook and reads `{events, responses}` back. It never raises for a backend
problem; every failure becomes an `ActionResult` with its kind, so the dialogue runtime can take
the pack's failure path:

| what happened | failure | retried (idempotent actions only) |
|---|---|---|
| no connection (server down, refused, DNS) | `refused` | yes |
| no answer within the action's timeout | `timeout` | yes |
| 5xx, or another unexpected status | `error` | 5xx only |
| 400 (the action rejected the request; a validation action rejects the value) | `rejected` | no |
| 404 (the server has no such action: a configuration error, logged as one) | `unknown_action` | no |
| a body that is not the protocol's JSON | `malformed` | no |
| the circuit of this server is open | `circuit_open` | no |

449 (the server needs the domain) is answered by sending the request again with the domain. The
domain is sent with the first request and after a 449; other requests carry only its digest,
unless several packs share the server (`always_send_domain`): rasa_sdk keeps one domain.

Retries wait `backoff`, then twice that, and so on; only actions the pack marks `idempotent`
are retried, as often as their `retries` say. A circuit breaker per server stops calling a server
that failed `failure_threshold` times in a row, for `reset_after` seconds.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from engine.actions.circuit import CircuitBreaker
from engine.actions.domain import domain_digest, rasa_domain
from engine.actions.process import beside_webhook
from engine.dialogue.actions import ActionResult, Failure
from engine.dialogue.tracker import Tracker
from engine.http import pooled_session
from engine.packs import Pack

log = logging.getLogger(__name__)

#: Seconds to wait for an action whose pack entry gives no timeout.
DEFAULT_TIMEOUT = 10.0
#: Connections kept open to one action server.
POOL_SIZE = 16


def _protocol_version() -> str:
    """The Rasa version the request claims: the installed rasa-sdk's, so it does not warn."""
    try:
        return importlib.metadata.version("rasa-sdk")
    except importlib.metadata.PackageNotFoundError:
        return "3.10.0"


@dataclass(frozen=True)
class ActionServerError:
    """Why a call failed, for logs and the `action_failed` event."""

    failure: Failure
    message: str
    retryable: bool


class HttpActionRunner:
    """Calls custom actions on one action server."""

    def __init__(
        self,
        pack: Pack,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        backoff: float = 0.1,
        breaker: CircuitBreaker | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        always_send_domain: bool = False,
    ) -> None:
        self.pack = pack
        self.url = url
        self.timeout = timeout
        self.backoff = backoff
        self.breaker = breaker or CircuitBreaker()
        self.session = session or pooled_session(POOL_SIZE)
        self.sleep = sleep
        self.domain = rasa_domain(pack)
        self.digest = domain_digest(self.domain)
        self.version = _protocol_version()
        # rasa_sdk keeps one domain per server: packs sharing a server would make each other's
        # cached domain stale (a 449 and a second request per call), so they send it every time.
        self._always_send_domain = always_send_domain
        self._domain_sent = False
        self._lock = threading.Lock()

    # -- the protocol ----------------------------------------------------------------------
    def run(self, action: str, tracker: Tracker) -> ActionResult:
        declared = self.pack.actions.get(action)
        timeout = declared.timeout if declared and declared.timeout else self.timeout
        retries = declared.retries if declared and declared.idempotent else 0
        payload = {
            "next_action": action,
            "sender_id": tracker.sender_id,
            "tracker": tracker.to_json(),
            "domain_digest": self.digest,
            "version": self.version,
        }
        attempt = 0
        last: ActionServerError | None = None  # this call's previous failure
        while True:
            if not self.breaker.allow():
                if last is not None:  # this call's own failure opened the circuit: say that one
                    return ActionResult(failure=last.failure, message=last.message)
                wait = self.breaker.seconds_until_retry()
                return ActionResult(
                    failure="circuit_open",
                    message=f"action server {self.url} failed repeatedly; not called for {wait:.0f} s more",
                )
            try:
                outcome = self._call(action, payload, timeout)
            except Exception as error:  # the documented contract: a failure, never an exception
                log.exception("action %r: the call failed unexpectedly", action)
                outcome = ActionServerError(
                    "error", f"calling {self.url} failed: {type(error).__name__}", False
                )
            if isinstance(outcome, ActionResult):
                self.breaker.succeeded()
                return outcome
            if outcome.failure in ("refused", "timeout", "error"):
                self.breaker.failed()
            else:
                self.breaker.succeeded()  # the server answered; the problem is the request
            if not outcome.retryable or attempt >= retries:
                return ActionResult(failure=outcome.failure, message=outcome.message)
            last = outcome
            self.sleep(self.backoff * 2**attempt)
            attempt += 1
            log.info("action %r: retry %d of %d after %s", action, attempt, retries, outcome.failure)

    def _call(self, action: str, payload: dict[str, Any], timeout: float) -> ActionResult | ActionServerError:
        with self._lock:
            send_domain = self._always_send_domain or not self._domain_sent
        body = {**payload, "domain": self.domain} if send_domain else payload
        response = self._post(body, timeout)
        if isinstance(response, ActionServerError):
            return response
        if response.status_code == 449:
            response = self._post({**payload, "domain": self.domain}, timeout)
            if isinstance(response, ActionServerError):
                return response
        if response.status_code == 200 and send_domain:
            with self._lock:
                self._domain_sent = True
        return self._read(action, response)

    def _post(self, body: dict[str, Any], timeout: float) -> requests.Response | ActionServerError:
        try:
            return self.session.post(self.url, json=body, timeout=timeout)
        except requests.Timeout:
            return ActionServerError("timeout", f"no answer from {self.url} within {timeout:g} s", True)
        except requests.ConnectionError as error:
            return ActionServerError("refused", f"cannot connect to {self.url}: {_reason(error)}", True)
        except requests.RequestException as error:
            return ActionServerError("error", f"request to {self.url} failed: {error}", False)

    def _read(self, action: str, response: requests.Response) -> ActionResult | ActionServerError:
        status = response.status_code
        if status == 400:
            return ActionServerError("rejected", _error_text(response) or "rejected (400)", False)
        if status == 404:
            message = (
                f"the action server at {self.url} has no action '{action}'; start it with the actions "
                f"the pack declares, or fix the name (`parley validate --check-actions` lists them)"
            )
            log.error(message)
            return ActionServerError("unknown_action", message, False)
        if status == 449:
            return ActionServerError("malformed", "the server asked for the domain twice (449)", False)
        if status >= 500:
            return ActionServerError("error", f"{self.url} answered {status}: {_error_text(response)}", True)
        if status != 200:
            return ActionServerError("error", f"{self.url} answered {status}: {_error_text(response)}", False)
        try:
            data = response.json()
        except ValueError:
            return ActionServerError("malformed", f"{self.url} answered with a body that is not JSON", False)
        if data is None:
            return ActionResult()
        problem = _protocol_problem(data)
        if problem is not None:
            return ActionServerError("malformed", f"{self.url}: {problem}", False)
        return ActionResult(
            events=tuple(data.get("events") or ()), responses=tuple(data.get("responses") or ())
        )

    # -- discovery -------------------------------------------------------------------------
    def list_actions(self) -> list[str]:
        """The actions the server offers (`GET /actions`); raises `ActionServerUnavailable`."""
        return list_actions(self.url, timeout=self.timeout, session=self.session)

    def close(self) -> None:
        self.session.close()


def list_actions(
    webhook_url: str, *, timeout: float = DEFAULT_TIMEOUT, session: requests.Session | None = None
) -> list[str]:
    """The actions the server of `webhook_url` offers (`GET /actions` beside the webhook);
    raises `ActionServerUnavailable`."""
    url = beside_webhook(webhook_url, "/actions")
    try:
        response = (session or requests).get(url, timeout=timeout)
        response.raise_for_status()
        return [item["name"] for item in response.json()]
    except (requests.RequestException, ValueError, KeyError, TypeError) as error:
        raise ActionServerUnavailable(f"cannot list the actions of {url}: {_reason(error)}") from None


class ActionServerUnavailable(Exception):
    """The action server could not be asked (down, or not speaking the protocol)."""


def _protocol_problem(data: Any) -> str | None:
    if not isinstance(data, dict):
        return f"the answer is {type(data).__name__}, not an object with events and responses"
    events, responses = data.get("events", []), data.get("responses", [])
    if not isinstance(events, list) or not all(
        isinstance(e, dict) and isinstance(e.get("event"), str) for e in events
    ):
        return "'events' must be a list of objects with an 'event' name"
    if not isinstance(responses, list) or not all(isinstance(r, dict) for r in responses):
        return "'responses' must be a list of objects"
    return None


def _error_text(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])[:200]
    return json.dumps(data)[:200]


def _reason(error: BaseException) -> str:
    text = str(error)
    for marker in ("Connection refused", "Name or service not known", "timed out"):
        if marker in text:
            return marker.lower()
    return text[:200]
