"""Async clients for Personio (v2) and awork (v1), built around an injected httpx.AsyncClient.

They return the engine's dataclasses (`personio_sync.engine.model`) and raise only
`personio_sync.errors` exceptions. `stats` on each client counts requests per
endpoint, 429s and time spent waiting on rate limits.
"""

from personio_sync.clients._http import RequestStats
from personio_sync.clients._pacing import PacerRegistry
from personio_sync.clients.awork import AworkClient
from personio_sync.clients.personio import PersonioClient, TokenCache

__all__ = ["AworkClient", "PacerRegistry", "PersonioClient", "RequestStats", "TokenCache"]
