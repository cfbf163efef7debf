"""What every worker shares: settings, the Kubernetes client, metrics, the global cap."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import kopf

from personio_sync.controller.events import EventPoster
from personio_sync.controller.kube import KubeClient
from personio_sync.controller.metrics import Metrics
from personio_sync.controller.peering import PeeringGate
from personio_sync.errors import clip
from personio_sync.settings import OperatorSettings

log = logging.getLogger("personio_sync.controller")

SYNC_NOW = "personio-sync.dev/sync-now"
SYNC_NOW_HANDLED = "personio-sync.dev/sync-now-handled"
FINALIZER = "personio-sync.dev/delete-owned-absences"


def utc_now() -> datetime:
    """Whole seconds: what status can hold, so in-memory and persisted times agree."""
    return datetime.now(UTC).replace(microsecond=0)


def post_event(body: Mapping[str, Any], kind: str, reason: str, message: str) -> None:
    """A Kubernetes Event on the resource (R20), via kopf's poster; never raises."""
    meta = body.get("metadata") or {}
    where = f"{meta.get('namespace')}/{meta.get('name')}"
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


@dataclass
class Context:
    settings: OperatorSettings
    kube: KubeClient
    metrics: Metrics
    slots: asyncio.Semaphore
    now: Callable[[], datetime] = utc_now
    # A standing Warning is posted once, not on every run (controller/events.py).
    event: Callable[[Mapping[str, Any], str, str, str], None] = field(
        default_factory=lambda: EventPoster(post_event, utc_now)
    )
    started: bool = field(default=False)
    gate: PeeringGate | None = None  # None: standalone, nobody to defer to

    @property
    def retry_base(self) -> timedelta:
        return timedelta(seconds=self.settings.retry_base_seconds)
