"""Credentials from a Secret (manifest or API object) or the environment (R21).

Both the CLI and the operator read Secrets through here, so a missing key gets
the same message everywhere. Values are decoded but never formatted into errors.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from personio_sync.errors import ConfigError
from personio_sync.runner import Credentials

SECRET_KEYS = ("personioClientId", "personioClientSecret", "aworkApiKey")
ENV_KEYS = {
    "personioClientId": "PERSONIO_CLIENT_ID",
    "personioClientSecret": "PERSONIO_CLIENT_SECRET",
    "aworkApiKey": "AWORK_API_KEY",
}


def _decode(key: str, value: Any, secret_name: str) -> str:
    try:
        return base64.b64decode(str(value), validate=True).decode("utf-8").strip()
    except (binascii.Error, UnicodeDecodeError):
        raise ConfigError(
            f"Secret {secret_name!r}: key {key} in `data` is not valid base64 "
            "(put plain text under `stringData` instead)"
        ) from None


def credentials_from_secret(secret: Mapping[str, Any]) -> Credentials:
    """Read the three keys from a Secret's `data` (base64) or `stringData` (plain)."""
    name = str((secret.get("metadata") or {}).get("name", "?"))
    values: dict[str, str] = {}
    for key, raw in (secret.get("data") or {}).items():
        values[key] = _decode(key, raw, name)
    for key, raw in (secret.get("stringData") or {}).items():
        values[key] = str(raw).strip()
    return _complete(values, f"Secret {name!r}")


def secret_value(secret: Mapping[str, Any], key: str) -> str | None:
    """One optional key of a Secret, stripped (None: absent, empty or not valid base64)."""
    plain = (secret.get("stringData") or {}).get(key)
    if plain is not None:
        return str(plain).strip() or None
    raw = (secret.get("data") or {}).get(key)
    if raw is None:
        return None
    try:
        return _decode(key, raw, "") or None
    except ConfigError:
        return None


def credentials_from_env(environ: Mapping[str, str]) -> Credentials:
    values = {key: environ.get(var, "").strip() for key, var in ENV_KEYS.items()}
    return _complete(values, "the environment", names=ENV_KEYS)


def _complete(
    values: Mapping[str, str], where: str, names: Mapping[str, str] | None = None
) -> Credentials:
    missing = [(names or {}).get(k, k) for k in SECRET_KEYS if not values.get(k)]
    if missing:
        raise ConfigError(
            f"{where} lacks {', '.join(missing)}; it needs personioClientId, "
            "personioClientSecret and aworkApiKey"
        )
    return Credentials(
        personio_client_id=values["personioClientId"],
        personio_client_secret=values["personioClientSecret"],
        awork_api_key=values["aworkApiKey"],
    )
