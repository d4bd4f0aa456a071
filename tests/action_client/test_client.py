"""The HTTP client of the Rasa SDK protocol against a scripted server: what it sends, how it
reads answers, and how each failure is reported, retried and counted by the circuit breaker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from engine.actions import CircuitBreaker, HttpActionRunner
from engine.actions.client import list_actions
from engine.actions.domain import rasa_domain
from engine.dialogue.events import SlotSet, UserUttered
from engine.dialogue.tracker import Tracker
from engine.packs import Pack, load_pack
from tests.action_client.fake_server import Answer, Script, fake_action_server

PACK = """\
pack: shop
version: 1.0.0
language: en
settings:
  repair: {digression: false, correction: false, clarification: false, cancel: false,
    restart: false, repeat: false, help: false, human: false}
  nlu: {min_examples: 1}
intents:
  check: {examples: [check my order]}
slots:
  order_state:
    type: categorical
    values: [processing, delivered]
  order_total: {type: money}
responses:
  ask_rephrase: Sorry?
  lookup_failed: The order system is not answering.
actions:
  lookup_order:
    slots: [order_state, order_total]
    timeout: 0.3
    idempotent: true
    retries: 2
    failure_response: lookup_failed
  create_return:
    slots: [order_state]
    timeout: 0.3
    retries: 0
flows:
  check:
    description: check an order
    trigger: {intents: [check]}
    steps:
      - action: lookup_order
