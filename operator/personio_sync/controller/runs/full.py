"""One full sync of one resource: resource → runner → status, Events, metrics.

Translation only: the view's spec and the wake-up's Secret become a policy and
credentials, `runner.run_sync` does the work, the outcome becomes `.status`, Events and
metrics. Every failure path writes a status that says what to fix; none writes to awork
(the runner reads everything first). A replica that lost the leader Lease is the
exception: LeadershipLost abandons the run with no status at all, since the new leader
runs it again and writes its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any

from personio_sync.controller.context import Context
from personio_sync.controller.reporting import outcomes
from personio_sync.controller.reporting.events import run_events
from personio_sync.controller.runs.in_flight import ProgressWriter, SyncingMark
from personio_sync.controller.runs.inputs import SecretSeen, credentials, vendor_clients
from personio_sync.controller.schedule import next_sync_time
from personio_sync.controller.view import ResourceView
from personio_sync.controller.writes import WritePolicy
from personio_sync.engine.marker import keys_to_adopt
from personio_sync.engine.report import SyncReport
from personio_sync.engine.window import today_in
from personio_sync.errors import (
    InternalError,
    KubernetesUnavailable,
    LeadershipLost,
    RunTimedOut,
    SpecError,
    SyncError,
)
from personio_sync.resource.spec import PersonioSyncSpec
from personio_sync.resource.spec_policy import policy_of
from personio_sync.sync import runner

log = logging.getLogger("personio_sync.controller")


async def sync(
    ctx: Context, view: ResourceView, seen: SecretSeen, *, allow_mass_delete: bool = False
) -> dict[str, Any] | None:
    """Run once and write the outcome; returns the resource as written (None: it is gone).
    `allow_mass_delete`: the resource's one-off consent to pass the deletion guard."""
    spec = view.parsed
    if isinstance(spec, SpecError):
        return await _write_error(ctx, view, spec, attempted=False)
    mark = SyncingMark(ctx, view)  # KUBE-4, deferred (SCALE-3)
    started = time.monotonic()
    deadline = asyncio.timeout(ctx.settings.run_timeout_seconds)
    try:
        async with mark.around_run(), deadline:
            report = await _run(ctx, view, spec, seen, allow_mass_delete, mark)
    except LeadershipLost:
        raise  # abandoned, not failed: the status is the new leader's to write
    except Exception as exc:  # a SyncError says what to fix; anything else is our bug
        if isinstance(exc, TimeoutError) and deadline.expired():
            exc = _timed_out(ctx, view)
        ctx.metrics.observe_error(*view.key, time.monotonic() - started)
        return await _write_error(ctx, view, _as_sync_error(exc, view), attempted=True, spec=spec)
    stamp = outcomes.Stamp(generation=view.generation, now=ctx.now())
    next_sync = _next_sync(ctx, view, spec, stamp, failed=False)
    new_status = outcomes.after_report(
        view.status, report, stamp=stamp, next_sync=next_sync, lists=view.lenient.lists
    )
    ctx.metrics.observe_report(*view.key, report, stamp.now.timestamp())
    for kind, reason, message in run_events(report, view.name):
        ctx.event(view.body, kind, reason, message)
    return await _write(ctx, view, new_status)


async def _run(
    ctx: Context,
    view: ResourceView,
    spec: PersonioSyncSpec,
    seen: SecretSeen,
    allow_mass_delete: bool,
    mark: SyncingMark,
) -> SyncReport:
    found = await credentials(ctx, view.namespace, spec.secretRef.name, seen)
    owner = ctx.owner_key(*view.key)
    async with vendor_clients(ctx, view.key, found) as clients:
        return await runner.run_sync(
            policy_of(spec),
            found,
            owner_key=owner,
            adopt_from=keys_to_adopt(view.namespace, view.name, owner, spec.adoptFrom),
            endpoints=ctx.settings.endpoints,
            today=today_in(spec.timeZone, ctx.now()),  # the context's clock, as targeted runs
            progress=ProgressWriter(ctx, view, ctx.settings.progress_seconds, mark),
            clients=clients,
            allow_mass_delete=allow_mass_delete,
            fence=ctx.fence,
        )


def _next_sync(
    ctx: Context,
    view: ResourceView,
    spec: PersonioSyncSpec,
    stamp: outcomes.Stamp,
    *,
    failed: bool,
) -> datetime:
    """nextSyncTime after a run that ended now: the interval, or the back-off (R17)."""
    return next_sync_time(
        run_end=stamp.now,
        failed=failed,
        before=view.history,
        interval=spec.interval_delta,
        base=ctx.retry_base,
    )


def _timed_out(ctx: Context, view: ResourceView) -> RunTimedOut:
    limit = ctx.settings.run_timeout_seconds
    log.warning("%s/%s: the run outlived its deadline of %.0f s", *view.key, limit)
    return RunTimedOut(
        f"the run did not finish within {limit:.0f} s (PERSONIO_SYNC_RUN_TIMEOUT_SECONDS) and "
        "was stopped; writes done so far stay, the next run carries on from there"
    )


def _as_sync_error(exc: Exception, view: ResourceView) -> SyncError:
    if isinstance(exc, SyncError):
        return exc
    # Only the type: an unexpected exception's text might quote a payload.
    log.error("%s/%s: unexpected error in a run", *view.key, exc_info=exc)
    return InternalError(f"unexpected {type(exc).__name__} in the operator; see its log")


async def _write_error(
    ctx: Context,
    view: ResourceView,
    error: SyncError,
    *,
    attempted: bool,
    spec: PersonioSyncSpec | None = None,
) -> dict[str, Any] | None:
    stamp = outcomes.Stamp(generation=view.generation, now=ctx.now())
    next_sync = None
    if isinstance(error, KubernetesUnavailable):
        next_sync = stamp.now  # KUBE-3: not the resource's fault, no back-off
    elif spec is not None:
        next_sync = _next_sync(ctx, view, spec, stamp, failed=True)
    new_status = outcomes.after_error(
        view.status,
        error,
        stamp=stamp,
        next_sync=next_sync,
        attempted=attempted,
        lists=view.lenient.lists,
    )
    written = await _write(ctx, view, new_status)
    ctx.event(view.body, "Warning", error.reason, error.message)  # after: the API answers
    return written


async def _write(
    ctx: Context, view: ResourceView, new_status: dict[str, Any]
) -> dict[str, Any] | None:
    """The run's outcome, retried until the API server answers (KUBE-2)."""
    new_status = outcomes.with_last_event(new_status, ctx.last_events.get(view.key))
    return await ctx.writes.replace_status(view.key, new_status, WritePolicy.UNTIL_ANSWERED)
