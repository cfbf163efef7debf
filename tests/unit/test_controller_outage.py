"""KUBE-1..KUBE-4: an API server or etcd outage is the control plane's, not the vendor's.

The Kubernetes client runs on an injected httpx transport that plays the API server
(up, down, answering 5xx); back-off sleeps are recorded, never slept.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest
from controller_fakes import make_context, mock_kube

from personio_sync.clients.kube import KubeClient, until_answered
from personio_sync.controller.context import Context
from personio_sync.controller.loop.worker import observation
from personio_sync.controller.reporting import outcomes as status_mod
from personio_sync.controller.runs import full, in_flight
from personio_sync.controller.runs.inputs import SecretSeen
from personio_sync.controller.schedule import decide
from personio_sync.controller.view import ResourceView, in_progress
from personio_sync.errors import KubeConflict, KubeError, KubeUnavailable, RunTimedOut
from personio_sync.sync.progress import Progress

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
Handler = Callable[[httpx2.Request], httpx2.Response]


class ApiServer:
    """A scripted API server: each request gets the next scripted answer (or the default)."""

    def __init__(self, default: Handler) -> None:
        self.script: list[Handler] = []
        self.default = default
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        handler = self.script.pop(0) if self.script else self.default
        return handler(request)


def refused(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ConnectError("connection refused", request=request)


def answer(code: int, body: object = None) -> Handler:
    return lambda request: httpx2.Response(code, json=body if body is not None else {})


def echo_status(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(200, content=b'{"metadata": {"resourceVersion": "7"}}')


def client(server: ApiServer) -> KubeClient:
    return mock_kube(server)


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def context(
    kube: KubeClient, sleeps: Sleeps, events: list[tuple[str, str]], **settings: Any
) -> Context:
    return make_context(kube, now=lambda: NOW, events=events, sleep=sleeps, **settings)


def resource(spec: dict[str, Any], status: dict[str, Any] | None = None) -> ResourceView:
    meta = {"namespace": "hr", "name": "team", "generation": 2, "resourceVersion": "5"}
    return ResourceView.of({"metadata": meta, "spec": spec, "status": status or {}})


VALID_SPEC = {"secretRef": {"name": "creds"}, "interval": "1h"}


async def test_kube_1_transport_errors_and_5xx_are_kube_unavailable() -> None:
    server = ApiServer(refused)
    kube = client(server)
    with pytest.raises(KubeUnavailable) as caught:
        await kube.get_secret("hr", "creds")
    assert caught.value.status_code == 0 and "ConnectError" in str(caught.value)
    assert isinstance(caught.value.__cause__, httpx2.ConnectError)
    for code in (500, 503, 504, 429):
        server.default = answer(code, {"message": "etcdserver: request timed out"})
        with pytest.raises(KubeUnavailable) as status_caught:
            await kube.get_secret("hr", "creds")
        assert status_caught.value.status_code == code
    server.default = lambda request: httpx2.Response(502)  # a proxy's bare answer: no body
    with pytest.raises(KubeUnavailable) as bare:
        await kube.get_secret("hr", "creds")
    assert bare.value.status_code == 502
    server.default = answer(409)
    with pytest.raises(KubeConflict):
        await kube.patch_resource("hr", "team", {})
    server.default = answer(403)
    with pytest.raises(KubeError) as forbidden:
        await kube.get_secret("hr", "creds")
    assert not isinstance(forbidden.value, KubeUnavailable)
    server.default = answer(404)
    assert await kube.get_secret("hr", "creds") is None
    await kube.close()


async def test_kube_1_one_log_line_per_change_of_state(caplog: pytest.LogCaptureFixture) -> None:
    server = ApiServer(refused)
    kube = client(server)
    caplog.set_level(logging.INFO, logger="personio_sync.kube")
    for _ in range(5):
        with pytest.raises(KubeUnavailable):
            await kube.get_secret("hr", "creds")
    server.default = answer(200, {"metadata": {}})
    for _ in range(3):
        await kube.get_secret("hr", "creds")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert "unreachable" in lines[0] and "reachable again" in lines[1]
    assert not any(r.exc_info for r in caplog.records)  # no traceback for an outage
    await kube.close()


async def test_kube_2_until_answered_backs_off_and_stops_on_a_definite_answer() -> None:
    sleeps = Sleeps()
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 6:
            raise KubeUnavailable("down", 0)
        return "written"

    assert await until_answered(flaky, sleep=sleeps) == "written"
    assert sleeps.delays == [0.5, 1.0, 2.0, 4.0, 5.0]  # doubling, capped

    async def forbidden() -> str:
        raise KubeError("403", 403)

    with pytest.raises(KubeError):
        await until_answered(forbidden, sleep=sleeps)


async def test_kube_2_the_final_status_write_is_retried_until_the_api_server_answers() -> None:
    """An invalid spec needs no vendor: the run's outcome is written after three refusals."""
    server = ApiServer(echo_status)
    server.script = [refused, answer(503), answer(504)]
    sleeps, events = Sleeps(), []  # type: ignore[var-annotated]
    ctx = context(client(server), sleeps, events)
    body = resource({"secretRef": {"name": "creds"}, "interval": "nonsense"})
    written = await full.sync(ctx, body, SecretSeen())
    assert written == {"metadata": {"resourceVersion": "7"}}
    status_writes = [r for r in server.requests if r.url.path.endswith("/status")]
    assert len(status_writes) == 4 and len(sleeps.delays) == 3
    assert events == [("Warning", "InvalidSpec")]  # posted once, after the write landed
    await ctx.kube.close()


