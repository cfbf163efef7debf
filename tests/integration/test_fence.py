"""D-Lease over HTTP: once the fence closes (the replica lost its Lease), awork gets no write.

The fence is what the operator passes in (`LeaderElector.fence`); here a plain function
that closes on a condition read from the fake's journal.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from runner_helpers import (
    DEMO,
    OWNER,
    TODAY,
    absence_body,
    awork_writes,
    make_spec,
    sandbox_for,
)

from personio_sync.clients import fence_writes
from personio_sync.engine.marker import make_marker
from personio_sync.engine.report import SyncReport
from personio_sync.errors import LeadershipLost
from personio_sync.resource.spec_policy import policy_of
from personio_sync.sync.runner import Endpoints, Tuning, delete_owned, open_clients, run_sync
from personio_sync_testing.devtools.polling import eventually_async
from personio_sync_testing.fakes import Sandbox, demo_seed_path

DEMO_CREATES = 7  # the demo seed's first run


@pytest.fixture
def demo() -> Iterator[Sandbox]:
    with sandbox_for(demo_seed_path()) as sandbox:
        yield sandbox


def closes_when(condition: Callable[[], bool]) -> Callable[[], None]:
    def fence() -> None:
        if condition():
            raise LeadershipLost("lease lost (test)")

    return fence


def stored(sandbox: Sandbox, period_id: str) -> list[str]:
    marker = make_marker(OWNER, period_id)
    return [a.id for a in sandbox.awork_state.absences.values() if a.externalProvider == marker]


async def sync_fenced(sandbox: Sandbox, fence: Callable[[], None]) -> SyncReport:
    return await run_sync(
        policy_of(make_spec()),
        DEMO,
        owner_key=OWNER,
        endpoints=Endpoints(sandbox.personio_url, sandbox.awork_url),
        today=TODAY,
        tuning=Tuning(write_concurrency=1),
        fence=fence,
    )


async def test_d_lease_a_closed_fence_stops_the_run_before_the_next_write(demo: Sandbox) -> None:
    with pytest.raises(LeadershipLost):
        await sync_fenced(demo, closes_when(lambda: len(awork_writes(demo)) >= 3))
    assert len(awork_writes(demo)) == 3  # the demo plan has DEMO_CREATES creates


async def test_kube_2_d_lease_a_run_started_over_skips_what_the_abandoned_run_wrote(
    demo: Sandbox,
) -> None:
    """With leader election an API-server outage closes the fence mid-run (the lease
    cannot be renewed); the run starts over when the API server is back. It plans from
    what awork holds then, so it writes only what the abandoned run did not."""
    with pytest.raises(LeadershipLost):
        await sync_fenced(demo, closes_when(lambda: len(awork_writes(demo)) >= 3))
    abandoned = len(awork_writes(demo))
    report = await sync_fenced(demo, lambda: None)
    started_over = awork_writes(demo)[abandoned:]
    assert report.actions.created == len(started_over) == DEMO_CREATES - abandoned
    assert {e.method for e in started_over} == {"POST"}
    markers = [a.externalProvider for a in demo.awork_state.absences.values() if a.externalProvider]
    assert len(markers) == len(set(markers)) == DEMO_CREATES


async def test_d_lease_a_write_waiting_for_its_retry_is_not_sent_after_the_fence_closes(
    demo: Sandbox,
) -> None:
    """The last check is as the request's bytes leave (the fenced socket), not only when
    the write is picked: a write in back-off (or in the pacer) re-checks the fence."""
    demo.awork.inject({"kind": "status", "path_prefix": "/absences", "method": "POST", "times": 1})
    with pytest.raises(LeadershipLost):
        await sync_fenced(demo, closes_when(lambda: len(awork_writes(demo)) >= 1))
    assert [e.fault for e in awork_writes(demo)] == ["status"]  # the retry never went out


async def test_d_lease_delete_owned_deletes_nothing_behind_a_closed_fence(demo: Sandbox) -> None:
    await sync_fenced(demo, lambda: None)
    created = len(awork_writes(demo))
    with pytest.raises(LeadershipLost):
        await delete_owned(
            DEMO,
            owner_key=OWNER,
            endpoints=Endpoints(demo.personio_url, demo.awork_url),
            fence=closes_when(lambda: True),
        )
    assert len(awork_writes(demo)) == created


async def test_d_lease_a_write_waiting_for_a_pooled_connection_is_not_sent_after_the_fence_closes(
    demo: Sandbox,
) -> None:
    """Why a frozen leader once wrote after it resumed (issue 15): the fence was checked
    before a request waited for a pooled connection. Here slow reads hold every pooled
    connection, a create passes every early check and waits for one, and the fence
    closes meanwhile (the first slow read to finish frees a connection, as a resumed
    process would): the create must never reach awork."""
    demo.awork.set_knobs(route_latency_ms={"/api/v1/users": 1500})
    tuning = Tuning(write_concurrency=1)
    closed = closes_when(lambda: demo.awork.journal.count("GET", "/api/v1/users") > 0)
    endpoints = Endpoints(demo.personio_url, demo.awork_url)
    async with open_clients(DEMO, endpoints, tuning, closed) as clients:
        readers = [
            asyncio.create_task(clients.awork.list_users()) for _ in range(tuning.max_connections)
        ]
        await eventually_async(
            lambda: demo.awork.in_flight == tuning.max_connections, what="every connection busy"
        )
        with pytest.raises(LeadershipLost):
            await clients.awork.create_absence(absence_body(demo, "p-waiting"))
        await asyncio.gather(*readers, return_exceptions=True)
    assert demo.awork.journal.count("POST") == 0
    assert not stored(demo, "p-waiting")


async def test_d_lease_a_request_leaves_whole_or_not_at_all(demo: Sandbox) -> None:
    """The fence is checked once per attempt, with the whole request in hand: a fence
    closed at that moment sends awork nothing, not even a cut request (awork would never
    process one, but a fake counting requests would); an open one sends it whole."""
    calls: list[int] = []

    def closes_after_one_request() -> None:
        calls.append(1)
        if len(calls) > 1:
            raise LeadershipLost("lease lost (test)")

    endpoints = Endpoints(demo.personio_url, demo.awork_url)
    async with open_clients(DEMO, endpoints, Tuning(), closes_after_one_request) as clients:
        await clients.awork.create_absence(absence_body(demo, "p-whole"))
        with pytest.raises(LeadershipLost):
            await clients.awork.create_absence(absence_body(demo, "p-never"))
    assert len(calls) == 2  # one check per request: headers and body leave together
    assert stored(demo, "p-whole") and not stored(demo, "p-never")
    assert [e.fault for e in demo.awork.journal.entries() if e.method == "POST"] == [None]


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_d_lease_the_fenced_backend_speaks_tls_and_fences_there_too(
    certificate: tuple[Path, Path],
) -> None:
    """awork is https: the fenced connections do the TLS handshake (start_tls) themselves."""
    cert, key = certificate
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    seen: list[str] = []

    async def hello(request: web.Request) -> web.Response:
        seen.append(request.method)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_route("*", "/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=served)
    await site.start()
    port = runner.addresses[0][1]
    lost = False
    try:
        async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=cert)) as http:
            fence_writes(http, closes_when(lambda: lost))
            assert (await http.get(f"https://127.0.0.1:{port}/")).json() == {"ok": True}
            lost = True
            with pytest.raises(LeadershipLost):
                await http.post(f"https://127.0.0.1:{port}/", json={})
    finally:
        await runner.cleanup()
    assert seen == ["GET"]
