"""The PersonioSync CustomResourceDefinition, generated from the pydantic models.

The spec schema comes from `PersonioSyncSpec` (spec.py) and the status schema from
`PersonioSyncStatus` below, so the API server, the CLI and the operator refuse the same
inputs with the same field names, and the operator can build its status with a typed
model that the API server is certain to accept. Regenerate the committed file with

    python -m personio_sync.resource.crd > crds/personiosync.yaml

(tests/unit/test_crd_model.py fails when the two drift apart).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from personio_sync.resource.spec import (
    API_GROUP,
    API_VERSION,
    INTERVAL_PATTERN,
    KIND,
    PLURAL,
    PersonioSyncSpec,
)

SINGULAR = "personiosync"
SHORT_NAMES = ["psync"]
CRD_NAME = f"{PLURAL}.{API_GROUP}"

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
CONDITION_TYPES = ("Ready", "PersonioCredentialsValid", "AworkCredentialsValid", "Synced")


def _rfc3339(value: datetime) -> str:
    """Kubernetes style: UTC, whole seconds, `Z` (what `kubectl get` parses for `date` columns)."""
    if value.tzinfo is None:
        raise ValueError("status timestamps must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


class PlannedAction(_Status):
    """One line of a dry run's sample (R16)."""

    action: Annotated[
        Literal["create", "update", "delete"], Field(description="What would be done.")
    ]
    personioId: Annotated[str, Field(description="The Personio absence period's id.")]
    email: Annotated[str | None, Field(description=OMITTED_WITH_COUNTS)] = None
    start: Annotated[str, Field(description="First day of the absence.")]
    end: Annotated[str, Field(description="Last day of the absence.")]


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
        list[PlannedAction],
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


class Progress(_Status):
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
    url: Annotated[str | None, Field(max_length=2048, description="Where it delivers.")] = None
    state: Annotated[
        Literal["Registered", "NotPermitted", "TokenMissing", "Failed"],
        Field(description="Registered (enabled in Personio), or why it is not."),
    ]
    reason: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            pattern=CONDITION_REASON_PATTERN,
            description="WebhookRegistered, WebhookNotPermitted, WebhookTokenMissing or "
            "WebhookFailed.",
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
        Progress | None, Field(description="Progress of the run in flight, if any.")
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
    lastEvent: Annotated[
        LastEvent | None,
        Field(description="The last Personio webhook event received for this resource."),
    ] = None
    webhook: Annotated[
        WebhookStatus | None,
        Field(description="The self-registered Personio webhook (spec.webhook.register)."),
    ] = None


# --- pydantic JSON Schema -> Kubernetes structural OpenAPI v3 schema -----------------

_KEPT = {
    "type", "description", "default", "enum", "format", "pattern", "minimum", "maximum",
    "minLength", "maxLength", "minItems", "maxItems", "items", "properties", "required",
}  # fmt: skip


def openapi_schema(model: type[BaseModel], *, defaults: bool) -> dict[str, Any]:
    """A structural schema for `model`, failing loudly on any keyword it cannot carry over.

    Silently dropping a constraint would let the API server accept what the operator
    refuses, so an unknown keyword is an error, not a warning.
    """
    raw = model.model_json_schema(by_alias=True)
    schema: dict[str, Any] = _convert(
        raw, raw.get("$defs", {}), defaults=defaults, path=model.__name__
    )
    return schema


