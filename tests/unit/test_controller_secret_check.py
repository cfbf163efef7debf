"""SEC-1: a rotated Secret is noticed by a GET at each worker wake-up, not by a watch.

The worker runs on a fake Kubernetes client that serves one Secret and counts the reads;
the clock is fixed, so the resource's next scheduled run is always an hour away and any
run seen here was triggered by the Secret check.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from personio_sync.clients.kube import KubeClient, KubeUnavailable
from personio_sync.controller.context import Context
from personio_sync.controller.loop.slots import FairSlots
from personio_sync.controller.loop.worker import Worker
from personio_sync.controller.reporting.metrics import Metrics
from personio_sync.controller.runs import full as controller_runs
from personio_sync.controller.schedule import Decision
from personio_sync.controller.settings import OperatorSettings
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

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.reads.append((namespace, name))
        if self.down:
            raise KubeUnavailable("Kubernetes API GET: no answer (ConnectError)", 0)
        if self.version is None:
            return None
        return {"metadata": {"name": name, "resourceVersion": self.version},
                "data": {"aworkApiKey": "c2VjcmV0"}}  # fmt: skip


def context(kube: FakeKube, check_seconds: float = 300.0) -> Context:
    return Context(
        settings=OperatorSettings(secret_check_seconds=check_seconds),
        kube=cast(KubeClient, kube),
        metrics=Metrics(),
        slots=FairSlots(1),
        now=lambda: T0,
    )


@pytest.mark.parametrize(
    ("before", "after"),
    [("5", "6"), (None, "7"), ("5", None)],
    ids=["rotated", "created", "deleted"],
)
async def test_sec_1_a_new_secret_version_at_a_wake_up_means_a_secret_changed_run(
    before: str | None, after: str | None
) -> None:
    kube = FakeKube(before)
    worker = Worker(context(kube), synced_body())
    await worker._check_secret()  # the first sighting is the baseline, not a change
    assert worker._decide().reason == "Waiting"
    await worker._check_secret()
    assert worker._decide().reason == "Waiting"  # same version: nothing to do
    kube.version = after
    await worker._check_secret()
    assert worker._decide() == Decision(True, "SecretChanged")
    assert set(kube.reads) == {("hr", "creds")}  # the named Secret only, by GET


async def test_sec_1_an_unreadable_secret_is_no_change() -> None:
    kube = FakeKube("5")
    worker = Worker(context(kube), synced_body())
    await worker._check_secret()
    kube.down = True
    await worker._check_secret()
    assert worker._decide().reason == "Waiting"
    kube.down, kube.version = False, "5"
    await worker._check_secret()
    assert worker._decide().reason == "Waiting"


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """runs.sync replaced: records the Secret version each run would read."""
    calls: list[str] = []

    async def fake_sync(ctx: Context, body: Any, seen: Any, **_: Any) -> None:
        calls.append(str(cast(FakeKube, ctx.kube).version))

    monkeypatch.setattr(controller_runs, "sync", fake_sync)
    yield calls


async def test_sec_1_an_idle_worker_checks_its_secret_every_interval_and_runs_on_a_change(
    runs: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    """No event arrives and nothing is due for an hour: the wake-ups come from the
    check interval alone, and the first one after the rotation runs the sync."""
    caplog.set_level(logging.INFO, logger="personio_sync.controller")
    kube = FakeKube("5")
    worker = Worker(context(kube, check_seconds=0.05), synced_body())
    worker.start()
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
        await worker.stop()
    assert "sync started (SecretChanged)" in caplog.text


def test_sec_1_the_check_interval_cannot_exceed_five_minutes() -> None:
    assert OperatorSettings().secret_check_seconds == 300
    with pytest.raises(ValueError, match="300"):
        OperatorSettings(secret_check_seconds=301)
