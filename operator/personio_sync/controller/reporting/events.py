"""Events without the noise: a Warning that stands is posted once, not on every run (R20).

A problem that lasts (a rejected credential retried with back-off, people without a
readable e-mail reported by every sync) would otherwise add one Warning per run. A
Warning is posted again only when its message changes, when it comes back after a run
that did not raise it, or when the last post is older than the API server's default
Event lifetime (one hour), so `kubectl describe` keeps showing a problem that stands.
The status conditions always carry the current state; this only thins out Events.

Which Events a completed run posts is decided here too (`run_events`, pure): counts,
Personio ids and owner keys, never an e-mail address (D-Privacy).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import kopf

from personio_sync.controller.reporting.conditions import (
    ambiguous_message,
    broken_message,
    conflict_message,
    email_partly_readable,
    held_message,
)
from personio_sync.controller.reporting.report_parts import summary
from personio_sync.controller.view import identity
from personio_sync.engine.report import SyncReport, counted
from personio_sync.errors import clip
from personio_sync.reasons import EventReason, Reason

log = logging.getLogger("personio_sync.controller")

Post = Callable[[Mapping[str, Any], str, Reason, str], None]
REPOST_AFTER = timedelta(hours=1)  # kube-apiserver's default --event-ttl
# Normal events that end a completed run: warnings not raised again since are over.
RUN_OUTCOMES = frozenset({EventReason.SYNCED, EventReason.DRY_RUN})


def post_event(body: Mapping[str, Any], kind: str, reason: Reason, message: str) -> None:
    """A Kubernetes Event on the resource (R20), via kopf's poster; never raises."""
    namespace, name, _ = identity(body)
    where = f"{namespace}/{name}"
    level = logging.WARNING if kind == "Warning" else logging.INFO
    log.log(level, "%s %s: %s", where, reason, message)
    # Outside kopf's context (unit tests) there is no poster: the log line is enough.
    with contextlib.suppress(LookupError):
        kopf.event(
            kopf.Body(cast(kopf.RawBody, dict(body))),
            type=kind,
            reason=reason,
            message=clip(message, 1000),
        )


def run_events(report: SyncReport, name: str) -> list[tuple[str, Reason, str]]:
    """(kind, reason, message) of each Event a completed run posts: Normal for the outcome,
    Warning for each problem an admin should act on (R20)."""
    outcome = EventReason.DRY_RUN if report.dry_run else EventReason.SYNCED
    events: list[tuple[str, Reason, str]] = [("Normal", outcome, summary(report))]
    users = report.users
    if report.conflicts:
        events.append(("Warning", EventReason.OWNERSHIP_CONFLICT, conflict_message(report)))
    if report.held is not None:
        events.append(("Warning", EventReason.MASS_DELETION_HELD, held_message(report.held, name)))
    if report.actions.failed:
        first = report.failures[0].reason if report.failures else ""
        text = (
            f"{counted(report.actions.failed, 'absence', 'absences')} could not be written, "
            f"e.g. {first}; see status.failures (retried next run)"
        )
        events.append(("Warning", EventReason.ITEMS_FAILED, text))
    if users.broken_mappings:
        text = broken_message(report, lists=False)
        events.append(("Warning", EventReason.USER_MAPPING_NOT_FOUND, text))
    if users.ambiguous:
        events.append(("Warning", EventReason.AMBIGUOUS_USERS, ambiguous_message(report)))
    partly = email_partly_readable(report)
    if partly is not None:  # the condition's reason and words (UX-14)
        events.append(("Warning", EventReason.EMAIL_PARTLY_READABLE, partly.message))
    return events


@dataclass
class _Standing:
    """Per resource: warnings posted in this run so far, and those of the run before."""

    current: dict[Reason, tuple[str, datetime]] = field(default_factory=dict)
    previous: dict[Reason, tuple[str, datetime]] = field(default_factory=dict)


class EventPoster:
    """`ctx.event(body, kind, reason, message)`: posts through `post`, repeats filtered."""

    def __init__(self, post: Post, now: Callable[[], datetime]) -> None:
        self._post, self._now = post, now
        self._standing: dict[str, _Standing] = {}

    def __call__(self, body: Mapping[str, Any], kind: str, reason: Reason, message: str) -> None:
        standing = self._standing.setdefault(_key(body), _Standing())
        if kind != "Warning":
            if reason in RUN_OUTCOMES:
                standing.previous, standing.current = standing.current, {}
            self._post(body, kind, reason, message)
            return
        now = self._now()
        last = standing.current.get(reason) or standing.previous.get(reason)
        if last is not None and last[0] == message and now - last[1] < REPOST_AFTER:
            standing.current[reason] = last
            log.debug("%s: Warning %s unchanged, not posted again", _key(body), reason)
            return
        standing.current[reason] = (message, now)
        self._post(body, kind, reason, message)

    def __len__(self) -> int:
        """How many resources it remembers Warnings of."""
        return len(self._standing)

    def forget(self, namespace: str, name: str, uid: str | None) -> None:
        """A deleted resource's standing Warnings (FAIR-8)."""
        self._standing.pop(uid or f"{namespace}/{name}", None)


def _key(body: Mapping[str, Any]) -> str:
    namespace, name, uid = identity(body)
    return uid or f"{namespace}/{name}"
