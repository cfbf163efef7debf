"""R17/R18: when a PersonioSync runs, decided from persisted state at fixed times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from personio_sync.controller.schedule import (
    Decision,
    History,
    Observation,
    backoff,
    decide,
    due_time,
    history_of,
    next_sync_time,
)

T0 = datetime(2026, 7, 21, 8, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
BASE = timedelta(seconds=30)


def synced_ok(at: datetime, interval: timedelta = HOUR) -> History:
    return History(last_sync=at, last_success=at, next_sync=at + interval)


def observe(history: History, **changes: object) -> Observation:
    values: dict[str, object] = {
        "generation": 3,
        "observed_generation": 3,
        "history": history,
        "interval": HOUR,
        "suspended": False,
    }
    values.update(changes)
    return Observation(**values)  # type: ignore[arg-type]


def test_r17_created_resource_runs_at_once() -> None:
    obs = observe(History(), observed_generation=None, generation=1)
    assert decide(obs, T0) == Decision(True, "Created")


def test_r17_spec_change_runs_at_once_even_if_not_due() -> None:
    obs = observe(synced_ok(T0), generation=4)
    assert decide(obs, T0 + timedelta(minutes=1)) == Decision(True, "SpecChanged")


def test_r17_restart_before_due_does_not_run_and_sleeps_until_due() -> None:
    """A restart 10 minutes after a sync: no run, wake at lastSyncTime + interval."""
    decision = decide(observe(synced_ok(T0)), T0 + timedelta(minutes=10))
    assert decision == Decision(False, "Waiting", wake_at=T0 + HOUR)


def test_r17_restart_after_missed_due_time_runs_once() -> None:
    """Down for three intervals: exactly one run now, not three (no burst, nothing missed)."""
    now = T0 + 3 * HOUR + timedelta(minutes=5)
    decision = decide(observe(synced_ok(T0)), now)
    assert decision == Decision(True, "Scheduled")
    after = synced_ok(now)
    assert decide(observe(after), now) == Decision(False, "Waiting", wake_at=now + HOUR)


def test_r17_interval_shortened_is_binding_for_an_old_next_sync_time() -> None:
    history = History(last_sync=T0, last_success=T0, next_sync=T0 + 6 * HOUR)
    assert due_time(history, HOUR) == T0 + HOUR


def test_r17_never_synced_but_observed_runs_first_sync() -> None:
    assert decide(observe(History()), T0) == Decision(True, "FirstSync")


def test_r17_sync_now_annotation_runs_once_per_new_value() -> None:
    history = synced_ok(T0)
    assert decide(observe(history, sync_now="1"), T0).reason == "SyncRequested"
    handled = observe(history, sync_now="1", sync_now_handled="1")
    assert decide(handled, T0).run is False
    again = observe(history, sync_now="2", sync_now_handled="1")
    assert decide(again, T0).reason == "SyncRequested"


def test_r17_secret_change_runs() -> None:
    obs = observe(synced_ok(T0), secret_changed=True)
    assert decide(obs, T0 + timedelta(seconds=5)) == Decision(True, "SecretChanged")


def test_r18_suspend_wins_over_every_trigger() -> None:
    obs = observe(History(), observed_generation=None, suspended=True, sync_now="x")
    assert decide(obs, T0) == Decision(False, "Suspended", held_sync_now="suspended")


def test_ux_17_a_suspended_resource_holds_only_a_pending_sync_now() -> None:
    """UX-17: the worker says a request is ignored while suspended; one already answered
    (or none) is nothing to say."""
    answered = observe(synced_ok(T0), suspended=True, sync_now="x", sync_now_handled="x")
    assert decide(answered, T0) == Decision(False, "Suspended")
    assert decide(observe(synced_ok(T0), suspended=True), T0) == Decision(False, "Suspended")


def test_r23_invalid_spec_is_reported_once_per_generation() -> None:
    fresh = observe(History(), observed_generation=2, generation=3, interval=None)
    assert decide(fresh, T0) == Decision(True, "InvalidSpec")
    reported = observe(History(), observed_generation=3, generation=3, interval=None)
    assert decide(reported, T0) == Decision(False, "InvalidSpec")


def test_r17_first_failure_retries_after_the_base_delay() -> None:
    before = synced_ok(T0)
    end = T0 + HOUR
    nxt = next_sync_time(run_end=end, failed=True, before=before, interval=HOUR, base=BASE)
    assert nxt == end + BASE


def test_r17_backoff_doubles_from_the_persisted_delay() -> None:
    """The previous delay is nextSyncTime - lastSyncTime: it survives a restart."""
    failed = History(last_sync=T0, last_success=T0 - HOUR, next_sync=T0 + 2 * BASE)
    assert backoff(failed, HOUR, BASE) == 4 * BASE


@pytest.mark.parametrize("delay", [timedelta(minutes=40), timedelta(minutes=59)])
def test_r17_backoff_is_capped_at_the_interval(delay: timedelta) -> None:
    failed = History(last_sync=T0, last_success=None, next_sync=T0 + delay)
    assert backoff(failed, HOUR, BASE) == HOUR


def test_r17_backoff_base_larger_than_interval_is_capped() -> None:
    minute = timedelta(minutes=1)
    assert backoff(History(), minute, timedelta(minutes=5)) == minute


def test_r17_failed_run_is_retried_when_due() -> None:
    failed = History(last_sync=T0, last_success=None, next_sync=T0 + BASE)
    assert decide(observe(failed), T0 + BASE) == Decision(True, "Retry")
    assert decide(observe(failed), T0 + BASE / 2).wake_at == T0 + BASE


def test_r17_success_schedules_a_full_interval() -> None:
    failed = History(last_sync=T0, last_success=None, next_sync=T0 + BASE)
    end = T0 + BASE
    assert next_sync_time(run_end=end, failed=False, before=failed, interval=HOUR, base=BASE) == (
        end + HOUR
    )


def test_d_guard_allow_mass_delete_annotation_runs_once_per_new_value() -> None:
    history = synced_ok(T0)
    pending = observe(history, allow_mass_delete="1")
    assert pending.consent_pending and decide(pending, T0).reason == "MassDeleteAllowed"
    used = observe(history, allow_mass_delete="1", allow_mass_delete_handled="1")
    assert not used.consent_pending and decide(used, T0).run is False
    again = observe(history, allow_mass_delete="2", allow_mass_delete_handled="1")
    assert again.consent_pending and decide(again, T0).run


MINUTE = timedelta(minutes=1)


def ran(started: datetime, seconds: float, *, failed: bool = False) -> History:
    """The status after a run that started at `started` and took `seconds`."""
    end = started + timedelta(seconds=seconds)
    return History(
        last_sync=end,
        last_success=None if failed else end,
        next_sync=end + (BASE if failed else HOUR),
        last_run_seconds=None if failed else seconds,
    )


def test_fair_6_sync_now_inside_the_minute_is_served_at_its_end() -> None:
    """A request 20 s after a run started waits until a minute after that start: deferred,
    not dropped, and then it runs."""
    history = ran(T0, 5)
    obs = observe(history, sync_now="2", sync_now_handled="1")
    early = decide(obs, T0 + timedelta(seconds=20), sync_now_spacing=MINUTE)
    assert early == Decision(
        False, "SyncRequestSpaced", wake_at=T0 + MINUTE, held_sync_now="deferred"
    )
    assert decide(obs, T0 + MINUTE, sync_now_spacing=MINUTE) == Decision(True, "SyncRequested")


def test_fair_6_spacing_counts_from_the_start_of_the_previous_run() -> None:
    """After a 90 s run the minute is over when it ends: a request then runs at once."""
    obs = observe(ran(T0, 90), sync_now="2", sync_now_handled="1")
    decision = decide(obs, T0 + timedelta(seconds=91), sync_now_spacing=MINUTE)
    assert decision == Decision(True, "SyncRequested")


def test_fair_6_after_a_failed_run_spacing_counts_from_its_end() -> None:
    """A failed run's duration is not in the status: its end is the safe stand-in."""
    history = ran(T0, 20, failed=True)
    assert history.last_started == T0 + timedelta(seconds=20)
    obs = observe(history, sync_now="x")
    decision = decide(obs, T0 + timedelta(seconds=30), sync_now_spacing=MINUTE)
    assert decision.wake_at == T0 + timedelta(seconds=20) + BASE  # the retry comes first
    assert decision.run is False
    assert decision.held_sync_now == "deferred"  # UX-17: the retry then answers it


