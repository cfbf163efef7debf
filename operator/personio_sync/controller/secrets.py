"""The referenced Secret → run credentials, with a specific reason per problem (R21, R23).

A missing Secret and a missing key are different fixes, and a missing
`aworkApiKey` says nothing about the Personio credential, so the error carries
which vendors it affects. Values are never formatted into messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from personio_sync.credentials import SECRET_KEYS, credentials_from_secret
from personio_sync.errors import ConfigError
from personio_sync.runner import Credentials

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
    present = {
        key
        for part in ("data", "stringData")
        for key, value in (secret.get(part) or {}).items()
        if str(value).strip()
    }
    missing = [key for key in SECRET_KEYS if key not in present]
    if missing:
        raise SecretProblem(
            f"Secret {name!r} lacks the key{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}; it needs {', '.join(SECRET_KEYS)}",
            "SecretKeyMissing",
            frozenset(_VENDOR_OF_KEY[key] for key in missing),
        )
    try:
        return credentials_from_secret(secret)
    except ConfigError as exc:  # bad base64 or a value that decodes to nothing
        raise SecretProblem(exc.message, "SecretInvalid", _BOTH) from None
