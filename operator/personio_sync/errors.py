"""Every error type of the product, in one tree.

    SyncError                        what a run can fail on; each has a ConditionReason
    ├── ConfigError                  bad spec, Secret or setting (nothing was called)
    │   ├── SpecError                the spec fails a check the API server cannot make
    │   ├── SecretProblem            the referenced Secret is missing, incomplete or unreadable
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
    ├── KubernetesUnavailable        the API server did not answer a call the run needs
    ├── RunTimedOut                  the run outlived its deadline (FAIR-3)
    ├── InternalError                a bug: an exception no layer expected
    └── LeadershipLost               this replica lost the leader Lease (run abandoned)

    KubeError                        the Kubernetes client's answers (clients/kube.py)
    ├── KubeConflict                 409: re-read and retry
    └── KubeUnavailable              no useful answer: retry later

    WiderThanTargeted                the engine's signal: only a full sync may decide

Each SyncError has a stable `reason` from `reasons.ConditionReason` (the status
condition's reason) and a message that says what to fix; `answered` names the vendors
that had answered the run with its credential before it failed (so their credential
conditions stay True: an error after Personio answered says nothing against Personio's
credential). Messages are built from fixed
text plus remote error codes cut short; credentials are never formatted into them.
KubeError and WiderThanTargeted never reach a condition themselves: a run turns a
KubeError into KubernetesUnavailable or SecretUnreadable, and WiderThanTargeted sends
the changes to a full sync.
"""

from __future__ import annotations

from personio_sync.reasons import ConditionReason as R

MAX_REMOTE_TEXT = 200


def clip(text: str, limit: int = MAX_REMOTE_TEXT) -> str:
    """Cut remote error text short so a huge or hostile body cannot flood status."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class SyncError(Exception):
    reason: R = R.SYNC_FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.answered: frozenset[str] = frozenset()  # "personio", "awork": set by the runner


class ConfigError(SyncError):
    reason = R.INVALID_CONFIGURATION


class ManifestNotFound(ConfigError):
    reason = R.MANIFEST_NOT_FOUND


class PersonioError(SyncError):
    reason = R.PERSONIO_ERROR


class PersonioAuthError(PersonioError):
    reason = R.PERSONIO_CREDENTIALS_REJECTED


class PersonioScopeError(PersonioError):
    reason = R.PERSONIO_SCOPE_MISSING


class PersonioEmailNotReadable(PersonioError):
    reason = R.PERSONIO_EMAIL_NOT_READABLE


class PersonioDataIncomplete(PersonioError):
    reason = R.PERSONIO_DATA_INCOMPLETE


class PersonioRateLimited(PersonioError):
    reason = R.PERSONIO_RATE_LIMITED


class PersonioStatusError(PersonioError):
    reason = R.PERSONIO_API_ERROR

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class PersonioTransportError(PersonioError):
    reason = R.PERSONIO_UNREACHABLE


class PersonioServerError(PersonioTransportError):
    """Personio kept answering 5xx: as unreachable as a timeout (same reason)."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class AworkError(SyncError):
    reason = R.AWORK_ERROR


class AworkAuthError(AworkError):
    reason = R.AWORK_CREDENTIALS_REJECTED


class AworkRateLimited(AworkError):
    reason = R.AWORK_RATE_LIMITED


class AworkStatusError(AworkError):
    reason = R.AWORK_API_ERROR

    def __init__(self, message: str, status_code: int, code: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code


class AworkTransportError(AworkError):
    reason = R.AWORK_UNREACHABLE


class AworkServerError(AworkTransportError):
    """awork kept answering 5xx: as unreachable as a timeout (same reason)."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class LeadershipLost(SyncError):
    """This replica no longer holds the leader Lease: the run is abandoned, not failed.

    Raised by the fence before a write; the new leader runs the sync again, so the
    status is left alone (it is the new leader's to write)."""

    reason = R.LEADERSHIP_LOST


class SpecError(ConfigError, ValueError):
    """A spec that cannot be used, with one message naming every bad field (a ValueError
    too: bad input, as the spec's validators raise it)."""

    reason = R.INVALID_SPEC


class SecretProblem(ConfigError):
    """The referenced Secret is missing or incomplete; `vendors` says whose keys are affected."""

    def __init__(self, message: str, reason: R, vendors: frozenset[str]) -> None:
        super().__init__(message)
        self.reason = reason
        self.vendors = vendors


class KubernetesUnavailable(SyncError):
    """The API server or etcd did not answer a call the run needs (KUBE-3)."""

    reason = R.KUBERNETES_UNAVAILABLE


class RunTimedOut(SyncError):
    """The run outlived PERSONIO_SYNC_RUN_TIMEOUT_SECONDS and was stopped (FAIR-3)."""

    reason = R.RUN_TIMED_OUT


class InternalError(SyncError):
    """An exception no layer expected: a bug; its text stays in the log, not the status."""

    reason = R.INTERNAL_ERROR


class KubeError(Exception):
    """An API server answer we cannot work with; the message names the call, never a token."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class KubeConflict(KubeError):
    """409: the object changed under us (optimistic concurrency); re-read and retry."""


class KubeUnavailable(KubeError):
    """The API server (or etcd behind it) did not answer usefully: retry later (status 0:
    no answer at all)."""


class WiderThanTargeted(Exception):
    """The change is too big for a targeted run to judge alone: run a full sync (NRT-3)."""