def test_fair_6_spacing_never_delays_other_triggers_or_a_first_run() -> None:
    now = T0 + timedelta(seconds=10)
    spec_changed = observe(ran(T0, 5), generation=4, sync_now="x")
    assert decide(spec_changed, now, sync_now_spacing=MINUTE).reason == "SpecChanged"
    secret = observe(ran(T0, 5), sync_now="x", secret_changed=True)
    assert decide(secret, now, sync_now_spacing=MINUTE).reason == "SecretChanged"
    never_ran = observe(History(), sync_now="x")
    assert decide(never_ran, now, sync_now_spacing=MINUTE) == Decision(True, "SyncRequested")


def test_fair_6_zero_spacing_serves_every_request_at_once() -> None:
    obs = observe(ran(T0, 5), sync_now="2", sync_now_handled="1")
    assert decide(obs, T0 + timedelta(seconds=6)) == Decision(True, "SyncRequested")


def test_fair_6_the_previous_start_is_read_from_the_status() -> None:
    status = {
        "lastSyncTime": "2026-07-21T08:00:30Z",
        "lastSuccessfulSyncTime": "2026-07-21T08:00:30Z",
        "lastRun": {"window": {"from": "2026-07-21", "to": "2026-07-21"}, "durationSeconds": 30},
    }
    assert history_of(status).last_started == T0
    assert history_of({**status, "lastSuccessfulSyncTime": None}).last_started == T0 + BASE