def _convert(
    node: dict[str, Any], defs: dict[str, Any], *, defaults: bool, path: str, field: bool = True
) -> Any:
    node = _resolve(node, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("title", "$defs") or (key == "additionalProperties" and value is False):
            continue
        if key.startswith("x-kubernetes-"):
            out[key] = value
        elif key == "properties":
            out[key] = {
                name: _convert(sub, defs, defaults=defaults, path=f"{path}.{name}")
                for name, sub in value.items()
            }
        elif key in ("items", "additionalProperties"):
            out[key] = _convert(value, defs, defaults=defaults, path=f"{path}[]", field=False)
        elif key == "default":
            if defaults:
                # Objects default to {} so their own fields' defaults fill them in: one
                # source for every default, and `kubectl explain` shows each where it applies.
                out[key] = {} if isinstance(value, dict) else value
        elif key in _KEPT:
            out[key] = value
        else:
            raise ValueError(f"{path}: JSON Schema keyword {key!r} has no CRD equivalent")
    if field and "description" not in out:
        raise ValueError(f"{path}: every field needs a description (kubectl explain shows it)")
    if field and defaults:
        out["description"] = _with_constraints(out["description"], out)
    return _ordered(out)


def _with_constraints(description: str, node: dict[str, Any]) -> str:
    """The description plus default, range and choices: `kubectl explain` shows only the
    description, so a user would otherwise never see them. Spec only (`defaults=True`)."""
    notes = []
    default = node.get("default")
    if default is not None and default != {}:
        shown = "empty" if default == [] else json.dumps(default).strip('"')
        notes.append(f"Default: {shown}.")
    if "enum" in node:
        notes.append("One of: " + ", ".join(map(str, node["enum"])) + ".")
    low, high = node.get("minimum"), node.get("maximum")
    if low is not None and high is not None:
        notes.append(f"Range: {low} to {high}.")
    elif low is not None or high is not None:
        notes.append(f"At least {low}." if low is not None else f"At most {high}.")
    if "maxLength" in node:
        low_length, high_length = node.get("minLength", 0), node["maxLength"]
        span = f"{low_length} to {high_length}" if low_length > 1 else f"at most {high_length}"
        notes.append(f"Length: {span} characters.")
    if "maxItems" in node:
        notes.append(f"At most {node['maxItems']} entries.")
    return " ".join([description.rstrip(), *notes])


def _ordered(node: dict[str, Any]) -> dict[str, Any]:
    """type and description first, the rest sorted: a stable, readable file."""
    first = [k for k in ("type", "description") if k in node]
    return {k: node[k] for k in first + sorted(k for k in node if k not in first)}


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Inline `$ref`s and collapse `X | None` (optional status fields are simply omitted)."""
    if "anyOf" in node:
        variants = [v for v in node["anyOf"] if v.get("type") != "null"]
        if len(variants) != 1:
            raise ValueError(f"unions other than `X | None` cannot be expressed: {node}")
        rest = {k: v for k, v in node.items() if k != "anyOf" and v is not None}
        node = {**_resolve(variants[0], defs), **rest}
    if "$ref" in node:
        target = dict(defs[node["$ref"].rsplit("/", 1)[-1]])
        # The field's own description says more than the class docstring.
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _interval_rule(spec: dict[str, Any]) -> None:
    """The pattern cannot say "at least 1m"; CEL's duration() can, like the model does."""
    # The pattern reports a malformed value; CEL must not also report a parse error.
    parsed = f"!self.matches('{INTERVAL_PATTERN}') || self == '' || "
    spec["properties"]["interval"]["x-kubernetes-validations"] = [
        {"rule": "self != ''", "message": "must not be empty: use a duration such as 1h"},
        {"rule": parsed + "duration(self) >= duration('1m')", "message": "must be at least 1m"},
        {
            "rule": parsed + "duration(self) <= duration('8760h')",
            "message": "must be at most 8760h (a year)",
        },
    ]


PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "Ready", "type": "string",
     "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
    {"name": "Matched", "type": "integer", "jsonPath": ".status.users.matched"},
    {"name": "PersonioOnly", "type": "integer", "jsonPath": ".status.users.personioOnly"},
    {"name": "AworkOnly", "type": "integer", "jsonPath": ".status.users.aworkOnly"},
    {"name": "Ambiguous", "type": "integer", "jsonPath": ".status.users.ambiguous"},
    {"name": "Last Sync", "type": "date", "jsonPath": ".status.lastSyncTime"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {"name": "Reason", "type": "string", "priority": 1,
     "jsonPath": '.status.conditions[?(@.type=="Ready")].reason'},
    {"name": "Interval", "type": "string", "priority": 1, "jsonPath": ".spec.interval"},
    {"name": "DryRun", "type": "boolean", "priority": 1, "jsonPath": ".spec.dryRun"},
    {"name": "Suspended", "type": "boolean", "priority": 1, "jsonPath": ".spec.suspend"},
]  # fmt: skip


def crd() -> dict[str, Any]:
    """The CustomResourceDefinition as a dict (what crds/personiosync.yaml holds)."""
    spec = openapi_schema(PersonioSyncSpec, defaults=True)
    _interval_rule(spec)
    status = openapi_schema(PersonioSyncStatus, defaults=False)
    schema = {
        "type": "object",
        "description": "Keeps a team's absences in awork in line with Personio.",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": "API version of this object."},
            "kind": {"type": "string", "description": "Kind of this object."},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME},
        "spec": {
            "group": API_GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": SHORT_NAMES,
            },
            "versions": [
                {
                    "name": API_VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def status_schema() -> dict[str, Any]:
    """The CRD's status schema, for tests that check what the operator writes (jsonschema)."""
    return openapi_schema(PersonioSyncStatus, defaults=False)


HEADER = (
    "# Generated by `python -m personio_sync.resource.crd` from personio_sync/resource/spec.py"
    " and crd.py.\n"
)


def crd_yaml() -> str:
    """The committed file's exact text."""
    return HEADER + "---\n" + yaml.safe_dump(crd(), sort_keys=False, width=100, allow_unicode=True)


def main() -> None:
    sys.stdout.write(crd_yaml())


if __name__ == "__main__":
    main()
