"""Run both fakes together: in a background thread (`Sandbox`, for tests and sync
code) or in the foreground (`serve_sandbox`, for `personio-sync sandbox`).

The thread owns its own event loop, so a `Sandbox` works from plain sync code
and from inside another running event loop alike (operator e2e tests, CLI
subprocess tests).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import date
from typing import IO, Any, TextIO

from personio_sync_testing.fakes.awork import AworkState, FakeAwork
from personio_sync_testing.fakes.knobs import AworkKnobs, PersonioKnobs
from personio_sync_testing.fakes.personio import FakePersonio, PersonioState
from personio_sync_testing.fakes.seed import SeedSource, demo_seed_path, load_seed


class Sandbox:
    """Fake Personio + fake awork on free 127.0.0.1 ports, served from a daemon thread.

    >>> with Sandbox(seed) as sb:
    ...     run_sync(personio_url=sb.personio_url, awork_url=sb.awork_url, ...)
    ...     sb.personio_state.reject("period-id")
    """

    def __init__(
        self,
        seed: SeedSource = None,
        *,
        today: date | None = None,
        personio_knobs: PersonioKnobs | None = None,
        awork_knobs: AworkKnobs | None = None,
        host: str = "127.0.0.1",
        personio_port: int = 0,
        awork_port: int = 0,
    ) -> None:
        doc = load_seed(seed, today=today)
        self.personio = FakePersonio(
            doc, knobs=personio_knobs, today=today, host=host, port=personio_port
        )
        self.awork = FakeAwork(doc, knobs=awork_knobs, today=today, host=host, port=awork_port)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def personio_url(self) -> str:
        return self.personio.url

    @property
    def awork_url(self) -> str:
        return self.awork.url

    @property
    def personio_state(self) -> PersonioState:
        return self.personio.state

    @property
    def awork_state(self) -> AworkState:
        return self.awork.state

    def start(self) -> Sandbox:
        self._thread = threading.Thread(target=self._run, name="fake-sandbox", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("the sandbox did not start within 30 s")
        if self._error is not None:
            raise RuntimeError(f"the sandbox could not start: {self._error}") from self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._loop = self._thread = None

    def reset(self) -> None:
        """Both fakes back to the seed; faults, journals and knobs cleared."""
        self.personio.reset()
        self.awork.reset()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._start_servers())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._loop = loop
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._stop_servers())
        loop.close()

    async def _start_servers(self) -> None:
        await self.personio.start()
        try:
            await self.awork.start()
        except BaseException:
            await self.personio.stop()
            raise

    async def _stop_servers(self) -> None:
        await self.personio.stop()
        await self.awork.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Sandbox:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)


async def serve_sandbox(
    seed_path: str | None,
    host: str = "127.0.0.1",
    personio_port: int = 0,
    awork_port: int = 0,
    *,
    latency_ms: float = 0.0,
    rate_limits: bool = False,
    time_scale: float = 1.0,
    today: date | None = None,
    out: TextIO | None = None,
) -> None:
    """Serve both fakes until cancelled; prints the base URLs and the seed's credentials.

    `seed_path` None serves the bundled demo company. Ports 0 pick free ports.
    """
    common: dict[str, Any] = {
        "latency_ms": latency_ms,
        "rate_limits": rate_limits,
        "time_scale": time_scale,
    }
    doc = load_seed(seed_path or demo_seed_path(), today=today)
    personio = FakePersonio(
        doc, knobs=PersonioKnobs(**common), today=today, host=host, port=personio_port
    )
    awork = FakeAwork(doc, knobs=AworkKnobs(**common), today=today, host=host, port=awork_port)
    async with personio, awork:
        _banner(personio, awork, out or sys.stdout)
        await asyncio.Event().wait()


def _banner(personio: FakePersonio, awork: FakeAwork, out: TextIO) -> None:
    """The sandbox's credentials are fake, so printing them is the point."""
    lines = [f"Personio (fake): {personio.url}   admin: {personio.root_url}/_admin/state"]
    for cred in personio.state.credentials.values():
        lines.append(f"  client id: {cred.client_id}   client secret: {cred.client_secret}")
    lines.append(f"awork (fake):    {awork.url}   admin: {awork.root_url}/_admin/state")
    for key in awork.state.api_keys:
        lines.append(f"  API key: {key}")
    lines.append("Press Ctrl+C to stop.")
    print("\n".join(lines), file=out, flush=True)


_BANNER_URL = re.compile(r"\(fake\):\s+(http://\S+)")


def spawn_sandbox(
    args: Sequence[str] = (),
    *,
    stderr: IO[str] | None = None,
    banner: IO[str] | None = None,
    new_session: bool = False,
    timeout: float = 120.0,
) -> tuple[subprocess.Popen[str], str, str]:
    """`personio-sync sandbox ARGS` in a process of its own (the demo and the benchmarks:
    it outlives the caller, or keeps its work off the measured process). Returns the
    process and the fake Personio and awork URLs read from its banner, which is also
    copied to `banner`."""
    command = [sys.executable, "-m", "personio_sync.cli", "sandbox", *args]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=stderr, text=True, start_new_session=new_session
    )
    assert proc.stdout is not None
    urls: list[str] = []
    deadline = time.monotonic() + timeout
    while len(urls) < 2 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if banner is not None:
            banner.write(line)
        found = _BANNER_URL.search(line)
        if found:
            urls.append(found.group(1))
    if len(urls) < 2:
        proc.kill()
        raise RuntimeError("the sandbox did not start; see its stderr")
    return proc, urls[0], urls[1]
