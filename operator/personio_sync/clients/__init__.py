"""Async clients for Personio (v2), awork (v1) and Kubernetes (kube.py, on lightkube).

The vendor clients, built around an injected httpx.AsyncClient, return the engine's
dataclasses (`personio_sync.engine.model`) and raise only `personio_sync.errors`
exceptions; `stats` on each counts requests per endpoint, 429s and time spent waiting
on rate limits. The Kubernetes client returns plain dicts and raises its own KubeError
kinds (docs/kubernetes-client.md).
"""

from personio_sync.clients._fence import Fence, fence_writes
from personio_sync.clients._http import RequestStats
from personio_sync.clients._pacing import PacerRegistry, workspace_key
from personio_sync.clients.awork import AworkClient
from personio_sync.clients.personio import PersonioClient, TokenCache

__all__ = [
    "AworkClient",
    "Fence",
    "PacerRegistry",
    "PersonioClient",
    "RequestStats",
    "TokenCache",
    "fence_writes",
    "workspace_key",
]
