"""The runs a worker makes, handed to it (the receiver takes its lookups the same way).

The worker decides when; what runs then is one of these. They are injected, so the
loop's tests give it stubs that write a status instead of patching modules, and the
defaults are the operator's own.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from personio_sync.controller.context import Context
from personio_sync.controller.runs import changed, cleanup, full
from personio_sync.controller.runs.changed import Changes
from personio_sync.controller.runs.cleanup import Slot
from personio_sync.controller.runs.inputs import SecretSeen
from personio_sync.controller.view import ResourceView
from personio_sync.controller.webhooks import registration
from personio_sync.engine.report import SyncReport
from personio_sync.resource.spec import PersonioSyncSpec
from personio_sync.sync.targeted import DirectoryCache


class FullRun(Protocol):
    def __call__(
        self, ctx: Context, view: ResourceView, seen: SecretSeen, *, allow_mass_delete: bool
    ) -> Awaitable[dict[str, Any] | None]: ...


class TargetedRun(Protocol):
    def __call__(
        self,
        ctx: Context,
        view: ResourceView,
        spec: PersonioSyncSpec,
        seen: SecretSeen,
        changes: Changes,
        directory: DirectoryCache,
    ) -> Awaitable[SyncReport]: ...


class Poll(Protocol):
    def __call__(
        self,
        ctx: Context,
        view: ResourceView,
        spec: PersonioSyncSpec,
        seen: SecretSeen,
        since: datetime,
    ) -> Awaitable[dict[str, str]]: ...


class CleanUp(Protocol):
    def __call__(
        self, ctx: Context, view: ResourceView, seen: SecretSeen, *, slot: Slot
    ) -> Awaitable[None]: ...


class Hook(Protocol):
    def __call__(self, ctx: Context, view: ResourceView, seen: SecretSeen) -> Awaitable[None]: ...


@dataclass(frozen=True)
class Collaborators:
    full: FullRun = full.sync
    targeted: TargetedRun = changed.run_changes
    poll: Poll = changed.poll
    clean_up: CleanUp = cleanup.clean_up
    after_run: Hook = registration.after_run  # HOOK-7, after each full run
    on_delete: Hook = registration.on_delete
