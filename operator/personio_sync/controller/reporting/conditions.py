"""Which conditions an outcome sets (R20, R23): pure, so every error's wording is unit-tested.

Four conditions answer four questions an admin asks: is it working (Ready), does
Personio accept the credential (PersonioCredentialsValid), does awork accept the key
(AworkCredentialsValid), did the last run converge (Synced). A credential that was not
exercised because something earlier failed is Unknown, never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from personio_sync.controller.schedule import parse_time
from personio_sync.engine.guard import describe
from personio_sync.engine.report import HeldDeletes, SyncReport, counted
from personio_sync.errors import (
    AworkAuthError,
    AworkError,
    ConfigError,
    PersonioAuthError,
    PersonioEmailNotReadable,
    PersonioError,
    PersonioScopeError,
    SecretProblem,
    SyncError,
    clip,
)
from personio_sync.reasons import ConditionReason as R
from personio_sync.reasons import ConditionType
from personio_sync.resource.spec import ALLOW_MASS_DELETE
from personio_sync.resource.status import CONDITION_TYPES, MAX_MESSAGE, Condition

READY = ConditionType.READY
PERSONIO = ConditionType.PERSONIO
AWORK = ConditionType.AWORK
SYNCED = ConditionType.SYNCED

Status = Literal["True", "False", "Unknown"]


@dataclass(frozen=True)
class Cond:
    """A condition as decided, before timestamps: what changes between runs. Decided
    ones carry a ConditionReason; one kept from a written status keeps its words."""

    type: str
    status: Status
    reason: str
    message: str


def _accepted(kind: str, what: str) -> Cond:
    return Cond(kind, "True", R.CREDENTIALS_ACCEPTED, f"{what} accepted the credential")


def _not_checked(kind: str, why: str) -> Cond:
    return Cond(kind, "Unknown", R.NOT_CHECKED, why)


def for_report(report: SyncReport, *, lists: bool = True) -> list[Cond]:
    """Conditions after a completed run: credentials proven, Synced says how it went.

    `lists=False` (spec.statusDetail Counts): messages count, they name no e-mail."""
    personio = email_partly_readable(report) or _accepted(PERSONIO, "Personio")
    synced = _synced(report)
    ready = Cond(READY, synced.status, synced.reason, synced.message)
    if synced.status == "True" and report.conflicts:
        ready = Cond(READY, "False", R.OWNERSHIP_CONFLICT, conflict_message(report))
    elif synced.status == "True" and report.users.broken_mappings:
        ready = Cond(READY, "True", R.USER_MAPPING_NOT_FOUND, broken_message(report, lists=lists))
    return [ready, personio, _accepted(AWORK, "awork"), synced]


def email_partly_readable(report: SyncReport) -> Cond | None:
    """Some people have no readable e-mail (R7): the credential reads the attribute (with
    none readable the client stops the run, PersonioEmailNotReadable), so the fix is
    those people's: an e-mail in Personio, or attribute access that covers them. The
    condition and its Warning say the same (UX-14)."""
    missing = len(report.users.without_email)
    if not missing:
        return None
    return Cond(
        PERSONIO,
        "True",
        R.EMAIL_PARTLY_READABLE,
        f"{counted(missing, 'Personio person has', 'Personio people have')} no readable "
        "e-mail and cannot be matched: give them an e-mail in Personio, or widen the API "
        "credential's access to the e-mail attribute to cover them (ids in "
        "status.users.withoutEmailIds)",
    )


def broken_message(report: SyncReport, *, lists: bool) -> str:
    """userMappings entries that point at nobody (R8): listed, or only counted (Events and
    spec.statusDetail Counts carry no e-mail)."""
    broken = report.users.broken_mappings
    if lists:
        return (
            "spec.userMappings points at nobody: "
            + ", ".join(broken[:5])
            + "; fix the e-mail or remove the mapping"
        )
    return (
        f"{_mapping_entries(len(broken))} at nobody (no Personio person or no awork user with "
        "that e-mail); fix the e-mail or remove the mapping"
    )


def _mapping_entries(count: int) -> str:
    return counted(count, "spec.userMappings entry points", "spec.userMappings entries point")


def ambiguous_message(report: SyncReport) -> str:
    """People left out because their address is ambiguous (R7), and whether a mapping did
    it; counts only, for an Event."""
    users = report.users
    text = f"{counted(len(users.ambiguous), 'person is', 'people are')} ambiguous and not synced"
    if users.colliding_mappings:
        text += (
            f"; {_mapping_entries(len(users.colliding_mappings))} at an awork user another "
            "person already matches, which makes both ambiguous"
        )
    return text + "; see status.users.ambiguousEmails"


def held_message(held: HeldDeletes, name: str = "<name>") -> str:
    """What was held back and how to let it through once (D-Guard)."""
    return (
        f"{describe(held)}. If Personio is right, allow them once: kubectl annotate "
        f'--overwrite psync {name} {ALLOW_MASS_DELETE}="$(date +%s)"'
    )


def conflict_message(report: SyncReport) -> str:
    """Which other owners hold periods of ours, and the two ways out (D-Owner)."""
    owners = sorted({c.owner for c in report.conflicts})
    return (
        f"{counted(len(report.conflicts), 'absence is', 'absences are')} already synced by "
        "another owner "
        f"({', '.join(owners[:5])}; see status.conflicts) and were left alone. If this "
        "resource should own them, add those keys to spec.adoptFrom; otherwise remove the "
        "other PersonioSync (its status.ownerKey) or this one"
    )


def _synced(report: SyncReport) -> Cond:
    acts = report.actions
    if report.held is not None:
        return Cond(SYNCED, "False", R.MASS_DELETION_HELD, held_message(report.held))
    if acts.failed:
        return Cond(
            SYNCED,
            "False",
            R.ITEMS_FAILED,
            f"{counted(acts.failed, 'absence', 'absences')} could not be written (see "
            "status.failures); they are retried on the next run",
        )
    if report.dry_run:
        return Cond(
            SYNCED,
            "True",
            R.DRY_RUN,
            f"dry run, nothing written: would create {acts.created}, update {acts.updated}, "
            f"delete {acts.deleted}",
        )
    return Cond(
        SYNCED,
        "True",
        R.SYNCED,
        f"{counted(len(report.users.matched), 'person', 'people')} matched; created "
        f"{acts.created}, updated {acts.updated}, deleted {acts.deleted}, unchanged "
        f"{acts.unchanged}",
    )


def for_error(error: SyncError) -> list[Cond]:
    """Conditions after a run that could not run at all; awork was not written (R23)."""
    message = clip(error.message, MAX_MESSAGE)
    failed = [
        Cond(READY, "False", error.reason, message),
        Cond(SYNCED, "False", error.reason, message),
    ]
    return failed + _credential_conditions(error, message)


# Per credential condition: the vendor's name in `SyncError.answered` and in messages,
# its errors, and those that are the credential's own fault (its condition is False).
_VENDORS: dict[str, tuple[str, str, type[SyncError], tuple[type[SyncError], ...]]] = {
    PERSONIO: (
        "personio",
        "Personio",
        PersonioError,
        (PersonioAuthError, PersonioScopeError, PersonioEmailNotReadable),
    ),
    AWORK: ("awork", "awork", AworkError, (AworkAuthError,)),
}


def _credential_conditions(error: SyncError, message: str) -> list[Cond]:
    if isinstance(error, SecretProblem):
        return [
            Cond(kind, "False", error.reason, message)
            if vendor in error.vendors
            else _not_checked(kind, "not checked: the Secret must be fixed first")
            for kind, vendor in ((PERSONIO, "personio"), (AWORK, "awork"))
        ]
    return [_credential(kind, error, message) for kind in (PERSONIO, AWORK)]


def _credential(kind: str, error: SyncError, message: str) -> Cond:
    """A vendor that answered the run accepted its credential, whatever failed after
    (an unknown absence type is the spec's fault, not Personio's); one that did not
    answer is Unknown: its own error's reason, or not checked (UX-16)."""
    vendor, name, errors, rejected = _VENDORS[kind]
    if isinstance(error, rejected):
        return Cond(kind, "False", error.reason, message)
    if vendor in _answered(error):
        return _accepted(kind, name)
    if isinstance(error, errors):
        return Cond(kind, "Unknown", error.reason, message)
    if isinstance(error, PersonioError):
        return _not_checked(kind, "not checked: Personio failed first")
    if isinstance(error, ConfigError):
        return _not_checked(kind, "not checked: the configuration must be fixed first")
    # the control plane, the run deadline or a bug: the credentials are not the issue
    return _not_checked(kind, f"not known: the run ended with {error.reason}")


