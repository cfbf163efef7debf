"""One sync of one resource, and its clean-up on deletion: resource → runner → status.

Translation only: the spec and Secret become models, `runner.run_sync` does the work,
the outcome becomes `.status`, Events and metrics. Every failure path writes a status
that says what to fix; none writes to awork (the runner reads everything first). A
replica that lost the leader Lease is the exception: LeadershipLost abandons the run
with no status at all, since the new leader runs it again and writes its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from personio_sync.clients.kube import KubeError, KubeUnavailable, until_answered
from personio_sync.controller import status as status_mod
from personio_sync.controller.conditions import (
    ambiguous_message,
    broken_message,
    conflict_message,
    held_message,
)
from personio_sync.controller.context import Context
from personio_sync.controller.schedule import next_sync_time
from personio_sync.controller.secrets import SecretProblem, credentials_for, unreadable
from personio_sync.engine.marker import keys_to_adopt
from personio_sync.engine.report import SyncReport
from personio_sync.errors import ConfigError, LeadershipLost, SyncError
from personio_sync.resource.policy import policy_of
from personio_sync.resource.spec import PersonioSyncSpec, SpecError, StatusDetail, parse_spec
from personio_sync.sync import runner
from personio_sync.sync.config import Credentials
from personio_sync.sync.progress import Progress

log = logging.getLogger("personio_sync.controller")

COURTESY_SECONDS = 5.0  # how long a progress write may hold up the vendor work


class InvalidSpec(ConfigError):
    reason = "InvalidSpec"


class KubernetesUnavailable(SyncError):
    """The API server or etcd did not answer a call the run needs (KUBE-3)."""

    reason = "KubernetesUnavailable"


class RunTimedOut(SyncError):
    """The run outlived PERSONIO_SYNC_RUN_TIMEOUT_SECONDS and was stopped (FAIR-3)."""

    reason = "RunTimedOut"


@dataclass
class SecretSeen:
    """What this process knows of the referenced Secret (change detection, clean-up).

    `known` is False until a run read it or the watch reported it: the first sighting
    after a start is a baseline, not a change, so a restart fires no burst of runs."""

    name: str | None = None
    version: str | None = None  # resourceVersion; None while it does not exist
    known: bool = False
    credentials: runner.Credentials | None = field(default=None, repr=False)


def shows_lists(body: Mapping[str, Any]) -> bool:
    """spec.statusDetail, read raw: an invalid spec's status must honour Counts too."""
    return (body.get("spec") or {}).get("statusDetail") != StatusDetail.Counts.value


def ident(body: Mapping[str, Any]) -> tuple[str, str]:
    meta = body.get("metadata") or {}
    return str(meta.get("namespace", "")), str(meta.get("name", ""))


async def read_credentials(
    ctx: Context, namespace: str, name: str, seen: SecretSeen
) -> runner.Credentials:
    """The referenced Secret in the resource's own namespace only (R21)."""
    try:
        secret = await ctx.kube.get_secret(namespace, name)
    except KubeUnavailable:
        raise KubernetesUnavailable(
            f"the Kubernetes API server (or etcd behind it) did not answer when reading "
            f"Secret {name!r}; nothing was written to awork, and the run is retried as soon "
            "as it answers again"
        ) from None
    except KubeError as exc:
        raise unreadable(ctx.settings, namespace, name, exc) from None
    seen.name, seen.known = name, True
    seen.version = None if secret is None else str(secret["metadata"].get("resourceVersion"))
    credentials = credentials_for(secret, name=name, namespace=namespace)
    seen.credentials = credentials
    return credentials


class ProgressWriter:
    """Patches status.progress at most every `every` seconds (the runner calls often)."""

    def __init__(self, ctx: Context, body: Mapping[str, Any], every: float) -> None:
        self._ctx, self._body, self._every = ctx, body, every
        self._last = time.monotonic()

    async def __call__(self, update: Progress) -> None:
        now = time.monotonic()
        if now - self._last < self._every:
            return
        self._last = now
        if not self._ctx.leading():
            return  # the run is about to stop at the fence; the status is not ours now
        patch = {"progress": status_mod.progress(update)}
        await _courtesy(self._ctx, self._body, "progress", patch)


async def mark_syncing(ctx: Context, body: Mapping[str, Any]) -> None:
    """KUBE-4: `Synced` says a run is in progress; best effort, never delays the run."""
    previous = body.get("status") or {}
    generation = (body.get("metadata") or {}).get("generation")
    stamp = status_mod.Stamp(generation=generation, now=ctx.now())
    await _courtesy(ctx, body, "run-in-progress mark", status_mod.syncing(previous, stamp=stamp))


