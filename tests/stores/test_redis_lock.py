"""The Redis lock store beyond the contract: leases, dead workers, other processes, no leftovers."""

from __future__ import annotations

import os
import signal
import threading

import pytest
import redis

from engine.dialogue.events import UserUttered
from engine.stores import LockTimeout, StoreError
from engine.stores.redis_lock import RedisLockStore
from engine.stores.sql import SqlTrackerStore
from tests.stores.conftest import REDIS_URL, redis_keys, worker
from tests.stores.test_lock_contract import start_waiter, wait_until
from tests.stores.workers import PACK, SENDER


def test_redis_lock_lease_frees_the_lock_of_a_killed_holder(redis_server: str, redis_prefix: str) -> None:
    locks = RedisLockStore(redis_server, prefix=redis_prefix, lease=1.0)
    try:
        with worker("hold", redis_server, redis_prefix, "retail:alice", "0.3") as holder:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "held"
            os.kill(holder.pid, signal.SIGKILL)
            holder.wait()
            with pytest.raises(LockTimeout), locks.lock("retail:alice", wait=0.05):
                pass  # the dead holder's lease has not ended yet
            with locks.lock("retail:alice", wait=5):
                pass  # ... and then it has
    finally:
        locks.close()


def test_redis_lock_lease_is_renewed_while_the_holder_lives(redis_server: str, redis_prefix: str) -> None:
    holder = RedisLockStore(redis_server, prefix=redis_prefix, lease=0.2)
    other = RedisLockStore(redis_server, prefix=redis_prefix, lease=0.2)
    try:
        # The wait is three leases long: only renewals keep the lock from `other`.
        with holder.lock("k", wait=1), pytest.raises(LockTimeout), other.lock("k", wait=0.6):
            pass
    finally:
        holder.close()
        other.close()


def test_redis_lock_waiter_that_died_in_the_queue_is_skipped(redis_server: str, redis_prefix: str) -> None:
    locks = RedisLockStore(redis_server, prefix=redis_prefix, lease=1.0)
    served: list[str] = []

    def patient() -> None:
        # Bounded: unless the dead waiter's ticket lapses, this times out.
        with locks.lock("k", wait=2):
            served.append("patient")

    try:
        with locks.lock("k", wait=1):
            # lease 0.5 s: its waiting ticket lapses 0.25 s after its last look.
            with worker("hold", redis_server, redis_prefix, "k", "0.5") as dead:
                wait_until(lambda: locks.queue_length("k") == 2)
                dead.kill()
                dead.wait()
            thread = start_waiter(locks, "k", patient)
        thread.join()
        assert served == ["patient"]
    finally:
        locks.close()


def test_redis_lock_leaves_no_keys_behind(redis_locks: RedisLockStore, redis_prefix: str) -> None:
    def impatient() -> None:
        with pytest.raises(LockTimeout), redis_locks.lock("k", wait=0.05):
            pass

    with redis_locks.lock("k", wait=1):
        assert redis_keys(redis_prefix) != []
        thread = threading.Thread(target=impatient)
        thread.start()
        thread.join()
    with redis_locks.lock("other", wait=1):
        pass
    assert redis_keys(redis_prefix) == []


def test_redis_lock_keys_expire(redis_locks: RedisLockStore, redis_prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        with redis_locks.lock("retail:alice", wait=1):
            ttls = {key: client.pttl(key) for key in redis_keys(redis_prefix)}
    finally:
        client.close()
    base = f"{redis_prefix}retail:alice"
    assert sorted(ttls) == [f"{base}:lease", f"{base}:next", f"{base}:queue"]
    # A few leases (5 s by default), so a dead process's keys do not outlive its lock by much.
    assert all(0 < ttl <= 30_000 for ttl in ttls.values()), ttls


def test_redis_lock_unreachable_server_is_a_store_error_without_password() -> None:
    locks = RedisLockStore("redis://:s3cret@127.0.0.1:1/0")
    try:
        with pytest.raises(StoreError) as check:
            locks.check()
        with pytest.raises(StoreError) as lock, locks.lock("k", wait=1):
            pass
    finally:
        locks.close()
    for error in (check.value, lock.value):
        assert not isinstance(error, LockTimeout)
        assert "s3cret" not in str(error)
        assert str(error).startswith("lock store redis://:***@127.0.0.1:1/0: ")


def test_redis_lock_rejects_a_malformed_url() -> None:
    with pytest.raises(StoreError, match="not a Redis URL"):
        RedisLockStore("http://127.0.0.1:6379")


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_redis_lock_serializes_appends_from_two_processes(
    request: pytest.FixtureRequest, database: str, redis_server: str, redis_prefix: str
) -> None:
    url = str(request.getfixturevalue(f"{database}_url"))
    SqlTrackerStore(url).close()  # migrated once here, so the workers race on appends only
    with (
        worker("append", url, redis_server, redis_prefix, "a", "10") as first,
        worker("append", url, redis_server, redis_prefix, "b", "10") as second,
    ):
        for process in (first, second):
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        for process in (first, second):
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        for process in (first, second):
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "done"
    store = SqlTrackerStore(url)
    try:
        events = store.load(PACK, SENDER)
        (summary,) = store.conversations()
    finally:
        store.close()
    texts = [e.text for e in events if isinstance(e, UserUttered)]
    assert sorted(texts) == sorted([f"a-{i}" for i in range(10)] + [f"b-{i}" for i in range(10)])
    # Each worker's own messages kept their order.
    for name in "ab":
        assert [t for t in texts if t.startswith(name)] == [f"{name}-{i}" for i in range(10)]
    assert summary.events == len(events) == 20
