"""The `PersonioSync` resource's spec: one pydantic model for the CLI and the operator.

The CRD's OpenAPI schema is generated from (and checked against) this model, so
the API server and the operator refuse the same inputs with the same field names.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
)

from personio_sync.errors import SpecError
from personio_sync.resource.duration import MINIMUM, check_duration, parse_duration

# The name the controller's metrics read an interval with (reporting/metrics.py).
parse_interval = parse_duration

API_GROUP = "personio-sync.dev"
API_VERSION = "v1alpha1"
KIND = "PersonioSync"
PLURAL = "personiosyncs"
# A new value lets the next run delete past the deletion guard, once (D-Guard).
ALLOW_MASS_DELETE = f"{API_GROUP}/allow-mass-delete"
ALLOW_MASS_DELETE_HANDLED = f"{API_GROUP}/allow-mass-delete-handled"

# A Secret's name is a DNS-1123 subdomain: "." or "a/b" would name no Secret, or several.
SECRET_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
OWNER_KEY_PATTERN = r"^[0-9a-f]{12}$"


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, frozen=True, serialize_by_alias=True
    )


class SecretRef(_Model):
    """Where the credentials are: a Secret in the resource's own namespace (R21)."""

    name: Annotated[
        str,
        Field(
            min_length=1,
            max_length=253,
            pattern=SECRET_NAME_PATTERN,
            description="Name of a Secret in the same namespace holding the keys "
            "personioClientId, personioClientSecret and aworkApiKey.",
        ),
    ]


class Window(_Model):
    """How far back and ahead absences are synced (R2)."""

    pastDays: Annotated[
        StrictInt,
        Field(ge=0, le=3650, description="Days before today included in the sync window."),
    ] = 14
    futureDays: Annotated[
        StrictInt, Field(ge=0, le=3650, description="Days after today included in the sync window.")
    ] = 180


class AbsenceTypes(_Model):
    """Which Personio absence types are transferred (R4); exclude wins over include."""

    include: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=200)]],
        Field(
            description="Absence type names or ids to transfer; empty means every type.",
            max_length=200,
        ),
    ] = []
    exclude: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=200)]],
        Field(description="Absence type names or ids never to transfer.", max_length=200),
    ] = []


class HourlyAbsences(StrEnum):
    """What to do with hour-based Personio periods (R4)."""

    Skip = "Skip"
    FullDay = "FullDay"


class DescriptionMode(StrEnum):
    """What the awork absence says (R9)."""

    TypeName = "TypeName"
    Generic = "Generic"


class Description(_Model):
    mode: Annotated[
        DescriptionMode,
        Field(
            description="TypeName shows the Personio absence type's name; Generic shows `text` "
            "for every absence (privacy: sick leave need not be visible)."
        ),
    ] = DescriptionMode.TypeName
    text: Annotated[
        str,
        Field(
            min_length=1,
            max_length=1000,
            description="The description used when mode is Generic.",
        ),
    ] = "Absent"


class UserMapping(_Model):
    """Links a Personio person to an awork user whose e-mail differs (R8)."""

    personioEmail: Annotated[
        str, Field(min_length=3, max_length=254, description="The person's e-mail in Personio.")
    ]
    aworkEmail: Annotated[
        str, Field(min_length=3, max_length=254, description="The user's e-mail in awork.")
    ]


class DeletionGuardSpec(_Model):
    """How many owned absences one run may delete before it asks for consent (D-Guard)."""

    maxPercent: Annotated[
        StrictInt,
        Field(
            ge=0,
            le=100,
            description="A run deletes at most max(5, maxPercent % of the absences it owns in "
            "the window); above that its deletions are held back until allowed with the "
            "annotation personio-sync.dev/allow-mass-delete. Default 25, range 0-100.",
        ),
    ] = 25


class WebhookSpec(_Model):
    """Personio webhooks for this resource (issue 9): deliveries to the operator's URL for
    it, `<webhook base URL>/<namespace>/<name>`, authenticated by the Secret's
    personioWebhookToken. The URL is the operator's (HOOK-7): a resource cannot name one."""

    url: Annotated[
        str | None,
        Field(
            max_length=2048,
            description="Deprecated and ignored: the operator registers its own URL for "
            "this resource (status.webhook.url); remove the field.",
        ),
    ] = None
    register_: Annotated[
        StrictBool,
        Field(
            alias="register",  # `register` is taken: pydantic models are ABCs
            description="Create, update and keep enabled the Personio webhook at the "
            "operator's URL for this resource (needs the personio:webhooks:write scope); "
            "removed when false or when the resource is deleted. false (or webhook: {}): "
            "receive only, for a webhook registered by hand.",
        ),
    ] = False


