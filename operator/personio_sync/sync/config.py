"""What a sync is configured with, as plain values: the Secret's credentials, the vendor
URLs and how hard to push. Value types only, so configuration code (the operator's
settings, the Secret reader) can name them without importing the runner and its clients.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_PERSONIO_URL = "https://api.personio.de"
DEFAULT_AWORK_URL = "https://api.awork.com/api/v1"


@dataclass(frozen=True)
class CredentialNames:
    """Where the user keeps the credentials, as an error tells them what to check (UX-5)."""

    personio: str
    awork: str


@dataclass(frozen=True)
class Credentials:
    """The three values of the referenced Secret; reprs never show the secrets (R21)."""

    personio_client_id: str = field(repr=False)
    personio_client_secret: str = field(repr=False)
    awork_api_key: str = field(repr=False)
    names: CredentialNames | None = None  # None: the Secret's keys (the clients' default)

    def secrets(self) -> tuple[str, ...]:
        """Every value that must never be printed (for log redaction and tests)."""
        return (self.personio_client_id, self.personio_client_secret, self.awork_api_key)


@dataclass(frozen=True)
class Endpoints:
    """Vendor base URLs: operator configuration, never a resource field (R22)."""

    personio_url: str = DEFAULT_PERSONIO_URL
    awork_url: str = DEFAULT_AWORK_URL


@dataclass(frozen=True)
class Tuning:
    """How hard a run pushes: write concurrency and HTTP timeouts."""

    write_concurrency: int = 16
    timeout_seconds: float = 30.0
    # How long a create whose answer was lost is looked for before it is sent again:
    # awork may still be storing it (D-Once-2).
    settle_seconds: float = 30.0

    @property
    def max_connections(self) -> int:
        """Per vendor client: every writer, plus room for the reads beside them."""
        return self.write_concurrency + 4
