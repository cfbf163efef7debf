"""The words `.status` and Events speak, each in one catalogue (R20, R23).

`ConditionType` names the four conditions; `ConditionReason` is every reason `.status`
can carry (a condition's, and `status.webhook.reason`), the error classes' included;
`EventReason` is every reason of an Event the operator posts (a run that failed posts a
Warning with its `ConditionReason`). README's "What the messages mean" explains every
member, and a test compares the two, so a new reason starts here and in that table.
"""

from __future__ import annotations

from enum import StrEnum


class ConditionType(StrEnum):
    """The four questions an admin asks, in the order status lists them."""

    READY = "Ready"
    PERSONIO = "PersonioCredentialsValid"
    AWORK = "AworkCredentialsValid"
    SYNCED = "Synced"


class ConditionReason(StrEnum):
    """Every reason `.status` can carry."""

    # A run's outcome and the state around it.
    PENDING = "Pending"
    SYNCED = "Synced"
    SYNCING = "Syncing"  # Synced's reason while a run is in flight (KUBE-4)
    DRY_RUN = "DryRun"
    SUSPENDED = "Suspended"
    CREDENTIALS_ACCEPTED = "CredentialsAccepted"
    NOT_CHECKED = "NotChecked"
    EMAIL_PARTLY_READABLE = "EmailPartlyReadable"
    ITEMS_FAILED = "ItemsFailed"
    MASS_DELETION_HELD = "MassDeletionHeld"
    OWNERSHIP_CONFLICT = "OwnershipConflict"
    USER_MAPPING_NOT_FOUND = "UserMappingNotFound"
    # Errors (personio_sync.errors); the three abstract ones are never raised themselves.
    SYNC_FAILED = "SyncFailed"
    PERSONIO_ERROR = "PersonioError"
    AWORK_ERROR = "AworkError"
    INVALID_CONFIGURATION = "InvalidConfiguration"
    INVALID_SPEC = "InvalidSpec"
    MANIFEST_NOT_FOUND = "ManifestNotFound"  # the CLI's alone (UX-6): never in a status
    SECRET_NOT_FOUND = "SecretNotFound"
    SECRET_KEY_MISSING = "SecretKeyMissing"
    SECRET_INVALID = "SecretInvalid"
    SECRET_UNREADABLE = "SecretUnreadable"
    PERSONIO_CREDENTIALS_REJECTED = "PersonioCredentialsRejected"
    PERSONIO_SCOPE_MISSING = "PersonioScopeMissing"
    PERSONIO_EMAIL_NOT_READABLE = "PersonioEmailNotReadable"
    PERSONIO_DATA_INCOMPLETE = "PersonioDataIncomplete"
    PERSONIO_RATE_LIMITED = "PersonioRateLimited"
    PERSONIO_API_ERROR = "PersonioAPIError"
    PERSONIO_UNREACHABLE = "PersonioUnreachable"
    AWORK_CREDENTIALS_REJECTED = "AworkCredentialsRejected"
    AWORK_RATE_LIMITED = "AworkRateLimited"
    AWORK_API_ERROR = "AworkAPIError"
    AWORK_UNREACHABLE = "AworkUnreachable"
    KUBERNETES_UNAVAILABLE = "KubernetesUnavailable"
    RUN_TIMED_OUT = "RunTimedOut"
    LEADERSHIP_LOST = "LeadershipLost"  # never written: the run is abandoned (D-Lease)
    INTERNAL_ERROR = "InternalError"
    # status.webhook.reason (HOOK-7).
    WEBHOOK_REGISTERED = "WebhookRegistered"
    WEBHOOK_NOT_PERMITTED = "WebhookNotPermitted"
    WEBHOOK_TOKEN_MISSING = "WebhookTokenMissing"
    WEBHOOK_TOKEN_TOO_SHORT = "WebhookTokenTooShort"  # HOOK-11
    WEBHOOK_FAILED = "WebhookFailed"
    WEBHOOK_NOT_OWNED = "WebhookNotOwned"  # HOOK-14
    WEBHOOKS_DISABLED = "WebhooksDisabled"  # HOOK-15


class EventReason(StrEnum):
    """Every reason of an Event the operator posts itself."""

    SYNCED = "Synced"
    DRY_RUN = "DryRun"
    SUSPENDED = "Suspended"
    SYNC_REQUEST_DEFERRED = "SyncRequestDeferred"  # UX-17, FAIR-6
    SYNC_REQUEST_IGNORED = "SyncRequestIgnored"  # UX-17, R18
    ITEMS_FAILED = "ItemsFailed"
    MASS_DELETION_HELD = "MassDeletionHeld"
    OWNERSHIP_CONFLICT = "OwnershipConflict"
    USER_MAPPING_NOT_FOUND = "UserMappingNotFound"
    AMBIGUOUS_USERS = "AmbiguousUsers"
    EMAIL_PARTLY_READABLE = "EmailPartlyReadable"  # as the condition (UX-14)
    DELETED_OWNED_ABSENCES = "DeletedOwnedAbsences"
    CLEANUP_FAILED = "CleanupFailed"
    CLEANUP_SKIPPED = "CleanupSkipped"
    WEBHOOK_NOT_PERMITTED = "WebhookNotPermitted"
    WEBHOOK_TOKEN_MISSING = "WebhookTokenMissing"
    WEBHOOK_TOKEN_TOO_SHORT = "WebhookTokenTooShort"  # HOOK-11
    WEBHOOK_FAILED = "WebhookFailed"
    WEBHOOK_NOT_REMOVED = "WebhookNotRemoved"
    WEBHOOK_NOT_OWNED = "WebhookNotOwned"  # HOOK-14
    WEBHOOK_URL_IGNORED = "WebhookURLIgnored"  # HOOK-7: the deprecated spec.webhook.url
    WEBHOOKS_DISABLED = "WebhooksDisabled"  # HOOK-15


# What an Event may carry: its own reasons, or a failed run's condition reason.
Reason = EventReason | ConditionReason