def _answered(error: SyncError) -> frozenset[str]:
    """Who answered before the error. An awork error implies Personio did: the runner
    raises Personio's error first when both fail."""
    if isinstance(error, AworkError):
        return error.answered | {"personio"}
    return error.answered


def for_suspended(previous: Sequence[Mapping[str, Any]]) -> list[Cond]:
    """Suspension changes Ready only; the other conditions still describe the last run."""
    kept = [from_dict(c) for c in previous if c.get("type") != READY]
    ready = Cond(
        READY, "False", R.SUSPENDED, "spec.suspend is true: no syncs until it is set to false"
    )
    return [ready, *kept]


def pending() -> list[Cond]:
    """Before the first run finishes: nothing is known yet."""
    return [
        Cond(kind, "Unknown", R.PENDING, "waiting for the first sync") for kind in CONDITION_TYPES
    ]


def from_dict(raw: Mapping[str, Any]) -> Cond:
    status = raw.get("status")
    return Cond(
        type=str(raw.get("type", "")),
        status=status if status in ("True", "False", "Unknown") else "Unknown",
        reason=str(raw.get("reason") or "Unknown"),
        message=str(raw.get("message") or ""),
    )


def merge(
    previous: Sequence[Mapping[str, Any]],
    decided: Sequence[Cond],
    *,
    now: datetime,
    generation: int | None,
) -> list[Condition]:
    """Stamp decided conditions; lastTransitionTime moves only when `status` changes."""
    before = {str(c.get("type")): c for c in previous}
    ordered = sorted(decided, key=lambda c: CONDITION_TYPES.index(c.type))
    result = []
    for cond in ordered:
        old = before.get(cond.type)
        changed = old is None or old.get("status") != cond.status
        kept = None if changed or old is None else parse_time(old.get("lastTransitionTime"))
        when = kept or now
        result.append(
            Condition(
                type=cond.type,
                status=cond.status,
                reason=cond.reason,
                message=clip(cond.message, MAX_MESSAGE),
                lastTransitionTime=when,
                observedGeneration=generation,
            )
        )
    return result
