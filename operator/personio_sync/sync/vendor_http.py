"""The two vendor HTTP clients an operator process shares across its runs (issue 18).

Building an `httpx.AsyncClient` costs tens of milliseconds of CPU (its TLS context loads
the CA bundle), and closing one throws its warm connections away: one pair per run was
most of a no-change run's cost. One pair for the process's life keeps both, and one TLS
context serves both clients. A run still gets its own `PersonioClient` and
`AworkClient` (their retries, pacer, token and request counts are the run's); only the
connection pools are shared.

The awork pool is fenced once (D-Lease): the operator's fence looks up which resource the
sending task acts for and checks the Lease of that resource's shard (SHARD-4), so every
write of every run passes its own shard's fence as its bytes leave.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import httpx

from personio_sync.clients import Fence, fence_writes
from personio_sync.sync.config import Tuning


@dataclass
class VendorHttp:
    personio: httpx.AsyncClient
    awork: httpx.AsyncClient

    @classmethod
    def open(
        cls,
        tuning: Tuning = Tuning(),
        fence: Fence | None = None,
        *,
        runs: int = 1,
        tls: ssl.SSLContext | None = None,
    ) -> VendorHttp:
        """Pools sized for `runs` concurrent runs (the operator's slots), each with a run's
        connections (`Tuning.max_connections`)."""
        tls = tls or httpx.create_ssl_context()
        limits = httpx.Limits(max_connections=tuning.max_connections * max(runs, 1))
        timeout = httpx.Timeout(tuning.timeout_seconds)
        personio = httpx.AsyncClient(timeout=timeout, limits=limits, verify=tls)
        awork = httpx.AsyncClient(timeout=timeout, limits=limits, verify=tls)
        if fence is not None:  # checked as each request leaves, every attempt (D-Lease)
            fence_writes(awork, fence)
        return cls(personio, awork)

    async def aclose(self) -> None:
        await self.personio.aclose()
        await self.awork.aclose()
