"""Credentials from a Secret (manifest or API object) or the environment (R21).

Both the CLI and the operator read Secrets through here, so a missing key gets
the same message everywhere. Values are decoded but never formatted into errors.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from personio_sync.errors import ConfigError
from personio_sync.sync.config import CredentialNames, Credentials

SECRET_KEYS = ("personioClientId", "personioClientSecret", "aworkApiKey")
ENV_KEYS = {
    "personioClientId": "PERSONIO_CLIENT_ID",
    "personioClientSecret": "PERSONIO_CLIENT_SECRET",
    "aworkApiKey": "AWORK_API_KEY",
}
FROM_ENV = CredentialNames(
    personio="the environment variables PERSONIO_CLIENT_ID and PERSONIO_CLIENT_SECRET",
    awork="the environment variable AWORK_API_KEY",
)


@dataclass(frozen=True)
class SecretKeys:
    """The three keys as read from a Secret: usable values, and what is wrong with the rest
    (SEC-4). Problems describe a key, never its value."""

    values: dict[str, str] = field(repr=False)
    missing: tuple[str, ...]
    problems: dict[str, str]  # key → what is wrong with it

    @property
    def unusable(self) -> tuple[str, ...]:
        return (*self.missing, *self.problems)

    def describe(self, name: str) -> str:
        """One message naming every key at fault, e.g. for a Condition or the CLI."""
        parts = []
        if self.missing:
            plural = "s" if len(self.missing) > 1 else ""
            parts.append(f"lacks the key{plural} {', '.join(self.missing)}")
        parts += [f"{key} {problem}" for key, problem in self.problems.items()]
        return f"Secret {name!r}: {'; '.join(parts)}; it needs {', '.join(SECRET_KEYS)}"


def _text(key: str, data: Mapping[str, Any], string_data: Mapping[str, Any]) -> str:
    """The key's plain text (stringData wins, as the API server merges it over data).
    Raises ValueError saying what is wrong; KeyError when the key is absent."""
    if key in string_data:
        return "" if string_data[key] is None else str(string_data[key])
    raw = data[key]
    try:
        decoded = base64.b64decode("" if raw is None else str(raw), validate=True)
    except binascii.Error:
        raise ValueError(
            "in `data` is not valid base64 (put plain text under `stringData` instead)"
        ) from None
    try:
        return decoded.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(
            "is not UTF-8 text (a binary file, or another character encoding?): store the "
            "credential as plain text"
        ) from None


def read_secret_keys(secret: Mapping[str, Any]) -> SecretKeys:
    """The three keys from `data` (base64) or `stringData` (plain); other keys are ignored,
    so a bad key only affects the credential it belongs to."""
    data, string_data = secret.get("data") or {}, secret.get("stringData") or {}
    values: dict[str, str] = {}
    missing: list[str] = []
    problems: dict[str, str] = {}
    for key in SECRET_KEYS:
        try:
            text = _text(key, data, string_data).strip()
        except KeyError:
            missing.append(key)
        except ValueError as exc:
            problems[key] = str(exc)
        else:
            if text:
                values[key] = text
            else:
                problems[key] = "is empty"
    return SecretKeys(values=values, missing=tuple(missing), problems=problems)


def credentials_from_secret(secret: Mapping[str, Any]) -> Credentials:
    """Read the three keys from a Secret's `data` (base64) or `stringData` (plain)."""
    name = str((secret.get("metadata") or {}).get("name", "?"))
    keys = read_secret_keys(secret)
    if keys.unusable:
        raise ConfigError(keys.describe(name))
    return _complete(keys.values, f"Secret {name!r}")


def secret_value(secret: Mapping[str, Any], key: str) -> str | None:
    """One optional key of a Secret, stripped (None: absent, empty or not valid base64)."""
    try:
        text = _text(key, secret.get("data") or {}, secret.get("stringData") or {})
    except (KeyError, ValueError):
        return None
    return text.strip() or None


def credentials_from_env(environ: Mapping[str, str]) -> Credentials:
    values = {key: environ.get(var, "").strip() for key, var in ENV_KEYS.items()}
    return _complete(values, "the environment", names=ENV_KEYS)


def _complete(
    values: Mapping[str, str], where: str, names: Mapping[str, str] | None = None
) -> Credentials:
    """`names`: the environment variables the values came from (None: a Secret's keys)."""
    named = [(names or {}).get(k, k) for k in SECRET_KEYS]
    missing = [name for key, name in zip(SECRET_KEYS, named, strict=True) if not values.get(key)]
    if missing:
        instead = " (or give the CLI a Secret manifest with --secret)" if names else ""
        raise ConfigError(
            f"{where} lacks {', '.join(missing)}; it needs {', '.join(named[:-1])} and "
            f"{named[-1]}{instead}"
        )
    return Credentials(
        personio_client_id=values["personioClientId"],
        personio_client_secret=values["personioClientSecret"],
        awork_api_key=values["aworkApiKey"],
        names=FROM_ENV if names else None,
    )
