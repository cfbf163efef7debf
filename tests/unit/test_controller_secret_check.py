"""SEC-1: a rotated Secret is noticed by a GET at each worker wake-up, not by a watch.

The worker runs on a fake Kubernetes client that serves one Secret and counts the reads;
the clock is fixed, so the resource's next scheduled run is always an hour away and any
run seen here was triggered by the Secret check.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from controller_fakes import make_context

from personio_sync.controller.loop.collaborators import Collaborators
from personio_sync.controller.loop.secret_checks import SecretChecks
from personio_sync.controller.loop.slots import FairSlots
from personio_sync.controller.loop.worker import Worker
from personio_sync.controller.schedule import Decision
from personio_sync.controller.settings import OperatorSettings
from personio_sync.errors import KubeError, KubeUnavailable
from personio_sync_testing.devtools.polling import eventually_async

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def synced_body() -> dict[str, Any]:
    """A resource synced at T0, next due an hour later: nothing is due at T0."""
    return {
        "metadata": {"name": "team", "namespace": "hr", "uid": "u-1", "generation": 1,
                     "resourceVersion": "10"},
        "spec": {"secretRef": {"name": "creds"}, "interval": "1h"},
        "status": {"observedGeneration": 1, "lastSyncTime": stamp(T0),
                   "lastSuccessfulSyncTime": stamp(T0),
                   "nextSyncTime": stamp(T0 + timedelta(hours=1))},
    }  # fmt: skip


class FakeKube:
    """Serves the Secret `hr/creds` at `version` (None: missing); only GETs are allowed."""

    def __init__(self, version: str | None) -> None:
        self.version = version
        self.reads: list[tuple[str, str]] = []
        self.down = False
        self.refusing = False

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.reads.append((namespace, name))
        if self.down:
            raise KubeUnavailable("Kubernetes API GET: no answer (ConnectError)", 0)
        if self.refusing:
            raise KubeError("Kubernetes API GET secrets/creds: 403 Forbidden", 403)
        if self.version is None:
            return None
        return {"metadata": {"name": name, "resourceVersion": self.version},
                "data": {"aworkApiKey": "c2VjcmV0"}}  # fmt: skip


def worker(kube: FakeKube, check_seconds: float = 300.0, **calls: Any) -> Worker:
    ctx = make_context(kube, now=lambda: T0, secret_check_seconds=check_seconds)
    return Worker(ctx, synced_body(), slots=FairSlots(1), calls=Collaborators(**calls))


@pytest.mark.parametrize(
    ("before", "after"),
    [("5", "6"), (None, "7"), ("5", None)],
    ids=["rotated", "created", "deleted"],
)
async def test_sec_1_a_new_secret_version_at_a_wake_up_means_a_secret_changed_run(
    before: str | None, after: str | None
) -> None:
    kube = FakeKube(before)
    w = worker(kube)
    await w._check_secret()  # the first sighting is the baseline, not a change
    assert w._decide().reason == "Waiting"
    await w._check_secret()
    assert w._decide().reason == "Waiting"  # same version: nothing to do
    kube.version = after
    await w._check_secret()
    assert w._decide() == Decision(True, "SecretChanged")
    assert set(kube.reads) == {("hr", "creds")}  # the named Secret only, by GET


async def test_sec_1_an_unreadable_secret_is_no_change() -> None:
    kube = FakeKube("5")
    w = worker(kube)
    await w._check_secret()
    kube.down = True
    await w._check_secret()
    assert w._decide().reason == "Waiting"
    kube.down, kube.version = False, "5"
    await w._check_secret()
    assert w._decide().reason == "Waiting"


async def test_sec_1_an_idle_worker_checks_its_secret_every_interval_and_runs_on_a_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No event arrives and nothing is due for an hour: the wake-ups come from the
    check interval alone, and the first one after the rotation runs the sync."""
    caplog.set_level(logging.INFO, logger="personio_sync.controller")
    kube = FakeKube("5")
    runs: list[str] = []

    async def full(ctx: Any, view: Any, seen: Any, **_: Any) -> None:
        runs.append(str(cast(FakeKube, ctx.kube).version))  # the version the run would read

    async def nothing(*_: Any) -> None:
        return None

    w = worker(kube, check_seconds=0.05, full=full, after_run=nothing)
    w.start()
    try:

        async def read_often() -> bool:
            return len(kube.reads) >= 3

        await eventually_async(read_often, within=20, what="three Secret checks")
        assert runs == []
        kube.version = "6"

        async def ran() -> bool:
            return runs == ["6"]

        await eventually_async(ran, within=20, what="a run after the rotation")
    finally:
        await w.stop()
    assert "sync started (SecretChanged)" in caplog.text


def test_sec_1_the_check_interval_cannot_exceed_five_minutes() -> None:
    assert OperatorSettings().secret_check_seconds == 300
    with pytest.raises(ValueError, match="300"):
        OperatorSettings(secret_check_seconds=301)


def failed_checks(w: Worker, reason: str) -> float | None:
    return w.ctx.metrics.registry.get_sample_value(
        "personio_sync_secret_check_failures_total", {"namespace": "hr", "reason": reason}
    )


def test_scale_2_the_checks_are_spread_over_the_last_quarter_before_the_bound() -> None:
    """Workers started together do not check in the same second: each sleep is drawn
    from [0.75, 1] of PERSONIO_SYNC_SECRET_CHECK_SECONDS, never above it (SEC-1)."""
    w = worker(FakeKube("5"))
    bounds = [SecretChecks(w.ctx, "hr", "team", draw=lambda d=d: d).within()
              for d in (0.0, 0.5, 0.999)]  # fmt: skip
    assert bounds[0] == 300 and bounds[1] == 262.5 and 225 < bounds[2] < 226
    drawn = {round(w.checks.within(), 3) for _ in range(50)}  # the worker's: random draws
    assert len(drawn) > 1 and all(225 <= b <= 300 for b in drawn)


async def test_scale_2_a_failed_check_is_counted_logged_once_and_retried_sooner(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="personio_sync.controller")
    kube = FakeKube("5")
    w = worker(kube)
    await w._check_secret()
    kube.down = True
    await w._check_secret()
    assert failed_checks(w, "unavailable") == 1
    assert w.checks.within() <= 30  # the retry base, not five minutes
    await w._check_secret()
    assert failed_checks(w, "unavailable") == 2
    assert 30 < w.checks.within() <= 60  # backing off
    assert caplog.text.count("cannot check Secret 'creds'") == 1  # once per streak
    assert [r.levelname for r in caplog.records if "cannot check" in r.message] == ["INFO"]
    kube.down = False
    await w._check_secret()
    assert "Secret 'creds' checked again after 2 failed checks" in caplog.text
    assert 225 <= w.checks.within() <= 300
    assert w._decide().reason == "Waiting"  # the same version: still no change (SEC-1)


async def test_scale_2_a_refused_check_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    kube = FakeKube("5")
    kube.refusing = True
    w = worker(kube)
    await w._check_secret()
    assert failed_checks(w, "refused") == 1 and failed_checks(w, "unavailable") is None
    warned = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and "403 Forbidden" in warned[0].message
    assert "c2VjcmV0" not in caplog.text