class DeletionPolicy(StrEnum):
    """What deleting the resource does to the absences it wrote (R19)."""

    Retain = "Retain"
    Delete = "Delete"


class StatusDetail(StrEnum):
    """How much `.status` says about people (R7): e-mail lists, or counts only."""

    Lists = "Lists"
    Counts = "Counts"


class PersonioSyncSpec(_Model):
    """Desired behaviour of one Personio → awork absence sync."""

    secretRef: Annotated[SecretRef, Field(description="The Secret holding the API credentials.")]
    interval: Annotated[
        str,
        Field(
            max_length=32,
            description="How often to sync, as a Go duration such as 1h, 30m, 1h30m or 1.5h "
            "(units h, m, s, ms, us, ns); at least 1m, at most 8760h.",
        ),
    ] = "1h"
    quickInterval: Annotated[
        str | None,
        Field(
            max_length=32,
            description="Between full syncs, how often to ask Personio for absences changed "
            "since the last look and sync only those (quick polling, for clusters Personio's "
            "webhooks cannot reach), as a Go duration such as 2m; at least 1m, at most 8760h; "
            "off when unset. Deletions wait for a webhook or the next full sync.",
        ),
    ] = None
    timeZone: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            description="IANA time zone whose calendar date is 'today' for the window "
            "(e.g. Europe/Berlin).",
        ),
    ] = "Europe/Berlin"
    window: Annotated[Window, Field(description="The sync window around today.")] = Window()
    includePending: Annotated[
        StrictBool, Field(description="Also transfer absences still waiting for approval.")
    ] = False
    absenceTypes: Annotated[
        AbsenceTypes, Field(description="Which Personio absence types to transfer.")
    ] = AbsenceTypes()
    hourlyAbsences: Annotated[
        HourlyAbsences,
        Field(description="Skip hour-based absences, or transfer them as full days."),
    ] = HourlyAbsences.Skip
    description: Annotated[
        Description, Field(description="What the awork absence's description says.")
    ] = Description()
    userMappings: Annotated[
        list[UserMapping],
        Field(
            description="Links between people whose e-mails differ in the two tools.",
            max_length=1000,
        ),
    ] = []
    dryRun: Annotated[
        StrictBool, Field(description="Compute and report the plan, write nothing to awork.")
    ] = False
    suspend: Annotated[StrictBool, Field(description="Stop syncing until set back to false.")] = (
        False
    )
    deletionPolicy: Annotated[
        DeletionPolicy,
        Field(
            description="Retain leaves awork untouched when the resource is deleted; Delete "
            "first removes the absences this sync wrote."
        ),
    ] = DeletionPolicy.Retain
    deletionGuard: Annotated[
        DeletionGuardSpec,
        Field(description="Holds back deletions that would remove a large share of absences."),
    ] = DeletionGuardSpec()
    webhook: Annotated[
        WebhookSpec | None,
        Field(description="Personio webhooks for near-real-time syncs (optional)."),
    ] = None
    adoptFrom: Annotated[
        list[Annotated[str, Field(pattern=OWNER_KEY_PATTERN)]],
        Field(
            max_length=20,
            description="Owner keys (status.ownerKey of another PersonioSync, 12 hex "
            "characters) whose awork absences this sync takes over, for renames and "
            "migrations; at most 20.",
        ),
    ] = []

    statusDetail: Annotated[
        StatusDetail,
        Field(
            description="Lists shows who was matched, who was not and whose absences "
            "conflict, by e-mail, in status; Counts keeps e-mail addresses out of status "
            "(counts, Personio ids and owner keys only)."
        ),
    ] = StatusDetail.Lists

    @field_validator("timeZone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin"
            ) from exc
        return value

    @field_validator("interval", "quickInterval")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        """The same form and bounds for both, with the API server's messages (duration.py)."""
        return None if value is None else check_duration(value)

    @property
    def interval_delta(self) -> timedelta:
        return parse_duration(self.interval)

    def quick_interval_delta(self, floor: timedelta = MINIMUM) -> timedelta | None:
        """The quick-polling period, never below `floor` (the operator's setting, which may
        raise it past the spec's own minimum of 1m); None: off."""
        if self.quickInterval is None:
            return None
        return max(parse_duration(self.quickInterval), floor)


def parse_spec(raw: dict[str, Any]) -> PersonioSyncSpec:
    """Validate a raw spec, turning pydantic's errors into one readable line per field."""
    try:
        return PersonioSyncSpec.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = "spec." + ".".join(str(p) for p in err["loc"]) if err["loc"] else "spec"
            problems.append(f"{field}: {err['msg']}")
        raise SpecError("invalid PersonioSync: " + "; ".join(problems)) from None
