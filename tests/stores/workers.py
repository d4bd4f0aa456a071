"""Programs the store tests run as separate processes (real worker processes, killed for real).

python -m tests.stores.workers hold REDIS_URL PREFIX KEY LEASE
    take the lock, print "held", sleep until killed
python -m tests.stores.workers append TRACKER_URL REDIS_URL PREFIX NAME COUNT
    print "ready", wait for a line on stdin, then COUNT times: under the conversation's lock,
    load and append one message "NAME-i"; print "done"
python -m tests.stores.workers flood TRACKER_URL
    append one message at a time without end, printing the event count after each commit
"""

from __future__ import annotations

import sys
import time

# Each command imports what it uses: these processes start in the tests' time.

PACK = "retail"
SENDER = "shared-customer"


def hold(redis_url: str, prefix: str, key: str, lease: str) -> None:
    from engine.stores.redis_lock import RedisLockStore

    locks = RedisLockStore(redis_url, prefix=prefix, lease=float(lease))
    with locks.lock(key, wait=10):
        print("held", flush=True)
        time.sleep(600)


def append(tracker_url: str, redis_url: str, prefix: str, name: str, count: str) -> None:
    from engine.dialogue.events import UserUttered
    from engine.stores.redis_lock import RedisLockStore
    from engine.stores.sql import SqlTrackerStore

    trackers = SqlTrackerStore(tracker_url, migrate=False)  # the test migrated it
    locks = RedisLockStore(redis_url, prefix=prefix)
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(int(count)):
        with locks.lock(f"{PACK}:{SENDER}", wait=20):
            stored = trackers.load(PACK, SENDER)
            trackers.append(PACK, SENDER, [UserUttered(text=f"{name}-{i}")], expected=len(stored))
    locks.close()
    trackers.close()
    print("done", flush=True)


def flood(tracker_url: str) -> None:
    from engine.dialogue.events import UserUttered
    from engine.stores.sql import SqlTrackerStore

    trackers = SqlTrackerStore(tracker_url, migrate=False)  # the test migrated it
    count = len(trackers.load(PACK, SENDER))
    print(count, flush=True)
    while True:
        trackers.append(PACK, SENDER, [UserUttered(text=str(count))], expected=count)
        count += 1
        print(count, flush=True)


if __name__ == "__main__":
    commands = {"hold": hold, "append": append, "flood": flood}
    commands[sys.argv[1]](*sys.argv[2:])
