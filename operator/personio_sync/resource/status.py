"""The PersonioSync status as typed models: what the operator writes, and (through the
generated CRD, crd.py) what the API server accepts, so a status write cannot be refused
for its shape. Lists are bounded, counts exact."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from personio_sync.engine.dates import rfc3339
from personio_sync.reasons import ConditionType

# Status lists are bounded so a big workspace cannot push the object past etcd's size
# limit; counts stay exact. The API server refuses a status patch with longer lists.
MAX_LISTED_USERS = 100
MAX_FAILURES = 50
MAX_CONFLICTS = 100
MAX_PLANNED = 20
MAX_CONDITIONS = 16
MAX_MESSAGE = 4096

# Copied from metav1.Condition so `kubectl wait --for=condition=Ready` and tools agree.
CONDITION_REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
CONDITION_TYPES: tuple[str, ...] = tuple(ConditionType)  # the order status lists them in


def _rfc3339(value: datetime) -> str:
    """Kubernetes style: UTC, whole seconds, `Z` (what `kubectl get` parses for `date` columns)."""
    if value.tzinfo is None:
        raise ValueError("status timestamps must be timezone-aware")
    return rfc3339(value)


Timestamp = Annotated[
    datetime,
    PlainSerializer(_rfc3339, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class _Status(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class Condition(_Status):
    """One observation of the resource's state, shaped like metav1.Condition (R20)."""

    type: Annotated[
        str,
        Field(
            min_length=1,
            max_length=316,
            description="Ready, PersonioCredentialsValid, AworkCredentialsValid or Synced.",
        ),
    ]
    status: Annotated[
        Literal["True", "False", "Unknown"], Field(description="True, False or Unknown.")
    ]
    reason: Annotated[
        str,
        Field(
            min_length=1,
            max_length=1024,
            pattern=CONDITION_REASON_PATTERN,
            description="Stable CamelCase cause, e.g. PersonioCredentialsRejected.",
        ),
    ]
    message: Annotated[
        str,
        Field(max_length=MAX_MESSAGE, description="What happened and what to do about it."),
    ]
    lastTransitionTime: Annotated[
        Timestamp, Field(description="When status last changed from one value to another.")
    ]
    observedGeneration: Annotated[
        int | None,
        Field(ge=0, description="The metadata.generation this condition was computed for."),
    ] = None


def _emails(what: str, *, kept_with_counts: bool = False) -> Any:
    omitted = "" if kept_with_counts else "; empty with spec.statusDetail Counts"
    return Field(
        max_length=MAX_LISTED_USERS,
        description=f"{what} (sorted; at most {MAX_LISTED_USERS}, the count is exact{omitted}).",
    )


OMITTED_WITH_COUNTS = "The person's e-mail, if known; omitted with spec.statusDetail Counts."


def _count(what: str) -> Any:
    return Field(ge=0, description=what)


class UserStatus(_Status):
    """Who was matched between Personio and awork in the last run (R7, R8)."""

    matched: Annotated[int, _count("People matched to exactly one awork user.")] = 0
    personioOnly: Annotated[int, _count("Personio people with no awork user.")] = 0
    aworkOnly: Annotated[int, _count("awork users with no Personio person.")] = 0
    ambiguous: Annotated[int, _count("E-mails matching more than one user; never synced.")] = 0
    withoutEmail: Annotated[
        int, _count("Personio people whose e-mail the credential cannot read.")
    ] = 0
    matchedEmails: Annotated[list[str], _emails("E-mails of matched people")] = []
    personioOnlyEmails: Annotated[list[str], _emails("E-mails of Personio-only people")] = []
    aworkOnlyEmails: Annotated[list[str], _emails("E-mails of awork-only users")] = []
    ambiguousEmails: Annotated[list[str], _emails("Ambiguous e-mails")] = []
    withoutEmailIds: Annotated[
        list[str],
        _emails(
            "Personio person ids without a readable e-mail: grant the credential the "
            "e-mail attribute",
            kept_with_counts=True,
        ),
    ] = []
    brokenMappings: Annotated[
        list[str],
        _emails("spec.userMappings entries that point at nobody, as 'personio -> awork'"),
    ] = []
    truncated: Annotated[
        bool, Field(description="True when some list holds fewer entries than its count.")
    ] = False
    note: Annotated[
        str | None,
        Field(max_length=MAX_MESSAGE, description="Hint for the admin, e.g. why lists are cut."),
    ] = None


class RunWindow(_Status):
    """The calendar dates the last run covered (R2), both inclusive."""

    from_: Annotated[date, Field(alias="from", description="First day of the window.")]
    to: Annotated[date, Field(description="Last day of the window.")]


