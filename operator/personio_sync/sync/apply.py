"""Carry out a plan against awork with isolated per-item failures (R14, R15).

A 4xx on one absence is recorded and the run goes on; it is retried next run
because the engine plans it again. A rejected API key stops the run, and so does a
write that outlasted the client's retries without a 4xx answer (5xx, 429, timeout,
dropped connection): every other write would fail the same way, and going on would
cost each of 60,000 writes a full retry cycle against a vendor that is down. Workers
pull from one iterator so a plan of 60,000 writes never holds 60,000 pending coroutines.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from personio_sync.clients import Fence
from personio_sync.clients.awork import AworkClient
from personio_sync.engine.plan import Create, Delete, Plan, Update
from personio_sync.engine.report import Failure, SyncReport
from personio_sync.errors import AworkError, AworkStatusError, LeadershipLost
from personio_sync.sync.progress import Progress, ProgressCallback

log = logging.getLogger("personio_sync.sync")
T = TypeVar("T")

PROGRESS_EVERY_SECONDS = 2.0
Write = Create | Update | Delete
# A Fence raises (errors.LeadershipLost) when this process may no longer write; called
# before each write, so a replica that lost the leader Lease stops at once (D-Lease).


@dataclass
class _Tracker:
    """Counts writes as they finish and reports progress at most every few seconds."""

    total: int
    awork: AworkClient
    callback: ProgressCallback | None
    started: float
    done: int = 0
    last_report: float = float("-inf")  # the first write is reported at once

    async def tick(self, final: bool = False) -> None:
        self.done += 0 if final else 1
        now = _clock()
        if self.callback is None or (not final and now - self.last_report < PROGRESS_EVERY_SECONDS):
            return
        self.last_report = now
        await self.callback(self.snapshot(now))

    def snapshot(self, now: float) -> Progress:
        elapsed = max(now - self.started, 1e-6)
        rate = self.done / elapsed
        remaining = self.total - self.done
        eta = remaining / rate if rate > 0 else None
        stats = self.awork.stats
        waited = stats.rate_limit_wait_seconds + stats.pacing_wait_seconds
        bottleneck = "awork" if waited > 0.1 * elapsed else None
        return Progress(self.done, self.total, round(rate, 2), eta, bottleneck)


def _clock() -> float:
    """The event loop's clock (monotonic), so tests can fast-forward it."""
    return asyncio.get_running_loop().time()


def _writes(plan: Plan) -> Iterator[Write]:
    # Duplicates and stale absences go first: a killed run then leaves less behind.
    yield from plan.deletes
    yield from plan.updates
    yield from plan.creates


async def _perform(write: Write, awork: AworkClient) -> None:
    if isinstance(write, Create):
        await awork.create_absence(write.body)
    elif isinstance(write, Update):
        await awork.update_absence(write.absence_id, write.body)
    else:
        await awork.delete_absence(write.absence_id)


def _count(report: SyncReport, write: Write) -> None:
    counts = report.actions
    if isinstance(write, Create):
        counts.created += 1
    elif isinstance(write, Update):
        counts.updated += 1
    else:
        counts.deleted += 1


def _about_this_item(error: AworkError) -> bool:
    """A definite 4xx answer about this one absence (not-found, validation-failed, …)."""
    return isinstance(error, AworkStatusError) and 400 <= error.status_code < 500


def _failure(write: Write, error: AworkError) -> Failure:
    email = write.email if isinstance(write, Create | Update) else ""
    return Failure(personio_id=write.period_id or "", email=email, reason=error.message)


async def apply_plan(
    plan: Plan,
    awork: AworkClient,
    report: SyncReport,
    *,
    progress: ProgressCallback | None = None,
    concurrency: int = 16,
    fence: Fence | None = None,
) -> None:
    tracker = _Tracker(plan.writes, awork, progress, _clock())

    async def write_one(write: Write) -> None:
        if fence is not None:
            fence()
        try:
            await _perform(write, awork)
        except AworkError as error:
            if not _about_this_item(error):  # rejected key or awork unreachable: stop
                raise
            report.actions.failed += 1
            report.failures.append(_failure(write, error))
        else:
            _count(report, write)
        await tracker.tick()

    await drain(_writes(plan), plan.writes, concurrency, write_one)
    await confirm_creates(awork, fence)
    if plan.writes:
        await tracker.tick(final=True)


async def drain(
    items: Iterable[T], count: int, concurrency: int, act: Callable[[T], Awaitable[None]]
) -> None:
    """`act` on every item, `concurrency` at a time, workers pulling from one iterator.

    D-Once-3: an `AworkError` or `LeadershipLost` that `act` lets out stops the writes
    but does not cancel those already sent beside it: each finishes, no new one starts,
    then the first is raised. awork carries out a request whose client went away all the
    same, later, where no look-up of this run or the next would see it coming.
    """
    pending = iter(items)
    stopped: list[Exception] = []

    async def worker() -> None:
        for item in pending:
            if stopped:
                return
            try:
                await act(item)
            except (AworkError, LeadershipLost) as error:
                stopped.append(error)
                return

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, min(concurrency, count))):
                group.create_task(worker())
    except ExceptionGroup as failed:  # anything else: a bug, raised as itself
        raise failed.exceptions[0] from None
    if stopped:
        raise stopped[0]


async def confirm_creates(awork: AworkClient, fence: Fence | None = None) -> int:
    """The final look-up (D-Once-2): every create whose answer was lost in this run is
    looked up once more before the run reports. awork may have stored a POST after the
    client gave up on it and sent it again; the older copy is kept (D-Settle's order),
    the others deleted, so `created` counts what awork holds. Returns how many went."""
    removed = 0
    for marker in awork.take_in_doubt():
        _, *extra = await awork.find_absences(marker)
        for absence in extra:
            if fence is not None:
                fence()
            await awork.delete_absence(absence.id)
            removed += 1
    if removed:
        log.info(
            "awork stored %d creates twice after their answers were lost; removed the extra copies",
            removed,
        )
    return removed
