"""The Redis lock store: one conversation's messages processed one at a time, first come first
served, across worker processes and machines.

Per lock key K (`<prefix><K>:...`, by default `parley:lock:<pack>:<sender>:...`):
- `:next`   a counter; INCR numbers tickets in arrival order.
- `:queue`  a sorted set of the live tickets (random tokens) scored by their numbers: its first
  member holds the lock.
- `:lease`  a sorted set of the same tickets, scored by the time (Redis' clock, ms) their lease
  ends. A waiting ticket's lease is a few seconds, renewed each time its waiter looks; the
  holder's is `lease` seconds, renewed every lease/3 by a background thread while the block
  runs. A ticket whose lease ended belongs to a process that died or stalled: whoever looks at
  the queue next removes it, so the next ticket proceeds.
- `:wake:<ticket>` a list that whoever makes the ticket first pushes to; its waiter blocks on
  it (BLPOP) for at most a short slice, then looks again (that is how the lease of a dead holder
  is noticed, a slice after it ends).

Each step (take a ticket, look, leave, renew) is one Lua script, so it is atomic; Redis' clock
is the only clock, so machines need not agree on the time. A waiter that gives up removes its
ticket (and wakes the next one if it had just come first): it never blocks later waiters. Every
key expires (a few leases after its last use), and the last ticket to leave deletes them: nothing
is left behind.

Compared with Rasa's lock stores (rasa/core/lock.py and lock_store.py, Rasa 3.x), whose idea
this follows (a ticket per message, served in number order, each with a lifetime):
- Rasa's `RedisLockStore` keeps a conversation's whole ticket list in one JSON value that each
  process reads, changes and writes back (GET, then SET): two processes issuing tickets at once
  can overwrite each other's. Here every step is one atomic script.
- Its `ConcurrentRedisLockStore` numbers tickets with INCR but keeps one key per ticket and finds
  them with KEYS, a scan of the whole keyspace at every check; it sets a ticket key's expiry to
  the ticket's absolute expiry time used as a number of seconds (decades), so the keys of dead
  processes stay behind. Here one sorted set per conversation, and every key expires.
- Both poll at a fixed interval (asyncio.sleep between GETs). Here a waiter blocks on its own
  wake list and is woken the moment its turn comes.
- In both, a ticket's lifetime (60 s by default) counts from when it was issued, whether it is
  waiting or running, and is never extended: a long queue expires tickets that never ran, and a
  turn longer than the lifetime loses the lock. A waiter gives up (LockError) only when the
  lock's record is gone: the wait has no bound of its own. Here the wait is the caller's bound,
  a waiting ticket lives as long as its waiter keeps looking, and the holder's lease is renewed
  while it lives, so the lease can be short (a dead worker blocks its conversations for `lease`
  seconds) without cutting a slow turn short.

If Redis loses the lock's keys (restart without persistence), two workers may run one
conversation at once; the tracker store's `expected` count then refuses the second append with
`ConcurrentWrite` rather than losing events. Requires Redis >= 6 (fractional BLPOP timeouts), a
single server or a primary with replicas: the scripts touch wake lists they do not declare, which
Redis Cluster refuses.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import redis

from engine.stores.base import LockTimeout, StoreError
from engine.stores.urls import mask_password

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "parley:lock:"

#: Seconds a holder keeps the lock after its last renewal; a dead holder blocks this long.
DEFAULT_LEASE = 5.0

# Shared by every script. KEYS: next, queue, lease. ARGV[1]: prefix of the wake lists,
# ARGV[2]: how long the keys live after this use (ms), ARGV[3]: the ticket (a random token; the
# counter only orders tickets, so a counter that expired and restarted can never make two waiters
# share a ticket).
_PRELUDE = """
local ticket = ARGV[3]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function first()
  return redis.call('ZRANGE', KEYS[2], 0, 0)[1]
end
local function sweep(now)
  for _, dead in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)) do
    redis.call('ZREM', KEYS[2], dead)
    redis.call('ZREM', KEYS[3], dead)
  end
end
-- A ticket that came first while its waiter blocks is told so on its wake list.
local function wake_if_new(before)
  local after = first()
  if after and after ~= before and after ~= ticket then
    local list = ARGV[1] .. after
    redis.call('RPUSH', list, '1')
    redis.call('PEXPIRE', list, ARGV[2])
  end
end
local function touch()
  for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