# The fields an update may change, as the engine names them (engine/plan.py CHANGES).
PlannedChange = Literal[
    "user", "start", "end", "halfDayOnStart", "halfDayOnEnd", "description", "owner"
]


class PlannedEntry(_Status):
    """One line of a dry run's sample (R16); an update names what it would change (UX-7)."""

    action: Annotated[
        Literal["create", "update", "delete"], Field(description="What would be done.")
    ]
    personioId: Annotated[str, Field(description="The Personio absence period's id.")]
    email: Annotated[str | None, Field(description=OMITTED_WITH_COUNTS)] = None
    start: Annotated[str, Field(description="First day of the absence.")]
    end: Annotated[str, Field(description="Last day of the absence.")]
    changes: Annotated[
        list[PlannedChange],
        Field(
            max_length=len(get_args(PlannedChange)),
            description="For an update, the fields of the awork absence that would change "
            "(halfDayOnStart/halfDayOnEnd: the half-day flags; owner: the marker of an "
            "adopted absence); empty for a create or a delete.",
        ),
    ] = []


class LastRun(_Status):
    """What the last completed run did (R13-R16)."""

    window: Annotated[RunWindow, Field(description="The sync window of that run.")]
    dryRun: Annotated[bool, Field(description="True when nothing was written (R16).")] = False
    created: Annotated[int, _count("awork absences created (or planned, in a dry run).")] = 0
    updated: Annotated[int, _count("awork absences updated.")] = 0
    deleted: Annotated[int, _count("awork absences deleted.")] = 0
    unchanged: Annotated[int, _count("awork absences already right.")] = 0
    skipped: Annotated[int, _count("Personio periods not transferred (see skippedReasons).")] = 0
    failed: Annotated[int, _count("Items that failed; see status.failures.")] = 0
    heldDeletes: Annotated[
        int, _count("Deletions held back by the deletion guard until allowed (D-Guard).")
    ] = 0
    conflicts: Annotated[int, _count("Periods another owner holds (see status.conflicts).")] = 0
    skippedReasons: Annotated[
        dict[str, int],
        Field(description="Skipped periods by reason, e.g. hourly: 3, unmatchedUser: 12."),
    ] = {}
    planned: Annotated[
        list[PlannedEntry],
        Field(
            max_length=MAX_PLANNED,
            description=f"Dry run only: a sample of at most {MAX_PLANNED} planned actions.",
        ),
    ] = []
    durationSeconds: Annotated[float, Field(ge=0, description="How long the run took.")] = 0.0


class ItemFailure(_Status):
    """One absence or user that could not be written; retried next run (R15)."""

    personioId: Annotated[str, Field(description="The Personio absence period's id.")]
    email: Annotated[str | None, Field(description=OMITTED_WITH_COUNTS)] = None
    reason: Annotated[str, Field(max_length=1024, description="What went wrong, cut short.")]


class ProgressStatus(_Status):
    """How far a long-running sync has got."""

    done: Annotated[int, _count("Items processed so far.")] = 0
    total: Annotated[int, _count("Items to process in this run.")] = 0
    etaSeconds: Annotated[float | None, Field(ge=0, description="Estimated seconds left.")] = None
    message: Annotated[
        str | None, Field(max_length=MAX_MESSAGE, description="What is being done now.")
    ] = None


class OwnershipConflict(_Status):
    """A Personio period whose awork absence another sync owns: left alone (D-Owner)."""

    personioId: Annotated[str, Field(max_length=200, description="The Personio period's id.")]
    email: Annotated[str | None, Field(max_length=254, description=OMITTED_WITH_COUNTS)] = None
    owner: Annotated[str, Field(max_length=64, description="The other owner's key.")]


class TargetedSync(_Status):
    """A targeted sync: only the periods a webhook or a quick poll named (NRT-1)."""

    time: Annotated[Timestamp, Field(description="When it ended.")]
    source: Annotated[
        str, Field(max_length=32, description="What named the changes: webhook or poll.")
    ]
    periods: Annotated[int, _count("Periods and persons it was about.")] = 0
    created: Annotated[int, _count("Absences created.")] = 0
    updated: Annotated[int, _count("Absences updated.")] = 0
    deleted: Annotated[int, _count("Absences deleted.")] = 0
    failed: Annotated[int, _count("Absences that could not be written.")] = 0
    outcome: Annotated[
        str,
        Field(
            max_length=MAX_MESSAGE,
            description="Synced, or why a full sync was started instead.",
        ),
    ] = "Synced"


