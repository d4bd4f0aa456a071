"""What every tracker store does (in memory, SQLite, PostgreSQL): the contract of
`engine.stores.base.TrackerStore`."""

from __future__ import annotations

import threading

import pytest

from engine.dialogue.events import BotUttered, Restarted, SessionStarted, UserUttered
from engine.stores import ConcurrentWrite, ConversationSummary, TrackerStore
from tests.stores.conftest import T0, conversation_events


def test_tracker_round_trips_real_events(tracker: TrackerStore) -> None:
    events = conversation_events()
    tracker.append("retail", "alice", events, expected=0)
    loaded = tracker.load("retail", "alice")
    assert loaded == events
    assert [type(e) for e in loaded] == [type(e) for e in events]
    assert loaded[-1].to_json() == events[-1].to_json()  # the handoff's nested context


def test_tracker_unknown_conversation_has_no_events(tracker: TrackerStore) -> None:
    assert tracker.load("retail", "nobody") == []


def test_tracker_appends_keep_arrival_order(tracker: TrackerStore) -> None:
    written = []
    for turn in range(5):
        batch = [
            UserUttered(text=f"message {turn}", timestamp=T0 + turn),
            BotUttered(text=f"reply {turn}", timestamp=T0 + turn + 0.5),
        ]
        tracker.append("retail", "alice", batch, expected=len(written))
        written.extend(batch)
    assert tracker.load("retail", "alice") == written


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        pytest.param(3, 2, id="fewer-than-stored"),
        pytest.param(3, 4, id="more-than-stored"),
        pytest.param(0, 1, id="new-conversation"),
    ],
)
def test_tracker_refuses_stale_expected_and_writes_nothing(
    tracker: TrackerStore, stored: int, expected: int
) -> None:
    before = conversation_events()[:stored]
    if before:
        tracker.append("retail", "alice", before, expected=0)
    listed = tracker.conversations()
    with pytest.raises(ConcurrentWrite, match=r"conversation retail/alice has \d+ events, not "):
        tracker.append("retail", "alice", [Restarted(timestamp=T0 + 99)], expected=expected)
    assert tracker.load("retail", "alice") == before
    assert tracker.conversations() == listed


def test_tracker_empty_append_checks_the_count_and_adds_nothing(tracker: TrackerStore) -> None:
    tracker.append("retail", "alice", [], expected=0)
    assert tracker.conversations() == []
    tracker.append("retail", "alice", [SessionStarted(timestamp=T0)], expected=0)
    tracker.append("retail", "alice", [], expected=1)
    with pytest.raises(ConcurrentWrite):
        tracker.append("retail", "alice", [], expected=0)
    assert tracker.load("retail", "alice") == [SessionStarted(timestamp=T0)]


def test_tracker_keeps_packs_and_senders_apart(tracker: TrackerStore) -> None:
    tracker.append("retail", "alice", [UserUttered(text="retail", timestamp=T0)], expected=0)
    tracker.append("it_helpdesk", "alice", [UserUttered(text="helpdesk", timestamp=T0)], expected=0)
    tracker.append("retail", "bob", [UserUttered(text="bob", timestamp=T0)], expected=0)
    assert [e.to_json()["text"] for e in tracker.load("retail", "alice")] == ["retail"]
    assert [e.to_json()["text"] for e in tracker.load("it_helpdesk", "alice")] == ["helpdesk"]
    assert [e.to_json()["text"] for e in tracker.load("retail", "bob")] == ["bob"]


def test_tracker_lists_conversations_most_recent_first(tracker: TrackerStore) -> None:
    # (pack, sender, time of first event, events); later conversations are updated later.
    plan = [("retail", "c0", 10.0, 1), ("it_helpdesk", "c1", 20.0, 2), ("retail", "c2", 30.0, 3)]
    for pack, sender, start, count in plan:
        events = [UserUttered(text=str(i), timestamp=T0 + start + i) for i in range(count)]
        tracker.append(pack, sender, events, expected=0)
    # c0 gets a later event: it becomes the most recently updated.
    tracker.append("retail", "c0", [BotUttered(text="late", timestamp=T0 + 100)], expected=1)

    assert tracker.conversations() == [
        ConversationSummary("retail", "c0", 2, T0 + 10, T0 + 100),
        ConversationSummary("retail", "c2", 3, T0 + 30, T0 + 32),
        ConversationSummary("it_helpdesk", "c1", 2, T0 + 20, T0 + 21),
    ]
    assert [c.sender_id for c in tracker.conversations("retail")] == ["c0", "c2"]
    assert [c.sender_id for c in tracker.conversations("it_helpdesk")] == ["c1"]
    assert tracker.conversations("unknown_pack") == []


def test_tracker_pages_through_conversations(tracker: TrackerStore) -> None:
    for n in range(7):
        tracker.append("retail", f"c{n}", [UserUttered(text="hi", timestamp=T0 + n)], expected=0)
    everything = [c.sender_id for c in tracker.conversations(limit=100)]
    assert everything == [f"c{n}" for n in reversed(range(7))]
    pages = [tracker.conversations("retail", limit=3, offset=offset) for offset in (0, 3, 6, 9)]
    assert [[c.sender_id for c in page] for page in pages] == [
        everything[0:3],
        everything[3:6],
        everything[6:],
        [],
    ]


def race(tracker: TrackerStore, writers: int, expected: int) -> list[str]:
    """`writers` threads append at once, all with the same `expected`; what each got."""
    start = threading.Barrier(writers)
    outcomes: list[str] = []

    def write(n: int) -> None:
        event = UserUttered(text=f"writer {n}", timestamp=T0)
        start.wait()
        try:
            tracker.append("retail", "alice", [event], expected=expected)
            outcomes.append("written")
        except ConcurrentWrite:
            outcomes.append("refused")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def test_tracker_lets_one_of_several_concurrent_writers_win(tracker: TrackerStore) -> None:
    """Writers without the lock (a bug elsewhere, or a lost lock): exactly one append at each
    position succeeds, the others get ConcurrentWrite, and no event is lost or doubled."""
    one_wins = ["refused"] * 7 + ["written"]
    assert race(tracker, 8, expected=0) == one_wins  # a new conversation: the insert races
    assert race(tracker, 8, expected=1) == one_wins  # an existing one: the update races
    assert len(tracker.load("retail", "alice")) == 2
    assert [c.events for c in tracker.conversations()] == [2]


def test_tracker_check_passes_when_usable(tracker: TrackerStore) -> None:
    tracker.check()