async def _courtesy(
    ctx: Context, body: Mapping[str, Any], what: str, patch: Mapping[str, Any]
) -> None:
    """A status patch the run can do without (KUBE-2): given up after a few seconds (etcd
    down makes the API server hang, not refuse), skipped quietly during an outage."""
    namespace, name = ident(body)
    limit = asyncio.timeout(COURTESY_SECONDS)
    try:
        async with limit:
            await ctx.kube.merge_status(namespace, name, patch)
    except KubeUnavailable:
        pass  # the client logged the outage once
    except TimeoutError:
        if not limit.expired():
            raise
    except KubeError as exc:
        log.warning("%s/%s: %s not written: %s", namespace, name, what, exc)


courtesy_patch = _courtesy  # for other status writes a run can do without (changesync.py)


async def sync(
    ctx: Context, body: Mapping[str, Any], seen: SecretSeen, *, allow_mass_delete: bool = False
) -> dict[str, Any] | None:
    """Run once and write the outcome; returns the resource as written (None: it is gone).
    `allow_mass_delete`: the resource's one-off consent to pass the deletion guard."""
    previous = body.get("status") or {}
    generation = (body.get("metadata") or {}).get("generation")
    try:
        spec = parse_spec(body.get("spec") or {})
    except SpecError as exc:
        return await _write_error(ctx, body, InvalidSpec(str(exc)), attempted=False)
    await mark_syncing(ctx, body)
    started = time.monotonic()
    deadline = asyncio.timeout(ctx.settings.run_timeout_seconds)
    try:
        async with deadline:
            report = await _run(ctx, body, spec, seen, allow_mass_delete)
    except LeadershipLost:
        raise  # abandoned, not failed: the status is the new leader's to write
    except Exception as exc:  # a SyncError says what to fix; anything else is our bug
        if isinstance(exc, TimeoutError) and deadline.expired():
            exc = _timed_out(ctx, body)
        ctx.metrics.observe_error(*ident(body), time.monotonic() - started)
        return await _write_error(ctx, body, _as_sync_error(exc, body), attempted=True, spec=spec)
    stamp = status_mod.Stamp(generation=generation, now=ctx.now())
    next_sync = _next_sync(ctx, previous, spec, stamp, failed=False)
    new_status = status_mod.after_report(
        previous, report, stamp=stamp, next_sync=next_sync, lists=shows_lists(body)
    )
    ctx.metrics.observe_report(*ident(body), report, stamp.now.timestamp())
    _report_events(ctx, body, report)
    return await _write(ctx, body, new_status)


def _next_sync(
    ctx: Context,
    previous: Mapping[str, Any],
    spec: PersonioSyncSpec,
    stamp: status_mod.Stamp,
    *,
    failed: bool,
) -> datetime:
    """nextSyncTime after a run that ended now: the interval, or the back-off (R17)."""
    return next_sync_time(
        run_end=stamp.now,
        failed=failed,
        before=status_mod.history_of(previous),
        interval=spec.interval_delta,
        base=ctx.retry_base,
    )


class InternalError(SyncError):
    reason = "InternalError"


def _timed_out(ctx: Context, body: Mapping[str, Any]) -> RunTimedOut:
    limit = ctx.settings.run_timeout_seconds
    log.warning("%s/%s: the run outlived its deadline of %.0f s", *ident(body), limit)
    return RunTimedOut(
        f"the run did not finish within {limit:.0f} s (PERSONIO_SYNC_RUN_TIMEOUT_SECONDS) and "
        "was stopped; writes done so far stay, the next run carries on from there"
    )


def _as_sync_error(exc: Exception, body: Mapping[str, Any]) -> SyncError:
    if isinstance(exc, SyncError):
        return exc
    # Only the type: an unexpected exception's text might quote a payload.
    log.error("%s/%s: unexpected error in a run", *ident(body), exc_info=exc)
    return InternalError(f"unexpected {type(exc).__name__} in the operator; see its log")


async def _run(
    ctx: Context,
    body: Mapping[str, Any],
    spec: PersonioSyncSpec,
    seen: SecretSeen,
    allow_mass_delete: bool,
) -> SyncReport:
    namespace, name = ident(body)
    credentials = await read_credentials(ctx, namespace, spec.secretRef.name, seen)
    owner = ctx.owner_key(namespace, name)
    async with vendor_clients(ctx, namespace, name, credentials) as clients:
        return await runner.run_sync(
            policy_of(spec),
            credentials,
            owner_key=owner,
            adopt_from=keys_to_adopt(namespace, name, owner, spec.adoptFrom),
            endpoints=ctx.settings.endpoints,
            progress=ProgressWriter(ctx, body, ctx.settings.progress_seconds),
            clients=clients,
            allow_mass_delete=allow_mass_delete,
            fence=ctx.fence,
        )


