"""What a run reads before it calls a vendor: the Secret, its credentials, the clients.

The referenced Secret is read with one GET per worker wake-up (SEC-1: never watched or
listed), and that one read serves everything the wake-up does: the rotation check, the
run's credentials, the webhook token of the registration after it. A run outside the
worker's loop (a test, a deletion) reads it itself.

A missing Secret and a missing key are different fixes, and a missing or malformed
`aworkApiKey` says nothing about the Personio credential, so the error carries which
vendors it affects (R21, R23, SEC-4). Values are never formatted into messages.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from personio_sync.controller.context import Context
from personio_sync.controller.settings import OperatorSettings
from personio_sync.errors import KubeError, KubernetesUnavailable, KubeUnavailable, SecretProblem
from personio_sync.reasons import ConditionReason
from personio_sync.sync import runner
from personio_sync.sync.config import Credentials
from personio_sync.sync.credentials import SECRET_KEYS, credentials_from_secret, read_secret_keys

_VENDOR_OF_KEY = {
    "personioClientId": "personio",
    "personioClientSecret": "personio",
    "aworkApiKey": "awork",
}
_BOTH = frozenset({"personio", "awork"})


@dataclass(frozen=True)
class SecretRead:
    """One GET of the referenced Secret: its body (None: it does not exist), or the
    Kubernetes error that kept it from being read."""

    name: str
    body: Mapping[str, Any] | None = field(default=None, repr=False)
    failure: KubeError | None = None

    @property
    def version(self) -> str | None:
        """Its resourceVersion; None while it does not exist."""
        if self.body is None:
            return None
        version = (self.body.get("metadata") or {}).get("resourceVersion")
        return None if version is None else str(version)


@dataclass
class SecretSeen:
    """What this process knows of the referenced Secret (rotation, clean-up, this wake-up).

    `known` is False until a read succeeded: the first sighting after a start is a
    baseline, not a change, so a restart fires no burst of runs. `current` is the read of
    the worker's current wake-up, which its runs use instead of reading again."""

    name: str | None = None
    version: str | None = None
    known: bool = False
    credentials: Credentials | None = field(default=None, repr=False)  # the last usable ones
    current: SecretRead | None = None

    def saw(self, read: SecretRead) -> bool:
        """Keep `read` as this wake-up's; True when it shows a change after the first
        sighting (SEC-1). A read that failed changes nothing."""
        self.current = read
        if read.failure is not None:
            return False
        if not self.known or self.name != read.name:
            self.name, self.version, self.known = read.name, read.version, True
            return False
        if read.version == self.version:
            return False
        self.version = read.version
        return True


async def read_secret(ctx: Context, namespace: str, name: str) -> SecretRead:
    """One GET, in the resource's own namespace only (R21); never raises a KubeError."""
    try:
        body = await ctx.kube.get_secret(namespace, name)
    except KubeError as exc:  # KubeUnavailable included: the client logged the outage once
        return SecretRead(name, failure=exc)
    return SecretRead(name, body)


async def secret_for(ctx: Context, namespace: str, name: str, seen: SecretSeen) -> SecretRead:
    """This wake-up's read of Secret `name`, or a new one when there is none."""
    current = seen.current
    if current is not None and current.name == name:
        return current
    read = await read_secret(ctx, namespace, name)
    seen.saw(read)
    return read


async def credentials(ctx: Context, namespace: str, name: str, seen: SecretSeen) -> Credentials:
    """The run's credentials from Secret `name`; remembered for a clean-up that finds
    the Secret gone (a namespace being deleted)."""
    read = await secret_for(ctx, namespace, name, seen)
    found = credentials_of(read, namespace, ctx.settings)
    seen.credentials = found
    return found


def credentials_of(read: SecretRead, namespace: str, settings: OperatorSettings) -> Credentials:
    """Credentials from a read, or the error that says what to fix."""
    name = read.name
    if isinstance(read.failure, KubeUnavailable):
        raise KubernetesUnavailable(
            f"the Kubernetes API server (or etcd behind it) did not answer when reading "
            f"Secret {name!r}; nothing was written to awork, and the run is retried as soon "
            "as it answers again"
        )
    if read.failure is not None:
        raise unreadable(settings, namespace, name, read.failure)
    return credentials_for(read.body, name=name, namespace=namespace)


def unreadable(
    settings: OperatorSettings, namespace: str, name: str, exc: KubeError
) -> SecretProblem:
    """The API server refused the Secret's GET. Serving every namespace, the operator may
    read Secrets only where a namespace admin bound its secret-reader ClusterRole (SEC-2),
    so a 403 gives the one command that does it, with the chart's names."""
    role, account = settings.secret_reader_role, settings.service_account
    if exc.status_code != 403:
        hint = " (does the operator's RBAC allow it?)"
    elif role and account:
        hint = (
            "; the operator reads Secrets only in namespaces where it is granted: a namespace "
            f"admin grants it with `kubectl --namespace {namespace} create rolebinding {role} "
            f"--clusterrole={role} --serviceaccount={settings.lease_namespace}:{account}`"
        )
    else:
        hint = f" (grant the operator's service account get on Secrets in {namespace!r})"
    message = f"cannot read Secret {name!r}: {exc}{hint}"
    return SecretProblem(message, ConditionReason.SECRET_UNREADABLE, _BOTH)


def credentials_for(secret: Mapping[str, Any] | None, *, name: str, namespace: str) -> Credentials:
    """Credentials from the Secret as read from the API server (None: it does not exist)."""
    if secret is None:
        raise SecretProblem(
            f"Secret {name!r} not found in namespace {namespace!r}: create it with the keys "
            f"{', '.join(SECRET_KEYS)} (or fix spec.secretRef.name)",
            ConditionReason.SECRET_NOT_FOUND,
            _BOTH,
        )
    keys = read_secret_keys(secret)
    if keys.unusable:
        reason = (
            ConditionReason.SECRET_KEY_MISSING if keys.missing else ConditionReason.SECRET_INVALID
        )
        raise SecretProblem(
            keys.describe(name), reason, frozenset(_VENDOR_OF_KEY[key] for key in keys.unusable)
        )
    return credentials_from_secret(secret)


@contextlib.asynccontextmanager
async def vendor_clients(
    ctx: Context, key: tuple[str, str], credentials: Credentials
) -> AsyncIterator[runner.Clients]:
    """The vendor clients every call of a run makes goes through: the workspace's pacer
    and writer claims, the cached token, the shared pools and the leadership fence, the
    clients' bounds; what they send is counted on /metrics as they go."""
    opened = runner.open_clients(
        credentials,
        ctx.settings.endpoints,
        fence=ctx.fence,
        pacers=ctx.pacers,
        tokens=ctx.tokens,
        writers=ctx.writers,
        http=ctx.http,
    )
    async with opened as clients:
        stats = {"personio": clients.personio.stats, "awork": clients.awork.stats}
        with ctx.metrics.vendors.counting(*key, stats):
            yield clients
