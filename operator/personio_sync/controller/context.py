"""What every worker shares, built once at start (startup/handlers.py) and never changed:
settings, the Kubernetes client and its writes, metrics, the shard Leases, the awork
pacers (one per workspace, FAIR-1) and writer claims (D-Writer), the Personio token cache,
the vendor connection pools, the clock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from personio_sync.clients import PacerRegistry, TokenCache
from personio_sync.clients.kube import CustomResource, KubeClient
from personio_sync.controller.reporting.events import EventPoster, post_event
from personio_sync.controller.reporting.metrics import Metrics
from personio_sync.controller.settings import OperatorSettings
from personio_sync.controller.shard_leases import ShardLeases
from personio_sync.controller.writes import Writes
from personio_sync.engine.marker import owner_key
from personio_sync.reasons import Reason
from personio_sync.resource.spec import API_GROUP, API_VERSION, KIND, PLURAL
from personio_sync.resource.status import LastEvent
from personio_sync.sync.vendor_http import VendorHttp
from personio_sync.sync.writers import WriterLocks

SYNC_NOW = "personio-sync.dev/sync-now"
SYNC_NOW_HANDLED = "personio-sync.dev/sync-now-handled"
FINALIZER = "personio-sync.dev/delete-owned-absences"
PERSONIO_SYNCS = CustomResource(API_GROUP, API_VERSION, KIND, PLURAL)  # what KubeClient writes

PostEvent = Callable[[Mapping[str, Any], str, Reason, str], None]


def utc_now() -> datetime:
    """Whole seconds: what status can hold, so in-memory and persisted times agree."""
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Context:
    settings: OperatorSettings
    kube: KubeClient
    metrics: Metrics = field(default_factory=Metrics)
    instance_id: str = ""  # part of every owner key (D-Owner)
    leadership: ShardLeases | None = None  # None: standalone, nobody to defer to
    pacers: PacerRegistry = field(default_factory=PacerRegistry)
    tokens: TokenCache = field(default_factory=TokenCache)  # Personio tokens across runs
    writers: WriterLocks = field(default_factory=WriterLocks)  # creates claimed per workspace
    # The vendor connection pools every run shares (issue 18); None: a pair per run.
    http: VendorHttp | None = None
    now: Callable[[], datetime] = utc_now
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # tests fast-forward it
    # A standing Warning is posted once, not on every run (reporting/events.py).
    event: PostEvent = field(default_factory=lambda: EventPoster(post_event, utc_now))
    # The newest webhook event per resource (HOOK-6): a run's status write carries it.
    last_events: dict[tuple[str, str], LastEvent] = field(default_factory=dict)

    def owner_key(self, namespace: str, name: str) -> str:
        """This installation's key for one resource (D-Owner)."""
        return owner_key(namespace, name, self.instance_id)

    def forget(self, namespace: str, name: str, uid: str | None) -> None:
        """What every worker shares and kept for one resource, dropped once it is gone
        (FAIR-8): its metrics series, its last webhook event, its standing Warnings."""
        self.metrics.forget(namespace, name)
        self.last_events.pop((namespace, name), None)
        if isinstance(self.event, EventPoster):
            self.event.forget(namespace, name, uid)

    @property
    def retry_base(self) -> timedelta:
        return timedelta(seconds=self.settings.retry_base_seconds)

    @property
    def fence(self) -> Callable[[], None] | None:
        """Called before every awork write: raises LeadershipLost once the Lease of the
        shard of the resource this task acts for is lost (SHARD-4)."""
        return None if self.leadership is None else self.leadership.fence

    def leading(self) -> bool:
        """Holds at least one shard (standalone: everything)."""
        return self.leadership is None or self.leadership.leading()

    def holds(self, key: tuple[str, str]) -> bool:
        """This replica may work on the resource now (SHARD-4)."""
        return self.leadership is None or self.leadership.holds(key)

    def placement(self, key: tuple[str, str]) -> dict[str, Any]:
        """status.shard and status.replica: who syncs the resource (SHARD-8)."""
        if self.leadership is None:
            return {}
        return {"shard": self.leadership.shard_of(key), "replica": self.leadership.identity}

    @cached_property
    def writes(self) -> Writes:
        """The resource's Kubernetes writes, with their policies (writes.py)."""
        return Writes(self.kube, self.sleep, self.holds, self.placement)
