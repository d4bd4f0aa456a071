"""/metrics: what turns are counted as, with labels bounded by the pack."""

from __future__ import annotations

from collections.abc import Callable

from engine.dialogue.actions import ActionStub
from tests.dialogue.conftest import DISPATCHED
from tests.server.conftest import Server


def _samples(server: Server) -> set[str]:
    text = server.client.get("/metrics").text
    return {line for line in text.splitlines() if line.startswith("parley_")}


def test_metrics_count_messages_intents_fallbacks_escalations_and_actions(
    make_server: Callable[..., Server],
) -> None:
    server = make_server(stubs=DISPATCHED)
    server.say("jo", "hi")
    server.say("jo", "where is order A12345")  # lookup_order: ok
    server.say("jo", "what is the meaning of life")  # not understood
    server.say("jo", "a person please")  # handoff
    server.client.get("/health")
    samples = _samples(server)
    expected = {
        'parley_messages_total{channel="rest",pack="shop"} 4.0',
        'parley_turn_seconds_count{pack="shop"} 4.0',
        'parley_intent_confidence_count{intent="greet",pack="shop"} 1.0',
        'parley_intent_confidence_count{intent="out_of_scope",pack="shop"} 1.0',
        'parley_fallbacks_total{pack="shop",reason="out_of_scope"} 1.0',
        'parley_escalations_total{pack="shop",queue="general",reason="customer_request"} 1.0',
        'parley_action_calls_total{action="lookup_order",outcome="ok",pack="shop"} 1.0',
        'parley_http_requests_total{method="POST",route="/webhooks/rest/webhook",status="200"} 4.0',
        'parley_http_requests_total{method="GET",route="/health",status="200"} 1.0',
    }
    assert expected <= samples, sorted(expected - samples)


def test_metrics_count_action_failures_by_kind(make_server: Callable[..., Server]) -> None:
    server = make_server(stubs={"lookup_order": ActionStub(fail="timeout")})
    server.say("jo", "where is order A12345")
    assert 'parley_action_calls_total{action="lookup_order",outcome="timeout",pack="shop"} 1.0' in _samples(
        server
    )


def test_metrics_intent_labels_stay_within_the_pack(make_server: Callable[..., Server]) -> None:
    server = make_server(readings={"zzz": ("not_an_intent_of_the_pack", 0.9)})
    server.say("jo", "zzz")
    samples = _samples(server)
    assert 'parley_intent_confidence_count{intent="other",pack="shop"} 1.0' in samples
    assert not any("not_an_intent_of_the_pack" in line for line in samples)