@contextlib.asynccontextmanager
async def vendor_clients(
    ctx: Context, namespace: str, name: str, credentials: Credentials
) -> AsyncIterator[runner.Clients]:
    """A run's vendor clients (the workspace's pacer, the cached token, the leadership
    fence); what they sent is counted on /metrics when they close."""
    opened = runner.open_clients(
        credentials,
        ctx.settings.endpoints,
        fence=ctx.fence,
        pacers=ctx.pacers,
        tokens=ctx.tokens,
        writers=ctx.writers,
    )
    async with opened as clients:
        try:
            yield clients
        finally:
            ctx.metrics.observe_requests(namespace, name, "personio", clients.personio.stats)
            ctx.metrics.observe_requests(namespace, name, "awork", clients.awork.stats)


async def _write_error(
    ctx: Context,
    body: Mapping[str, Any],
    error: SyncError,
    *,
    attempted: bool,
    spec: PersonioSyncSpec | None = None,
) -> dict[str, Any] | None:
    previous = body.get("status") or {}
    generation = (body.get("metadata") or {}).get("generation")
    stamp = status_mod.Stamp(generation=generation, now=ctx.now())
    next_sync = None
    if isinstance(error, KubernetesUnavailable):
        next_sync = stamp.now  # KUBE-3: not the resource's fault, no back-off
    elif spec is not None:
        next_sync = _next_sync(ctx, previous, spec, stamp, failed=True)
    new_status = status_mod.after_error(
        previous,
        error,
        stamp=stamp,
        next_sync=next_sync,
        attempted=attempted,
        lists=shows_lists(body),
    )
    written = await _write(ctx, body, new_status)
    ctx.event(body, "Warning", error.reason, error.message)  # after: the API server answers
    return written


async def _write(
    ctx: Context, body: Mapping[str, Any], new_status: dict[str, Any]
) -> dict[str, Any] | None:
    """The run's outcome, retried until the API server answers (KUBE-2)."""
    namespace, name = ident(body)
    new_status = status_mod.with_last_event(new_status, ctx.last_events.get((namespace, name)))
    return await until_answered(
        lambda: ctx.kube.replace_status(namespace, name, new_status), sleep=ctx.sleep
    )


def _report_events(ctx: Context, body: Mapping[str, Any], report: SyncReport) -> None:
    """Normal for the outcome; Warning for each problem an admin should act on (R20).

    Events (and the log lines that echo them) carry counts, Personio ids and owner keys,
    never an e-mail address: anyone who may list Events sees them."""
    ctx.event(body, "Normal", "DryRun" if report.dry_run else "Synced", status_mod.summary(report))
    users = report.users
    if report.conflicts:
        ctx.event(body, "Warning", "OwnershipConflict", conflict_message(report))
    if report.held is not None:
        name = ident(body)[1]
        ctx.event(body, "Warning", "MassDeletionHeld", held_message(report.held, name))
    if report.actions.failed:
        first = report.failures[0].reason if report.failures else ""
        ctx.event(
            body,
            "Warning",
            "ItemsFailed",
            f"{report.actions.failed} absences could not be written, e.g. {first}; "
            "see status.failures (retried next run)",
        )
    if users.broken_mappings:
        ctx.event(body, "Warning", "UserMappingNotFound", broken_message(report, lists=False))
    if users.ambiguous:
        ctx.event(body, "Warning", "AmbiguousUsers", ambiguous_message(report))
    if users.without_email:
        ctx.event(
            body,
            "Warning",
            "PersonioEmailNotReadable",
            f"{len(users.without_email)} Personio people have no readable e-mail: give the "
            "API credential read access to the e-mail attribute",
        )


async def clean_up(ctx: Context, body: Mapping[str, Any], seen: SecretSeen) -> None:
    """deletionPolicy Delete (R19): delete the absences this sync owns, nothing else.

    Raises SyncError when it cannot (the worker retries and says so in an Event). When
    the Secret is already gone (a namespace being deleted), the credentials of the last
    run are used if this process still has them."""
    raw = body.get("spec") or {}
    namespace, name = ident(body)
    if raw.get("deletionPolicy") != "Delete":
        return
    if raw.get("dryRun"):
        ctx.event(body, "Normal", "CleanupSkipped", "spec.dryRun is true: awork left untouched")
        return
    secret_name = str((raw.get("secretRef") or {}).get("name", ""))
    try:
        credentials = await read_credentials(ctx, namespace, secret_name, seen)
    except SecretProblem:
        if seen.credentials is None:
            raise
        credentials = seen.credentials
    async with ctx.slots.slot():
        count = 0
        owner = ctx.owner_key(namespace, name)
        for key in {owner, *keys_to_adopt(namespace, name, owner)}:  # and an older version's
            count += await runner.delete_owned(
                credentials,
                owner_key=key,
                endpoints=ctx.settings.endpoints,
                fence=ctx.fence,
                writers=ctx.writers,
            )
    ctx.event(
        body, "Normal", "DeletedOwnedAbsences", f"deleted {count} awork absences this sync wrote"
    )
