"""The referenced Secret → run credentials, with a specific reason per problem (R21, R23).

A missing Secret and a missing key are different fixes, and a missing or malformed
`aworkApiKey` says nothing about the Personio credential, so the error carries
which vendors it affects (SEC-4). Values are never formatted into messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from personio_sync.clients.kube import KubeError
from personio_sync.controller.settings import OperatorSettings
from personio_sync.errors import ConfigError
from personio_sync.sync.config import Credentials
from personio_sync.sync.credentials import SECRET_KEYS, credentials_from_secret, read_secret_keys

_VENDOR_OF_KEY = {
    "personioClientId": "personio",
    "personioClientSecret": "personio",
    "aworkApiKey": "awork",
}
_BOTH = frozenset({"personio", "awork"})


class SecretProblem(ConfigError):
    """The referenced Secret is missing or incomplete; `vendors` says whose keys are affected."""

    def __init__(self, message: str, reason: str, vendors: frozenset[str]) -> None:
        super().__init__(message)
        self.reason = reason
        self.vendors = vendors


def credentials_for(secret: Mapping[str, Any] | None, *, name: str, namespace: str) -> Credentials:
    """Credentials from the Secret as read from the API server (None: it does not exist)."""
    if secret is None:
        raise SecretProblem(
            f"Secret {name!r} not found in namespace {namespace!r}: create it with the keys "
            f"{', '.join(SECRET_KEYS)} (or fix spec.secretRef.name)",
            "SecretNotFound",
            _BOTH,
        )
    keys = read_secret_keys(secret)
    if keys.unusable:
        raise SecretProblem(
            keys.describe(name),
            "SecretKeyMissing" if keys.missing else "SecretInvalid",
            frozenset(_VENDOR_OF_KEY[key] for key in keys.unusable),
        )
    return credentials_from_secret(secret)


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
    return SecretProblem(f"cannot read Secret {name!r}: {exc}{hint}", "SecretUnreadable", _BOTH)
