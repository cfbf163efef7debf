"""One exception tree for everything a sync run can fail on.

    SyncError
    ├── ConfigError                  bad spec, Secret or setting (nothing was called)
    │   └── ManifestNotFound         the CLI was given a file that does not exist
    ├── PersonioError
    │   ├── PersonioAuthError        wrong client id / secret (401, invalid_client)
    │   ├── PersonioScopeError       credential lacks a scope (403)
    │   ├── PersonioEmailNotReadable persons come back without e-mail
    │   ├── PersonioDataIncomplete   an answer that cannot be complete (periods, no types)
    │   ├── PersonioRateLimited      429 that outlasted the retries
    │   ├── PersonioStatusError      an unexpected definite answer (4xx)
    │   └── PersonioTransportError   timeouts, dropped connections, malformed bodies
    │       └── PersonioServerError  5xx after the retries
    ├── AworkError
    │   ├── AworkAuthError           wrong API key (401)
    │   ├── AworkRateLimited
    │   ├── AworkStatusError         4xx (carries the parsed ErrorResponse code)
    │   └── AworkTransportError
    │       └── AworkServerError     5xx after the retries
    └── LeadershipLost               this replica lost the leader Lease (run abandoned)

Each has a stable `reason` (used as the status condition's reason) and a message
that says what to fix. Messages are built from fixed text plus remote error codes
cut short; credentials are never formatted into them.
"""

from __future__ import annotations

MAX_REMOTE_TEXT = 200


def clip(text: str, limit: int = MAX_REMOTE_TEXT) -> str:
    """Cut remote error text short so a huge or hostile body cannot flood status."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class SyncError(Exception):
    reason = "SyncFailed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(SyncError):
    reason = "InvalidConfiguration"


class ManifestNotFound(ConfigError):
    reason = "ManifestNotFound"


class PersonioError(SyncError):
    reason = "PersonioError"


class PersonioAuthError(PersonioError):
    reason = "PersonioCredentialsRejected"


class PersonioScopeError(PersonioError):
    reason = "PersonioScopeMissing"


class PersonioEmailNotReadable(PersonioError):
    reason = "PersonioEmailNotReadable"


class PersonioDataIncomplete(PersonioError):
    reason = "PersonioDataIncomplete"


class PersonioRateLimited(PersonioError):
    reason = "PersonioRateLimited"


class PersonioStatusError(PersonioError):
    reason = "PersonioAPIError"

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class PersonioTransportError(PersonioError):
    reason = "PersonioUnreachable"


class PersonioServerError(PersonioTransportError):
    """Personio kept answering 5xx: as unreachable as a timeout (same reason)."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class AworkError(SyncError):
    reason = "AworkError"


class AworkAuthError(AworkError):
    reason = "AworkCredentialsRejected"


class AworkRateLimited(AworkError):
    reason = "AworkRateLimited"


class AworkStatusError(AworkError):
    reason = "AworkAPIError"

    def __init__(self, message: str, status_code: int, code: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code


class AworkTransportError(AworkError):
    reason = "AworkUnreachable"


class AworkServerError(AworkTransportError):
    """awork kept answering 5xx: as unreachable as a timeout (same reason)."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class LeadershipLost(SyncError):
    """This replica no longer holds the leader Lease: the run is abandoned, not failed.

    Raised by the fence before a write; the new leader runs the sync again, so the
    status is left alone (it is the new leader's to write)."""

    reason = "LeadershipLost"
