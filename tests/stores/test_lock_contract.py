"""What every lock store does (in-process, Redis): the contract of `engine.stores.base.LockStore`.

Waiters are started one after the other, each once the previous one is queued (`queued`), so
their arrival order is known without sleeping."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from engine.stores import LockStore, LockTimeout, StoreError
from tests.stores.conftest import queued


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.001)


def start_waiter(locks: LockStore, key: str, target: Callable[[], None]) -> threading.Thread:
    """Start `target` in a thread and return once it is queued for `key` (or done)."""
    before = queued(locks, key)
    thread = threading.Thread(target=target)
    thread.start()
    wait_until(lambda: queued(locks, key) > before or not thread.is_alive())
    return thread


def test_lock_serves_waiters_in_arrival_order(locks: LockStore) -> None:
    served: list[int] = []

    def waiter(n: int) -> Callable[[], None]:
        def run() -> None:
            with locks.lock("retail:alice", wait=10):
                served.append(n)

        return run

    with locks.lock("retail:alice", wait=1):
        threads = [start_waiter(locks, "retail:alice", waiter(n)) for n in range(20)]
        assert served == []  # nobody got in while the lock was held
    for thread in threads:
        thread.join()
    assert served == list(range(20))
    assert queued(locks, "retail:alice") == 0


def test_lock_wait_is_bounded_with_a_clear_error(locks: LockStore) -> None:
    outcome: list[BaseException] = []

    def impatient() -> None:
        try:
            with locks.lock("retail:alice", wait=0.05):
                pass
        except LockTimeout as error:
            outcome.append(error)

    with locks.lock("retail:alice", wait=1):
        thread = threading.Thread(target=impatient)
        thread.start()
        thread.join()
    (error,) = outcome
    assert isinstance(error, StoreError)
    assert str(error) == "conversation retail:alice is busy: its lock was not free within 0.05 s"


def test_lock_waiter_that_timed_out_does_not_block_later_ones(locks: LockStore) -> None:
    events: list[str] = []

    def impatient() -> None:
        try:
            # Long enough for `patient` to queue behind it first.
            with locks.lock("k", wait=0.3):
                events.append("impatient got the lock")
        except LockTimeout:
            events.append("impatient gave up")

    def patient() -> None:
        # Far shorter than a waiting ticket's lease: the first waiter must leave, not lapse.
        with locks.lock("k", wait=2):
            events.append("patient got the lock")

    with locks.lock("k", wait=1):
        first = start_waiter(locks, "k", impatient)
        second = start_waiter(locks, "k", patient)
        first.join()
        assert events == ["impatient gave up"]
    second.join()
    assert events == ["impatient gave up", "patient got the lock"]
    assert queued(locks, "k") == 0


def test_lock_keys_do_not_block_each_other(locks: LockStore) -> None:
    with (
        locks.lock("retail:alice", wait=1),
        locks.lock("retail:bob", wait=0.5),
        locks.lock("it_helpdesk:alice", wait=0.5),
    ):
        pass


def test_lock_is_released_when_the_block_raises(locks: LockStore) -> None:
    with pytest.raises(RuntimeError, match="turn failed"), locks.lock("k", wait=1):
        raise RuntimeError("turn failed")
    with locks.lock("k", wait=0.5):
        pass


def test_lock_check_passes_when_usable(locks: LockStore) -> None:
    locks.check()
