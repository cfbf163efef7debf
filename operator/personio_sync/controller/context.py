"""What every worker shares: settings, the Kubernetes client, metrics, the run slots, the
awork pacers (one per workspace, FAIR-1) and writer locks (one per workspace, D-Writer)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import kopf

from personio_sync.clients import PacerRegistry, TokenCache
from personio_sync.clients.kube import CustomResource, KubeClient
from personio_sync.controller.events import EventPoster
from personio_sync.controller.leadership import LeaderElector
from personio_sync.controller.metrics import Metrics
from personio_sync.controller.settings import OperatorSettings
from personio_sync.controller.slots import FairSlots
from personio_sync.engine.marker import owner_key
from personio_sync.errors import clip
from personio_sync.resource.spec import API_GROUP, API_VERSION, KIND, PLURAL
from personio_sync.resource.status import LastEvent
from personio_sync.sync.writers import WriterLocks

log = logging.getLogger("personio_sync.controller")

SYNC_NOW = "personio-sync.dev/sync-now"
SYNC_NOW_HANDLED = "personio-sync.dev/sync-now-handled"
FINALIZER = "personio-sync.dev/delete-owned-absences"
PERSONIO_SYNCS = CustomResource(API_GROUP, API_VERSION, KIND, PLURAL)  # what KubeClient writes


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
    slots: FairSlots
    pacers: PacerRegistry = field(default_factory=PacerRegistry)
    tokens: TokenCache = field(default_factory=TokenCache)  # Personio tokens across runs
    writers: WriterLocks = field(default_factory=WriterLocks)  # one writer per workspace
    now: Callable[[], datetime] = utc_now
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # tests fast-forward it
    # A standing Warning is posted once, not on every run (controller/events.py).
    event: Callable[[Mapping[str, Any], str, str, str], None] = field(
        default_factory=lambda: EventPoster(post_event, utc_now)
    )
    started: bool = field(default=False)
    leadership: LeaderElector | None = None  # None: standalone, nobody to defer to
    instance_id: str = ""  # part of every owner key (D-Owner); set at start
    # The newest webhook event per resource (HOOK-6): a run's status write carries it.
    last_events: dict[tuple[str, str], LastEvent] = field(default_factory=dict)

    def owner_key(self, namespace: str, name: str) -> str:
        """This installation's key for one resource (D-Owner)."""
        return owner_key(namespace, name, self.instance_id)

    @property
    def retry_base(self) -> timedelta:
        return timedelta(seconds=self.settings.retry_base_seconds)

    @property
    def fence(self) -> Callable[[], None] | None:
        """Called before every awork write: raises LeadershipLost once the lease is lost."""
        return None if self.leadership is None else self.leadership.fence

    def leading(self) -> bool:
        return self.leadership is None or self.leadership.leading()
