"""The relay queue: agents' messages to one conversation are sent one at a time, in order, while
other conversations' go on beside them; what is still waiting when the server stops is reported
as dropped (the hub records a delivery_failed event for it)."""

from __future__ import annotations

import threading

from engine.server.channels import _KeyedSerialExecutor


def test_jobs_of_one_key_run_in_order_and_other_keys_beside_them() -> None:
    queue = _KeyedSerialExecutor(4)
    done: list[str] = []
    gate = threading.Event()
    lock = threading.Lock()

    def job(name: str, wait: bool = False) -> None:
        if wait:
            gate.wait(5)
        with lock:
            done.append(name)

    queue.submit("a", lambda: job("a1", wait=True), lambda: None)
    queue.submit("a", lambda: job("a2"), lambda: None)
    queue.submit("b", lambda: job("b1"), lambda: None)
    queue.join(0.5)
    assert done == ["b1"]  # b did not wait for a's slow job; a2 waits behind a1
    gate.set()
    queue.join(5)
    assert done == ["b1", "a1", "a2"]
    queue.shutdown()


def test_jobs_waiting_at_shutdown_and_submitted_after_are_reported_dropped() -> None:
    queue = _KeyedSerialExecutor(1)
    gate = threading.Event()
    started = threading.Event()
    dropped: list[str] = []

    def slow() -> None:
        started.set()
        gate.wait(5)

    queue.submit("a", slow, lambda: dropped.append("a1"))
    queue.submit("a", lambda: None, lambda: dropped.append("a2"))
    queue.submit("b", lambda: None, lambda: dropped.append("b1"))  # its thread never starts
    started.wait(5)
    queue.shutdown()
    queue.submit("c", lambda: None, lambda: dropped.append("c1"))
    gate.set()
    queue.join(5)

    assert sorted(dropped) == ["a2", "b1", "c1"]  # a1 was running: it finished
