"""One PersonioSync as the watch delivered it, read once per body (issue 17).

The worker, its runs and the webhook registration ask the same few questions of a
resource: who it is, what its spec says (or why it is invalid), which annotations ask
for something, and what its status remembers. `ResourceView.of` answers them once per
body; nothing downstream digs in the raw body again. A body whose spec did not change
(the echo of a status write) reuses the parsed spec of the view before it, so a spec is
validated once per change however many status writes a run makes.

A few spec fields are also read raw (`Lenient`): with an invalid spec the operator
still honours `suspend` and `statusDetail: Counts`, keeps its finalizer for
`deletionPolicy: Delete`, and knows which Secret the resource names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from personio_sync.controller.schedule import History, history_of
from personio_sync.errors import SpecError
from personio_sync.reasons import ConditionReason, ConditionType
from personio_sync.resource.spec import PersonioSyncSpec, StatusDetail, parse_spec


def _mapping(raw: object) -> Mapping[str, Any]:
    return raw if isinstance(raw, Mapping) else {}


def identity(body: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """Namespace, name and uid: what the supervisor needs before any parsing."""
    meta = _mapping(body.get("metadata"))
    uid = meta.get("uid")
    return (
        str(meta.get("namespace", "")),
        str(meta.get("name", "")),
        None if uid is None else str(uid),
    )


@dataclass(frozen=True)
class Lenient:
    """Spec fields read raw: an invalid spec's resource must honour them too."""

    secret_name: str  # spec.secretRef.name ("" when absent)
    suspend: bool
    dry_run: bool
    delete_on_removal: bool  # deletionPolicy: Delete (R19)
    registers_webhook: bool  # spec.webhook.register (HOOK-7)
    lists: bool  # statusDetail is not Counts (R7)

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Lenient:
        secret = _mapping(raw.get("secretRef")).get("name")
        return cls(
            secret_name=str(secret) if secret else "",
            suspend=bool(raw.get("suspend")),
            dry_run=bool(raw.get("dryRun")),
            delete_on_removal=raw.get("deletionPolicy") == "Delete",
            registers_webhook=_mapping(raw.get("webhook")).get("register") is True,
            lists=raw.get("statusDetail") != StatusDetail.Counts.value,
        )


def version_of(body: Mapping[str, Any]) -> str:
    """A body's resourceVersion ("" when it has none)."""
    return str(_mapping(body.get("metadata")).get("resourceVersion", ""))


def is_newer(new: str, old: str) -> bool:
    """False for the version held or an older one (a late watch event, the echo of our
    own write); opaque resourceVersions count as newer."""
    if new.isdigit() and old.isdigit():
        return int(new) > int(old)
    return True


def in_progress(status: Mapping[str, Any]) -> bool:
    """True while `Synced` carries the run-in-progress mark (a live or a dead run, KUBE-4)."""
    raw = status.get("conditions")
    for cond in raw if isinstance(raw, list) else []:
        if isinstance(cond, Mapping) and cond.get("type") == ConditionType.SYNCED:
            return bool(cond.get("reason") == ConditionReason.SYNCING)
    return False


@dataclass(frozen=True, eq=False)
class ResourceView:
    """Everything the operator reads of one resource, parsed once."""

    body: Mapping[str, Any] = field(repr=False)  # as delivered: Events and patches name it
    namespace: str
    name: str
    uid: str | None
    generation: int | None
    resource_version: str
    deleting: bool  # metadata.deletionTimestamp is set
    finalizers: tuple[str, ...]
    annotations: Mapping[str, str]
    parsed: PersonioSyncSpec | SpecError  # the spec, or why it cannot be used
    lenient: Lenient
    status: Mapping[str, Any] = field(repr=False)
    history: History
    interrupted: bool  # status says a run is in flight (KUBE-4)
    raw_spec: Mapping[str, Any] = field(repr=False)

    @classmethod
    def of(cls, body: Mapping[str, Any], previous: ResourceView | None = None) -> ResourceView:
        """The view of `body`; the spec is parsed again only if it differs from `previous`'s."""
        meta = _mapping(body.get("metadata"))
        raw_spec = _mapping(body.get("spec"))
        status = _mapping(body.get("status"))
        namespace, name, uid = identity(body)
        generation = meta.get("generation")
        annotations = _mapping(meta.get("annotations"))
        if previous is not None and previous.raw_spec == raw_spec:
            parsed = previous.parsed
        else:
            parsed = _parse(raw_spec)
        return cls(
            body=body,
            namespace=namespace,
            name=name,
            uid=uid,
            generation=int(generation) if isinstance(generation, int) else None,
            resource_version=version_of(body),
            deleting=bool(meta.get("deletionTimestamp")),
            finalizers=tuple(str(f) for f in meta.get("finalizers") or ()),
            annotations={str(k): str(v) for k, v in annotations.items() if v is not None},
            parsed=parsed,
            lenient=Lenient.of(raw_spec),
            status=status,
            history=history_of(status),
            interrupted=in_progress(status),
            raw_spec=raw_spec,
        )

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace, self.name

    @property
    def spec(self) -> PersonioSyncSpec | None:
        return self.parsed if isinstance(self.parsed, PersonioSyncSpec) else None

    @property
    def spec_error(self) -> SpecError | None:
        return self.parsed if isinstance(self.parsed, SpecError) else None

    @property
    def webhook_status(self) -> Mapping[str, Any]:
        """`status.webhook` as the last registration wrote it (HOOK-7)."""
        return _mapping(self.status.get("webhook"))

    def annotation(self, key: str) -> str | None:
        return self.annotations.get(key)

    def newer_than(self, other: ResourceView) -> bool:
        return is_newer(self.resource_version, other.resource_version)


def _parse(raw: Mapping[str, Any]) -> PersonioSyncSpec | SpecError:
    try:
        return parse_spec(dict(raw))
    except SpecError as exc:
        return exc
