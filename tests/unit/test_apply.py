"""apply_plan (R14, R15, D-Lease) against an in-memory awork, on fast-forwarded loop time.

Each fake write takes one second of loop time, so order, concurrency and the progress
cadence are read off the loop's clock without any real wait.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any, cast

import pytest

from personio_sync.clients._http import RequestStats
from personio_sync.clients.awork import AworkClient
from personio_sync.engine.model import AbsenceBody, DateRange
from personio_sync.engine.plan import Create, Delete, Plan, Update
from personio_sync.engine.report import SyncReport, UserReport
from personio_sync.errors import (
    AworkAuthError,
    AworkError,
    AworkServerError,
    AworkStatusError,
    LeadershipLost,
)
from personio_sync.sync.apply import apply_plan
from personio_sync.sync.progress import Progress

pytestmark = pytest.mark.looptime
WRITE_SECONDS = 1.0


def now() -> float:
    return asyncio.get_running_loop().time()


class Awork:
    """Records every write as (what, id, loop time it started); `fail` scripts errors."""

    def __init__(self, fail: dict[str, AworkError] | None = None) -> None:
        self.writes: list[tuple[str, str, float]] = []
        self.fail = fail or {}
        self.in_flight = 0
        self.most_in_flight = 0
        self.stats = RequestStats()

    async def _write(self, what: str, ident: str) -> dict[str, Any]:
        self.writes.append((what, ident, now()))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(WRITE_SECONDS)
        finally:
            self.in_flight -= 1
        if ident in self.fail:
            raise self.fail[ident]
        return {"id": ident}

    async def create_absence(self, body: AbsenceBody) -> dict[str, Any]:
        return await self._write("create", body.external_provider)

    async def update_absence(self, absence_id: str, body: AbsenceBody) -> dict[str, Any]:
        return await self._write("update", absence_id)

    async def delete_absence(self, absence_id: str) -> None:
        await self._write("delete", absence_id)

    def take_in_doubt(self) -> list[str]:
        return []  # every answer arrived: the final look-up has nothing to do (D-Once-2)

    @property
    def client(self) -> AworkClient:
        return cast(AworkClient, self)


def body(ident: str) -> AbsenceBody:
    day = datetime(2026, 8, 3, tzinfo=UTC)
    return AbsenceBody("u-1", day, day, False, False, "Vacation", ident)


def plan(creates: int = 0, updates: int = 0, deletes: int = 0) -> Plan:
    return Plan(
        creates=[Create(f"p{i}", body(f"c{i}"), f"c{i}@example.com") for i in range(creates)],
        updates=[Update(f"u{i}", f"p{i}", body(f"u{i}"), "") for i in range(updates)],
        deletes=[Delete(f"d{i}", f"p{i}", "left source") for i in range(deletes)],
    )


def report() -> SyncReport:
    return SyncReport(DateRange(date(2026, 8, 1), date(2026, 8, 31)), False, UserReport())


def not_found(ident: str) -> AworkStatusError:
    return AworkStatusError(f"awork answered 404 for {ident}", 404, "not-found")


async def test_r14_deletes_go_first_then_updates_then_creates() -> None:
    awork, result = Awork(), report()
    await apply_plan(plan(creates=2, updates=2, deletes=2), awork.client, result, concurrency=1)
    assert [(what, ident) for what, ident, _ in awork.writes] == [
        ("delete", "d0"), ("delete", "d1"), ("update", "u0"), ("update", "u1"),
        ("create", "c0"), ("create", "c1"),
    ]  # fmt: skip
    assert [at for *_, at in awork.writes] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    counts = result.actions
    assert (counts.created, counts.updated, counts.deleted, counts.failed) == (2, 2, 2, 0)


async def test_writes_run_concurrently_up_to_the_cap_and_no_further() -> None:
    awork = Awork()
    await apply_plan(plan(creates=40), awork.client, report(), concurrency=16)
    assert awork.most_in_flight == 16 and len(awork.writes) == 40
    assert now() == pytest.approx(3 * WRITE_SECONDS, abs=0.01)  # 16 + 16 + 8


async def test_r15_a_4xx_on_one_absence_is_recorded_and_the_run_goes_on() -> None:
    awork, result = Awork(fail={"u0": not_found("u0")}), report()
    await apply_plan(plan(creates=1, updates=2), awork.client, result, concurrency=1)
    assert len(awork.writes) == 3
    assert (result.actions.updated, result.actions.created, result.actions.failed) == (1, 1, 1)
    assert [f.personio_id for f in result.failures] == ["p0"]
    assert "404" in result.failures[0].reason


@pytest.mark.parametrize(
    "error",
    [AworkAuthError("awork rejected the API key"), AworkServerError("awork answered 503", 503)],
)
async def test_r15_a_rejected_key_or_an_unreachable_awork_stops_the_run(error: AworkError) -> None:
    awork, result = Awork(fail={"d1": error}), report()
    with pytest.raises(type(error)):
        await apply_plan(plan(creates=5, deletes=2), awork.client, result, concurrency=1)
    assert [ident for _, ident, _ in awork.writes] == ["d0", "d1"]  # nothing after it
    assert result.actions.deleted == 1 and result.failures == []


async def test_d_lease_the_fence_stops_the_run_before_the_next_write() -> None:
    awork = Awork()
    allowed = 3

    def fence() -> None:
        nonlocal allowed
        if allowed == 0:
            raise LeadershipLost("the lease was lost")
        allowed -= 1

    with pytest.raises(LeadershipLost):
        await apply_plan(plan(creates=10), awork.client, report(), concurrency=1, fence=fence)
    assert len(awork.writes) == 3


async def test_progress_is_reported_at_once_then_every_two_seconds_and_at_the_end() -> None:
    awork, seen = Awork(), []

    async def progress(update: Progress) -> None:
        seen.append((now(), update.done, update.total))

    await apply_plan(plan(creates=7), awork.client, report(), progress=progress, concurrency=1)
    assert seen == [(1.0, 1, 7), (3.0, 3, 7), (5.0, 5, 7), (7.0, 7, 7), (7.0, 7, 7)]


async def test_an_empty_plan_writes_nothing_and_reports_nothing() -> None:
    awork, seen = Awork(), []

    async def progress(update: Progress) -> None:
        seen.append(update)

    await apply_plan(Plan(), awork.client, report(), progress=progress)
    assert awork.writes == [] and seen == []