"""

NO_WAIT: Callable[[float], None] = lambda seconds: None  # noqa: E731 - retries without sleeping


@pytest.fixture
def pack(write_pack: Callable[..., Path]) -> Pack:
    return load_pack(write_pack({"pack.yml": PACK}, "shop"))


def tracker() -> Tracker:
    conversation = Tracker("customer-7", {"order_state": None, "order_total": None})
    conversation.add(UserUttered(text="check my order", parse_data={"intent": {"name": "check"}}))
    conversation.add(SlotSet(name="order_total", value=12.5))
    return conversation


def runner(pack: Pack, url: str, **options: object) -> HttpActionRunner:
    return HttpActionRunner(pack, url, sleep=NO_WAIT, **options)  # type: ignore[arg-type]


def test_the_request_follows_the_protocol_and_the_domain_is_sent_once(pack: Pack) -> None:
    script = Script(
        [Answer(body={"events": [{"event": "slot", "name": "order_state", "value": "delivered"}]})]
    )
    with fake_action_server(script) as url:
        client = runner(pack, url)
        first = client.run("lookup_order", tracker())
        client.run("lookup_order", tracker())
    assert first.ok and first.events == ({"event": "slot", "name": "order_state", "value": "delivered"},)
    sent, again = script.requests
    assert sent["next_action"] == "lookup_order" and sent["sender_id"] == "customer-7"
    assert sent["tracker"]["slots"] == {"order_state": None, "order_total": 12.5}
    assert sent["tracker"]["latest_message"]["intent"]["name"] == "check"
    assert [e["event"] for e in sent["tracker"]["events"]] == ["user", "slot"]
    assert sent["domain"] == rasa_domain(pack) and sent["domain"]["slots"]["order_total"]["type"] == "float"
    assert sent["domain_digest"] == again["domain_digest"] and sent["version"]
    assert "domain" not in again, "the server keeps the domain it was sent"


def test_a_449_is_answered_with_the_domain(pack: Pack) -> None:
    script = Script([Answer(body={}), Answer(status=449, body={"error": "Missing domain"}), Answer(body={})])
    with fake_action_server(script) as url:
        client = runner(pack, url)
        client.run("lookup_order", tracker())
        result = client.run("lookup_order", tracker())
    assert result.ok
    assert ["domain" in r for r in script.requests] == [True, False, True]


@pytest.mark.parametrize(
    ("answer", "failure", "words"),
    [
        pytest.param(
            Answer(400, {"error": "no order A99999", "action_name": "x"}),
            "rejected",
            "no order A99999",
            id="400",
        ),
        pytest.param(
            Answer(404, {"error": "No registered action"}),
            "unknown_action",
            "has no action 'lookup_order'",
            id="404",
        ),
        pytest.param(Answer(body=b"<html>oops"), "malformed", "not JSON", id="not-json"),
        pytest.param(Answer(body=[1, 2]), "malformed", "not an object", id="a-list"),
        pytest.param(
            Answer(body={"events": [{"name": "x"}]}), "malformed", "'event' name", id="event-without-kind"
        ),
        pytest.param(
            Answer(body={"events": [], "responses": "hi"}), "malformed", "'responses'", id="responses-text"
        ),
        pytest.param(Answer(401, {"error": "token"}), "error", "401", id="401"),
    ],
)
def test_answers_that_are_not_results_become_failures_without_retries(
    pack: Pack, answer: Answer, failure: str, words: str
) -> None:
    script = Script([answer])
    with fake_action_server(script) as url:
        result = runner(pack, url).run("lookup_order", tracker())
    assert (result.failure, len(script.requests)) == (failure, 1)
    assert words in result.message


def test_server_errors_of_an_idempotent_action_are_retried_then_succeed(pack: Pack) -> None:
    script = Script([Answer(500, {"error": "db"}), Answer(503, {"error": "busy"}), Answer(body={})])
    waits: list[float] = []
    with fake_action_server(script) as url:
        result = HttpActionRunner(pack, url, sleep=waits.append, backoff=0.1).run("lookup_order", tracker())
    assert result.ok and len(script.requests) == 3
    assert waits == [0.1, 0.2], "backoff doubles"


def test_retries_stop_at_the_packs_number(pack: Pack) -> None:
    script = Script([Answer(500, {"error": "db"})])
    with fake_action_server(script) as url:
        result = runner(pack, url).run("lookup_order", tracker())
    assert (result.failure, len(script.requests)) == ("error", 3)  # 1 try + retries: 2
    assert "500" in result.message and "db" in result.message


def test_an_action_that_is_not_idempotent_is_never_retried(pack: Pack) -> None:
    script = Script([Answer(500, {"error": "db"})])
    with fake_action_server(script) as url:
        result = runner(pack, url).run("create_return", tracker())
    assert (result.failure, len(script.requests)) == ("error", 1)


def test_no_answer_within_the_actions_timeout_is_a_timeout(pack: Pack) -> None:
    script = Script([Answer(delay=1.0)])
    with fake_action_server(script) as url:
        result = runner(pack, url).run("create_return", tracker())
    assert result.failure == "timeout"
    assert "0.3 s" in result.message


def test_a_server_that_is_down_is_refused(pack: Pack) -> None:
    with fake_action_server(Script()) as url:
        pass  # the port is closed again
    result = runner(pack, url).run("create_return", tracker())
    assert result.failure == "refused"
    assert url in result.message


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_circuit_opens_after_failures_in_a_row_and_lets_one_trial_through_later(pack: Pack) -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, reset_after=30, clock=clock)
    script = Script([Answer(500, {}), Answer(500, {}), Answer(body={})])
    with fake_action_server(script) as url:
        client = runner(pack, url, breaker=breaker)
        assert client.run("create_return", tracker()).failure == "error"
        assert client.run("create_return", tracker()).failure == "error"
        opened = client.run("create_return", tracker())
        assert opened.failure == "circuit_open" and "30 s" in opened.message
        assert len(script.requests) == 2, "an open circuit does not call the server"
        clock.now = 31
        assert breaker.state == "half_open"
        assert client.run("create_return", tracker()).ok
    assert breaker.state == "closed"


def test_a_retried_call_whose_failure_opened_the_circuit_reports_that_failure(pack: Pack) -> None:
    """lookup_order is idempotent with 2 retries; its first failure opens a 1-failure circuit, so
    it is not tried again, and it says why it failed (escalation rules read the failure kind)."""
    breaker = CircuitBreaker(failure_threshold=1, reset_after=30, clock=Clock())
    script = Script([Answer(500, {})])
    with fake_action_server(script) as url:
        result = runner(pack, url, breaker=breaker).run("lookup_order", tracker())
    assert result.failure == "error"
    assert len(script.requests) == 1


def test_a_failed_trial_opens_the_circuit_again() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, reset_after=10, clock=clock)
    for _ in range(3):
        breaker.failed()
    clock.now = 10
    assert breaker.allow() and not breaker.allow(), "one trial at a time"
    breaker.failed()
    assert breaker.state == "open"


def test_rejections_and_unknown_actions_do_not_count_against_the_server(pack: Pack) -> None:
    breaker = CircuitBreaker(failure_threshold=1)
    script = Script([Answer(400, {"error": "invalid"})])
    with fake_action_server(script) as url:
        client = runner(pack, url, breaker=breaker)
        client.run("lookup_order", tracker())
        assert client.run("lookup_order", tracker()).failure == "rejected"
    assert breaker.state == "closed"


def test_actions_are_listed_from_the_server(pack: Pack) -> None:
    script = Script([Answer(body=[{"name": "lookup_order"}, {"name": "other"}])])
    with fake_action_server(script) as url:
        assert runner(pack, url).list_actions() == ["lookup_order", "other"]


def test_actions_are_listed_beside_the_webhook_under_its_path_prefix() -> None:
    script = Script([Answer(body=[{"name": "lookup_order"}])])
    with fake_action_server(script) as url:
        behind_a_gateway = url.replace("/webhook", "/parley-actions/webhook")
        assert list_actions(behind_a_gateway, timeout=2) == ["lookup_order"]
    assert script.got == ["/parley-actions/actions"]


def test_an_unexpected_error_inside_the_client_is_a_failure_not_an_exception(pack: Pack) -> None:
    breaker = CircuitBreaker(failure_threshold=5)
    client = runner(pack, "http://127.0.0.1:9/webhook", breaker=breaker)

    def broken(*args: object) -> None:
        raise TypeError("Object of type set is not JSON serializable")

    client._call = broken  # type: ignore[method-assign]
    result = client.run("lookup_order", tracker())
    assert result.failure == "error" and "TypeError" in result.message
    assert breaker.allow(), "the circuit still lets calls through"


def test_packs_sharing_a_server_send_the_domain_every_time(pack: Pack) -> None:
    script = Script([Answer(body={})])
    with fake_action_server(script) as url:
        client = runner(pack, url, always_send_domain=True)
        client.run("lookup_order", tracker())
        client.run("lookup_order", tracker())
    assert ["domain" in r for r in script.requests] == [True, True]