end
local now = now_ms()
local before = first()
"""

# ARGV[4]: a waiter's lease (ms), ARGV[5]: the holder's lease (ms). Returns 1 held, 0 waiting.
_ENTER = (
    _PRELUDE
    + """
sweep(now)
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[1]), ticket)
local held = first() == ticket
redis.call('ZADD', KEYS[3], now + tonumber(held and ARGV[5] or ARGV[4]), ticket)
wake_if_new(before)
touch()
return held and 1 or 0
"""
)

# ARGV[4], ARGV[5] as above. Returns 1 held, 0 still waiting, -1 the ticket is gone (its lease
# ended before its waiter looked again).
_LOOK = (
    _PRELUDE
    + """
sweep(now)
if not redis.call('ZSCORE', KEYS[2], ticket) then
  wake_if_new(before)
  touch()
  return -1
end
if first() == ticket then
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[5]), ticket)
  redis.call('DEL', ARGV[1] .. ticket)
  touch()
  return 1
end
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[4]), ticket)
wake_if_new(before)
touch()
return 0
"""
)

# Removes the ticket (its holder is done, or its waiter gives up) and wakes the next one; the
# last ticket out deletes the keys.
_LEAVE = (
    _PRELUDE
    + """
redis.call('ZREM', KEYS[2], ticket)
redis.call('ZREM', KEYS[3], ticket)
redis.call('DEL', ARGV[1] .. ticket)
sweep(now)
if redis.call('ZCARD', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
  return 0
end
wake_if_new(before)
touch()
return 1
"""
)

# ARGV[4]: the holder's lease (ms). Returns 1, or 0 when the ticket is gone.
_RENEW = (
    _PRELUDE
    + """
if not redis.call('ZSCORE', KEYS[2], ticket) then return 0 end
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[4]), ticket)
touch()
return 1
"""
)


class RedisLockStore:
    """Per-key FIFO locks in Redis (`redis://[:password@]host:port/db`, or `rediss://`).

    `lease`: seconds a holder keeps the lock without renewing it; it is renewed every lease/3
    while the block runs, so it bounds how long a dead worker blocks a conversation, not how
    long a turn may take. `prefix` starts every key. Raises `StoreError` for a malformed URL
    (the server is first contacted by `check` or `lock`)."""

    def __init__(self, url: str, *, lease: float = DEFAULT_LEASE, prefix: str = DEFAULT_PREFIX) -> None:
        if lease <= 0:
            raise ValueError(f"lease must be > 0 seconds, not {lease}")
        self.url = mask_password(url)
        self.prefix = prefix
        self.lease = lease
        #: Longest block on a wake list before looking at the queue again.
        self._slice = min(0.5, max(0.005, lease / 20))
        #: A waiter renews its ticket every slice; it is dropped when it has not for this long.
        self._waiter_lease = max(0.25, 10 * self._slice)
        self._ttl_ms = int(1000 * (2 * max(lease, self._waiter_lease) + 1))
        try:
            self._redis: redis.Redis = redis.Redis.from_url(
                url, socket_timeout=5 + self._slice, socket_connect_timeout=5, health_check_interval=30
            )
        except ValueError as error:
            raise StoreError(f"lock store {self.url}: not a Redis URL ({error})") from None
        self._enter = self._redis.register_script(_ENTER)
        self._look = self._redis.register_script(_LOOK)
        self._leave = self._redis.register_script(_LEAVE)
        # Renewals use their own connection, which gives up well within a lease: one slow answer
        # must not keep the other held leases from being renewed in time.
        self._renewals: redis.Redis = redis.Redis.from_url(
            url, socket_timeout=lease / 6, socket_connect_timeout=lease / 6
        )
        self._renew = self._renewals.register_script(_RENEW)
        self._renewer = _Renewer(self._renew_one, interval=lease / 3)

    @contextmanager
    def lock(self, key: str, *, wait: float) -> Iterator[None]:
        """Hold `key` for the block, after the waiters that came before. Raises `LockTimeout`
        after `wait` seconds, `StoreError` when Redis cannot be reached."""
        deadline = time.monotonic() + wait
        keys = self._keys(key)
        ticket = uuid.uuid4().hex
        argv = [*self._argv(key, ticket), self._waiter_ms, self._lease_ms]
        try:
            held = self._enter(keys, argv) == 1
        except redis.RedisError as error:
            raise self._failure(f"cannot queue for the lock of conversation {key}", error) from None
        try:
            while not held:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LockTimeout(f"conversation {key} is busy: its lock was not free within {wait:g} s")
                # BLPOP's timeout 0 means forever: never ask for less than a millisecond.
                self._redis.blpop([self._wake(key, ticket)], timeout=max(0.002, min(left, self._slice)))
                state = self._look(keys, argv)
                if state == -1:
                    raise LockTimeout(
                        f"conversation {key}: this message lost its place in the queue for the lock "
                        f"(its worker did not renew it for {self._waiter_lease:g} s)"
                    )
                held = state == 1
        except redis.RedisError as error:
            self._quietly_leave(key, ticket)
            raise self._failure(f"cannot wait for the lock of conversation {key}", error) from None
        except BaseException:
            self._quietly_leave(key, ticket)
            raise
        self._renewer.add(key, ticket)
        try:
            yield
        finally:
            self._renewer.discard(key, ticket)
            self._quietly_leave(key, ticket)

    def queue_length(self, key: str) -> int:
        """How many messages hold or wait for `key`'s lock (for monitoring and tests)."""
        try:
            return int(self._redis.zcard(self._keys(key)[1]))
        except redis.RedisError as error:
            raise self._failure(f"cannot read the lock queue of conversation {key}", error) from None

    def check(self) -> None:
        try:
            self._redis.ping()
        except redis.RedisError as error:
            raise self._failure("cannot be reached (is Redis up and the URL right?)", error) from None

    def close(self) -> None:
        self._renewer.stop()
        self._renewals.close()
        self._redis.close()

    # -- internals ---------------------------------------------------------------------------
    @property
    def _waiter_ms(self) -> int:
        return int(self._waiter_lease * 1000)

    @property
    def _lease_ms(self) -> int:
        return int(self.lease * 1000)

    def _keys(self, key: str) -> list[str]:
        base = self.prefix + key
        return [f"{base}:next", f"{base}:queue", f"{base}:lease"]

    def _argv(self, key: str, ticket: str) -> list[Any]:
        return [f"{self.prefix}{key}:wake:", self._ttl_ms, ticket]

    def _wake(self, key: str, ticket: str) -> str:
        return f"{self.prefix}{key}:wake:{ticket}"

    def _renew_one(self, key: str, ticket: str) -> bool:
        return bool(self._renew(self._keys(key), [*self._argv(key, ticket), self._lease_ms]))

    def _quietly_leave(self, key: str, ticket: str) -> None:
        """Give the ticket back. When Redis cannot be reached the lease frees the lock anyway,
        so this logs instead of hiding the block's own outcome."""
        try:
            self._leave(self._keys(key), self._argv(key, ticket))
        except redis.RedisError as error:
            log.warning(
                "lock store %s: cannot release conversation %s (%s); it is free once its %g s lease ends",
                self.url,
                key,
                error,
                self.lease,
            )

    def _failure(self, action: str, error: redis.RedisError) -> StoreError:
        return StoreError(f"lock store {self.url}: {action}: {error}")


class _Renewer:
    """One daemon thread per store renewing the leases of the locks held in this process."""

    def __init__(self, renew: Callable[[str, str], bool], *, interval: float) -> None:
        self._renew = renew
        self._interval = interval
        self._held: set[tuple[str, str]] = set()
        self._guard = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, key: str, ticket: str) -> None:
        with self._guard:
            self._held.add((key, ticket))
            if self._thread is None and not self._stopped.is_set():
                self._thread = threading.Thread(target=self._run, name="parley-lock-renewer", daemon=True)
                self._thread.start()

    def discard(self, key: str, ticket: str) -> None:
        with self._guard:
            self._held.discard((key, ticket))

    def stop(self) -> None:
        self._stopped.set()
        with self._guard:
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            with self._guard:
                held = list(self._held)
            for key, ticket in held:
                try:
                    renewed = self._renew(key, ticket)
                except redis.RedisError as error:
                    log.warning("lock store: cannot renew the lock of conversation %s: %s", key, error)
                    continue
                if not renewed:
                    with self._guard:
                        still_held = (key, ticket) in self._held
                    if still_held:
                        log.warning(
                            "lock store: the lock of conversation %s expired while held (the worker "
                            "stalled longer than its lease); another message may now run beside this one",
                            key,
                        )
