"""HA: our workers pause exactly when kopf's peering rule says another operator leads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from personio_sync.controller.main import oldest_wins_priority
from personio_sync.controller.peering import is_paused

NOW = datetime(2026, 7, 21, 8, 0, 0, tzinfo=UTC)


def peer(priority: int, seen_ago: int = 5, lifetime: int = 60) -> dict[str, object]:
    return {
        "priority": priority,
        "lifetime": lifetime,
        "lastseen": (NOW - timedelta(seconds=seen_ago)).isoformat(),
    }


def test_alone_or_only_self_runs() -> None:
    assert not is_paused({}, identity="me", priority=0, now=NOW)
    assert not is_paused({"me": peer(0)}, identity="me", priority=0, now=NOW)


def test_a_live_peer_with_higher_or_equal_priority_pauses_us() -> None:
    assert is_paused({"me": peer(1), "other": peer(5)}, identity="me", priority=1, now=NOW)
    assert is_paused({"other": peer(1)}, identity="me", priority=1, now=NOW)


def test_lower_priority_or_dead_peers_do_not() -> None:
    assert not is_paused({"other": peer(0)}, identity="me", priority=1, now=NOW)
    dead = peer(9, seen_ago=120, lifetime=60)
    assert not is_paused({"other": dead}, identity="me", priority=1, now=NOW)


def test_the_older_replica_keeps_the_lead() -> None:
    """Default priorities fall with start time: a new replica never outranks the active one."""
    older = oldest_wins_priority(now=1_800_000_000.0)
    newer = oldest_wins_priority(now=1_800_000_001.0)
    assert older > newer
    assert not is_paused({"new": peer(newer)}, identity="old", priority=older, now=NOW)
    assert is_paused({"old": peer(older)}, identity="new", priority=newer, now=NOW)
