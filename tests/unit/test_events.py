"""R20: Events say what changed; a standing Warning is not posted on every run."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import kopf
from test_controller_status import everything_report

from personio_sync.controller.reporting.events import REPOST_AFTER, EventPoster, run_events
from personio_sync.controller.startup.handlers import configure_kopf

BODY = {"metadata": {"namespace": "hr", "name": "acme", "uid": "u-1"}}
OTHER = {"metadata": {"namespace": "hr", "name": "beta", "uid": "u-2"}}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def poster() -> tuple[EventPoster, list[tuple[str, str, str]], Clock]:
    posted: list[tuple[str, str, str]] = []

    def post(body: Mapping[str, Any], kind: str, reason: str, message: str) -> None:
        posted.append((body["metadata"]["name"], kind, reason))

    clock = Clock()
    return EventPoster(post, clock), posted, clock


def run(events: EventPoster, *warnings: str, body: Mapping[str, Any] = BODY) -> None:
    """One completed run: the outcome, then its warnings (as reconcile posts them)."""
    events(body, "Normal", "Synced", "3 matched")
    for reason in warnings:
        events(body, "Warning", reason, f"{reason} message")


def test_r20_a_warning_that_stands_is_posted_once() -> None:
    events, posted, _ = poster()
    for _ in range(3):
        run(events, "PersonioEmailNotReadable")
    warnings = [p for p in posted if p[1] == "Warning"]
    assert warnings == [("acme", "Warning", "PersonioEmailNotReadable")]
    assert [p[2] for p in posted].count("Synced") == 3, "Normal events are never filtered"


def test_r20_a_failing_run_retried_posts_its_warning_once() -> None:
    events, posted, _ = poster()
    for _ in range(3):  # errors end a run without a Synced event
        events(BODY, "Warning", "PersonioCredentialsRejected", "rejected (HTTP 401)")
    assert len(posted) == 1


def test_r20_a_changed_message_is_posted() -> None:
    events, posted, _ = poster()
    events(BODY, "Warning", "ItemsFailed", "2 absences could not be written")
    events(BODY, "Warning", "ItemsFailed", "3 absences could not be written")
    assert len(posted) == 2


def test_r20_a_warning_that_returns_after_a_clean_run_is_posted_again() -> None:
    events, posted, _ = poster()
    run(events, "UserMappingNotFound")
    run(events)  # fixed
    run(events, "UserMappingNotFound")  # broken again
    assert [p[2] for p in posted if p[1] == "Warning"] == ["UserMappingNotFound"] * 2


def test_r20_a_standing_warning_is_repeated_once_its_event_may_have_expired() -> None:
    events, posted, clock = poster()
    run(events, "PersonioEmailNotReadable")
    clock.now += REPOST_AFTER - timedelta(minutes=1)
    run(events, "PersonioEmailNotReadable")
    clock.now += timedelta(minutes=2)
    run(events, "PersonioEmailNotReadable")
    assert [p[2] for p in posted if p[1] == "Warning"] == ["PersonioEmailNotReadable"] * 2


def test_r20_resources_are_told_apart() -> None:
    events, posted, _ = poster()
    run(events, "ItemsFailed")
    run(events, "ItemsFailed", body=OTHER)
    assert [p[0] for p in posted if p[1] == "Warning"] == ["acme", "beta"]


def test_r20_events_name_personio_sync_as_their_source() -> None:
    settings = kopf.OperatorSettings()
    configure_kopf(settings)
    assert settings.posting.reporting_component == "personio-sync"
    assert settings.posting.event_name_prefix.startswith("personio-sync")


def test_d_privacy_run_events_carry_no_email_address() -> None:
    """Anyone who may list Events sees them: counts, Personio ids, owner keys only."""
    run = everything_report()
    run.dry_run = False
    seen = run_events(run, "acme")
    reasons = {reason for kind, reason, _ in seen if kind == "Warning"}
    assert {"AmbiguousUsers", "UserMappingNotFound", "OwnershipConflict"} <= reasons
    assert not [m for _, _, m in seen if "@" in m]
    ambiguous = next(m for _, r, m in seen if r == "AmbiguousUsers")
    assert "2 people are" in ambiguous and "1 spec.userMappings entry points" in ambiguous