class LastEvent(_Status):
    """The last Personio webhook event the operator accepted for this resource (issue 9)."""

    time: Annotated[Timestamp, Field(description="When the operator received it.")]
    kind: Annotated[
        str,
        Field(
            min_length=1,
            max_length=200,
            description="Personio's event name, e.g. absence-period.created.",
        ),
    ]
    outcome: Annotated[
        Literal["accepted", "ignored"],
        Field(
            description="accepted: a sync was queued; ignored: an event kind the operator "
            "does not act on."
        ),
    ]


class WebhookStatus(_Status):
    """The Personio webhook the operator registered for this resource (spec.webhook)."""

    id: Annotated[str | None, Field(max_length=200, description="Personio's webhook id.")] = None
    url: Annotated[
        str | None,
        Field(
            max_length=2048, description="Where it delivers: the operator's URL for this resource."
        ),
    ] = None
    state: Annotated[
        Literal[
            "Registered",
            "NotPermitted",
            "TokenMissing",
            "TokenTooShort",
            "Failed",
            "NotOwned",
            "Disabled",
        ],
        Field(
            description="Registered (enabled in Personio), or why it is not; Disabled: the "
            "operator receives no webhooks (no webhook base URL configured)."
        ),
    ]
    reason: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            pattern=CONDITION_REASON_PATTERN,
            description="WebhookRegistered, WebhookNotPermitted, WebhookTokenMissing, "
            "WebhookTokenTooShort, WebhookFailed, WebhookNotOwned or WebhooksDisabled.",
        ),
    ]
    message: Annotated[str, Field(max_length=1024, description="What to do about it.")] = ""


class PersonioSyncStatus(_Status):
    """Observed state of the sync, written only by the operator (R20)."""

    observedGeneration: Annotated[
        int | None, Field(ge=0, description="The metadata.generation last acted upon.")
    ] = None
    conditions: Annotated[
        list[Condition],
        Field(
            max_length=MAX_CONDITIONS,
            description="Ready, PersonioCredentialsValid, AworkCredentialsValid and Synced.",
            json_schema_extra={
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
            },
        ),
    ] = []
    lastSyncTime: Annotated[
        Timestamp | None, Field(description="When the last run ended, successful or not.")
    ] = None
    lastSuccessfulSyncTime: Annotated[
        Timestamp | None, Field(description="When the last run without errors ended.")
    ] = None
    nextSyncTime: Annotated[
        Timestamp | None, Field(description="When the next scheduled run is due (R17).")
    ] = None
    suspended: Annotated[bool, Field(description="True while spec.suspend is set (R18).")] = False
    message: Annotated[
        str | None, Field(max_length=MAX_MESSAGE, description="One-line summary for humans.")
    ] = None
    users: Annotated[UserStatus | None, Field(description="Matching outcome (R7).")] = None
    lastRun: Annotated[LastRun | None, Field(description="The last completed run.")] = None
    failures: Annotated[
        list[ItemFailure],
        Field(
            max_length=MAX_FAILURES,
            description=f"Item failures of the last run (at most {MAX_FAILURES}; "
            "lastRun.failed is the exact count).",
        ),
    ] = []
    progress: Annotated[
        ProgressStatus | None, Field(description="Progress of the run in flight, if any.")
    ] = None
    lastTargetedSync: Annotated[
        TargetedSync | None,
        Field(
            description="The last targeted sync: a few changed periods synced between "
            "full runs (webhooks, quick polling)."
        ),
    ] = None
    ownerKey: Annotated[
        str | None,
        Field(
            max_length=64,
            description="This sync's owner key: part of the marker on every awork absence it "
            "writes; another PersonioSync adopts them with spec.adoptFrom (D-Owner).",
        ),
    ] = None
    conflicts: Annotated[
        list[OwnershipConflict],
        Field(
            max_length=MAX_CONFLICTS,
            description=f"Periods another owner holds (at most {MAX_CONFLICTS}; "
            "lastRun.conflicts is the exact count).",
        ),
    ] = []
    shard: Annotated[
        int | None,
        Field(
            ge=0,
            description="The shard this resource is in (a stable hash of namespace/name); "
            "the replica holding the shard's Lease syncs it (SHARD-1).",
        ),
    ] = None
    replica: Annotated[
        str | None,
        Field(
            max_length=320,  # a pod name (253) plus "/<pid>/<6 hex>"
            description="The replica (pod/process) that wrote this status: the one syncing "
            "the resource now (SHARD-8).",
        ),
    ] = None
    lastEvent: Annotated[
        LastEvent | None,
        Field(description="The last Personio webhook event received for this resource."),
    ] = None
    webhook: Annotated[
        WebhookStatus | None,
        Field(
            description="The self-registered Personio webhook (spec.webhook.register), "
            "or why webhooks are off (spec.webhook)."
        ),
    ] = None
