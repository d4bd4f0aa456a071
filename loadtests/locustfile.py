"""Customers of the retail assistant, for locust: each runs whole conversations through the REST
channel, with a fresh sender id per conversation, so every conversation is a new tracker with
real custom-action calls (order look-ups, verification, cancellations) on the example action
server.

    locust -f loadtests/locustfile.py --host http://127.0.0.1:5005

`loadtests/run.py` starts the server, runs this headless and prints the figures.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from typing import Any

import gevent
from locust import HttpUser, between, events, task
from locust.env import Environment

#: Seeded demo orders (actions/README.md) and the email that placed each.
ORDERS = {
    "B20417": "aisha.khan@example.net",
    "C48213": "li.wei@yahoo.co.uk",
    "B77310": "maria.g@example.com",
    "A12345": "jane@example.com",
    "K12003": "sam.okoro@gmail.com",
    "L50981": "jane@example.com",
}

CONVERSATIONS = [
    # Where is my order: order number up front; one look-up.
    lambda order, email: [f"where is my order {order}?", "thanks!", "bye"],
    # Late parcel, asked for the order number first.
    lambda order, email: ["my parcel is late", order, "ok thanks"],
    # Refund status: verification by email, then the refund look-up.
    lambda order, email: [f"has my refund for {order} gone through?", email, "thank you"],
    # Small talk and help.
    lambda order, email: ["hello", "what can you help me with?", "are you a bot?", "bye"],
    # A digression in the middle of a question, then back.
    lambda order, email: [
        "I want to change my delivery address",
        "wait, are you a robot?",
        order,
        "never mind",
    ],
]


#: Seconds a customer takes to read an answer and type the next message: PARLEY_LOAD_THINK="1,3"
#: (the default) is a fast typist; "0,0" sends as fast as the server answers (a saturation test).
THINK = tuple(float(x) for x in os.environ.get("PARLEY_LOAD_THINK", "1,3").split(","))

#: Seconds run before the figures start (PARLEY_LOAD_WARMUP, default 0): while customers arrive
#: and a fresh server fills its caches. The statistics are reset then; the warm-up's own counts
#: are written to PARLEY_LOAD_WARMUP_REPORT (a JSON file), so a failure in it is never hidden.
WARMUP = float(os.environ.get("PARLEY_LOAD_WARMUP", "0"))
WARMUP_REPORT = os.environ.get("PARLEY_LOAD_WARMUP_REPORT")

#: How customers arrive (PARLEY_LOAD_ARRIVE): "spread" (the default), each opens the chat after a
#: pause of its own; "together", each sends its first message the moment locust starts it, so the
#: users started in one tick (10 a second for 50 users) send theirs in the same millisecond.
ARRIVE = os.environ.get("PARLEY_LOAD_ARRIVE", "spread")
if ARRIVE not in ("spread", "together"):
    raise ValueError(f"PARLEY_LOAD_ARRIVE must be 'spread' or 'together', not {ARRIVE!r}")


@events.test_start.add_listener
def _measure_after_warmup(environment: Environment, **_: Any) -> None:
    if WARMUP > 0:
        gevent.spawn_later(WARMUP, _end_warmup, environment)


def _end_warmup(environment: Environment) -> None:
    total = environment.stats.total
    if WARMUP_REPORT:
        report = {"requests": total.num_requests, "failures": total.num_failures}
        with open(WARMUP_REPORT, "w", encoding="utf-8") as file:
            json.dump(report, file)
    environment.stats.reset_all()


class RetailCustomer(HttpUser):
    wait_time = between(*THINK)

    def on_start(self) -> None:
        if ARRIVE == "spread":
            self.wait()

    @task
    def conversation(self) -> None:
        sender = f"load-{uuid.uuid4().hex[:12]}"
        order, email = random.choice(list(ORDERS.items()))
        for text in random.choice(CONVERSATIONS)(order, email):
            with self.client.post(
                "/webhooks/rest/webhook",
                json={"sender": sender, "message": text},
                name="/webhooks/rest/webhook",
                catch_response=True,
            ) as response:
                if response.status_code != 200:
                    response.failure(f"status {response.status_code}: {response.text[:200]}")
                elif not isinstance(response.json(), list):
                    response.failure(f"not a list of messages: {response.text[:200]}")
                else:
                    response.success()
            self.wait()