async def test_kube_3_an_outage_at_run_start_is_kubernetes_unavailable_and_retried_at_once() -> (
    None
):
    server = ApiServer(echo_status)
    # The run-start mark and the Secret read meet the outage; the status write lands.
    server.script = [answer(503), answer(503)]
    sleeps, events = Sleeps(), []  # type: ignore[var-annotated]
    ctx = context(client(server), sleeps, events, syncing_mark_seconds=0)  # marked at once
    previous = {
        "lastSyncTime": "2026-03-02T08:00:00Z",
        "lastSuccessfulSyncTime": "2026-03-02T08:00:00Z",
    }
    await full.sync(ctx, resource(VALID_SPEC, previous), SecretSeen())
    written = server.requests[-1]
    status = _json(written)[0]["value"]
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "KubernetesUnavailable" and ready["status"] == "False"
    assert "InternalError" not in str(status)
    assert status["nextSyncTime"] == "2026-03-02T09:00:00Z"  # no back-off: due at once
    after = resource(VALID_SPEC, status)
    assert decide(observation(after, secret_changed=False), NOW).run
    assert events == [("Warning", "KubernetesUnavailable")]
    await ctx.kube.close()


async def test_kube_2_a_failed_progress_write_never_stops_the_run() -> None:
    server = ApiServer(refused)
    ctx = context(client(server), Sleeps(), [])
    view = resource(VALID_SPEC)
    writer = in_flight.ProgressWriter(ctx, view, every=0.0, mark=in_flight.SyncingMark(ctx, view))
    await writer(Progress(done=1, total=10, rate_per_second=1.0, eta_seconds=9.0, bottleneck=None))
    assert len(server.requests) == 2  # the mark, then progress: tried, failed quietly
    await ctx.kube.close()


def test_kube_4_a_run_in_progress_shows_on_synced_and_keeps_its_status() -> None:
    previous = status_mod.after_error(
        {}, RunTimedOut("slow"), stamp=status_mod.Stamp(1, NOW), next_sync=None
    )
    later = status_mod.Stamp(1, NOW.replace(hour=10))
    patch = status_mod.syncing(previous, stamp=later)
    synced = next(c for c in patch["conditions"] if c["type"] == "Synced")
    assert synced["reason"] == "Syncing" and synced["status"] == "False"
    assert synced["lastTransitionTime"] == "2026-03-02T09:00:00Z"  # status unchanged: no flap
    assert "10:00:00Z" in synced["message"]
    ready = next(c for c in patch["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "RunTimedOut"  # only Synced moves
    assert in_progress({**previous, **patch})
    assert not in_progress(previous)


def test_kube_4_a_mark_left_by_a_dead_process_makes_the_resource_due() -> None:
    """Decision: the run that process started never finished, so it is run again now."""
    done = {
        "observedGeneration": 2,
        "lastSyncTime": "2026-03-02T08:59:00Z",
        "lastSuccessfulSyncTime": "2026-03-02T08:59:00Z",
        "nextSyncTime": "2026-03-02T09:59:00Z",
    }
    assert not decide(observation(resource(VALID_SPEC, done), secret_changed=False), NOW).run
    stale = {**done, **status_mod.syncing(done, stamp=status_mod.Stamp(2, NOW))}
    decision = decide(observation(resource(VALID_SPEC, stale), secret_changed=False), NOW)
    assert decision.run and decision.reason == "Interrupted"


def _json(request: httpx2.Request) -> Any:
    return json.loads(request.content)
