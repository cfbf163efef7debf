"""R20/R23: the status and conditions the operator writes, built at fixed times."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any, get_args

import jsonschema
import pytest
from test_crd_model import schema as crd_schema

from personio_sync.controller.reporting import conditions
from personio_sync.controller.reporting import outcomes as status
from personio_sync.controller.schedule import history_of
from personio_sync.engine.model import DateRange
from personio_sync.engine.plan import CHANGES
from personio_sync.engine.report import (
    ActionCounts,
    Conflict,
    Failure,
    HeldDeletes,
    PlannedAction,
    SyncReport,
    UserReport,
)
from personio_sync.errors import (
    AworkAuthError,
    AworkTransportError,
    PersonioAuthError,
    PersonioEmailNotReadable,
    PersonioTransportError,
    SecretProblem,
    SyncError,
)
from personio_sync.resource.status import (
    MAX_FAILURES,
    MAX_LISTED_USERS,
    PersonioSyncStatus,
    PlannedChange,
)
from personio_sync.sync.progress import Progress

T0 = datetime(2026, 7, 21, 8, 0, 0, tzinfo=UTC)
STAMP = status.Stamp(generation=3, now=T0)
NEXT = T0 + timedelta(hours=1)


def report(**changes: Any) -> SyncReport:
    values: dict[str, Any] = {
        "window": DateRange(date(2026, 7, 7), date(2027, 1, 17)),
        "dry_run": False,
        "users": UserReport(
            matched=["a@x.example", "b@x.example"],
            personio_only=["new@x.example"],
            awork_only=["free@x.example"],
        ),
        "actions": ActionCounts(created=3, updated=1, unchanged=5),
        "duration_seconds": 2.5,
    }
    values.update(changes)
    return SyncReport(**values)


def by_type(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in doc["conditions"]}


def test_r20_successful_run_status() -> None:
    doc = status.after_report({}, report(), stamp=STAMP, next_sync=NEXT)
    assert doc["observedGeneration"] == 3
    assert doc["lastSyncTime"] == doc["lastSuccessfulSyncTime"] == "2026-07-21T08:00:00Z"
    assert doc["nextSyncTime"] == "2026-07-21T09:00:00Z"
    assert doc["users"]["matched"] == 2
    assert doc["users"]["personioOnlyEmails"] == ["new@x.example"]
    assert doc["users"]["truncated"] is False and "note" not in doc["users"]
    assert doc["lastRun"]["window"] == {"from": "2026-07-07", "to": "2027-01-17"}
    assert doc["lastRun"]["created"] == 3 and doc["lastRun"]["durationSeconds"] == 2.5
    conds = by_type(doc)
    assert [c["type"] for c in doc["conditions"]] == list(conditions.CONDITION_TYPES)
    assert {c["status"] for c in conds.values()} == {"True"}
    assert conds["Synced"]["reason"] == "Synced"
    assert all(c["observedGeneration"] == 3 for c in conds.values())
    PersonioSyncStatus.model_validate(doc)  # what the CRD schema accepts


def test_r7_lists_are_bounded_counts_exact_with_a_note() -> None:
    many = [f"user{i:04d}@x.example" for i in range(MAX_LISTED_USERS + 5)]
    doc = status.after_report(
        {}, report(users=UserReport(matched=many)), stamp=STAMP, next_sync=NEXT
    )
    users = doc["users"]
    assert users["matched"] == MAX_LISTED_USERS + 5
    assert len(users["matchedEmails"]) == MAX_LISTED_USERS
    assert users["truncated"] is True and "at most" in users["note"]


def test_r15_item_failures_bounded_and_synced_false() -> None:
    failures = [Failure(str(i), "a@x.example", "awork 400: bad") for i in range(MAX_FAILURES + 7)]
    run = report(actions=ActionCounts(created=1, failed=MAX_FAILURES + 7), failures=failures)
    doc = status.after_report({}, run, stamp=STAMP, next_sync=NEXT)
    assert len(doc["failures"]) == MAX_FAILURES
    assert doc["lastRun"]["failed"] == MAX_FAILURES + 7
    conds = by_type(doc)
    assert conds["Synced"]["status"] == "False" and conds["Synced"]["reason"] == "ItemsFailed"
    assert conds["Ready"]["status"] == "False"
    PersonioSyncStatus.model_validate(doc)


def test_r16_dry_run_says_nothing_was_written() -> None:
    doc = status.after_report({}, report(dry_run=True), stamp=STAMP, next_sync=NEXT)
    synced = by_type(doc)["Synced"]
    assert synced["reason"] == "DryRun" and "nothing written" in synced["message"]
    assert doc["lastRun"]["dryRun"] is True


def test_r23_broken_mapping_shows_on_ready() -> None:
    users = UserReport(matched=["a@x.example"], broken_mappings=["old@x -> nobody@x"])
    doc = status.after_report({}, report(users=users), stamp=STAMP, next_sync=NEXT)
    ready = by_type(doc)["Ready"]
    assert ready["reason"] == "UserMappingNotFound" and "old@x -> nobody@x" in ready["message"]


def test_r7_people_without_email_get_the_attribute_hint() -> None:
    users = UserReport(matched=["a@x.example"], without_email=["1006"])
    doc = status.after_report({}, report(users=users), stamp=STAMP, next_sync=NEXT)
    personio = by_type(doc)["PersonioCredentialsValid"]
    assert personio["reason"] == "EmailPartlyReadable" and "e-mail attribute" in personio["message"]
    assert doc["users"]["withoutEmailIds"] == ["1006"]


CASES: list[tuple[SyncError, str, str, str]] = [
    # error, Ready reason, PersonioCredentialsValid status, AworkCredentialsValid status
    (PersonioAuthError("Personio rejected the client id"), "PersonioCredentialsRejected",
     "False", "Unknown"),
    (PersonioEmailNotReadable("cannot read e-mails"), "PersonioEmailNotReadable",
     "False", "Unknown"),
    (PersonioTransportError("timeout"), "PersonioUnreachable", "Unknown", "Unknown"),
    (AworkAuthError("awork rejected the API key"), "AworkCredentialsRejected", "True", "False"),
    (AworkTransportError("timeout"), "AworkUnreachable", "True", "Unknown"),
    (SecretProblem("Secret 's' not found", "SecretNotFound", frozenset({"personio", "awork"})),
     "SecretNotFound", "False", "False"),
    (SecretProblem("lacks aworkApiKey", "SecretKeyMissing", frozenset({"awork"})),
     "SecretKeyMissing", "Unknown", "False"),
]  # fmt: skip


@pytest.mark.parametrize(("error", "reason", "personio", "awork"), CASES)
def test_r23_each_error_is_its_own_condition(
    error: SyncError, reason: str, personio: str, awork: str
) -> None:
    doc = status.after_error({}, error, stamp=STAMP, next_sync=NEXT)
    conds = by_type(doc)
    assert conds["Ready"]["status"] == "False" and conds["Ready"]["reason"] == reason
    assert conds["Synced"]["reason"] == reason
    assert conds["Ready"]["message"] == error.message
    assert conds["PersonioCredentialsValid"]["status"] == personio
    assert conds["AworkCredentialsValid"]["status"] == awork
    PersonioSyncStatus.model_validate(doc)


def test_failed_run_keeps_the_last_completed_runs_facts() -> None:
    good = status.after_report({}, report(), stamp=STAMP, next_sync=NEXT)
    later = status.Stamp(generation=3, now=T0 + timedelta(hours=1))
    doc = status.after_error(good, AworkTransportError("down"), stamp=later, next_sync=None)
    assert doc["users"] == good["users"] and doc["lastRun"] == good["lastRun"]
    assert doc["lastSuccessfulSyncTime"] == "2026-07-21T08:00:00Z"
    assert doc["lastSyncTime"] == "2026-07-21T09:00:00Z"
    assert history_of(doc).last_failed


def test_r23_invalid_spec_does_not_count_as_a_run() -> None:
    good = status.after_report({}, report(), stamp=STAMP, next_sync=NEXT)
    later = status.Stamp(generation=4, now=T0 + timedelta(minutes=5))
    error = SyncError("spec.timeZone: unknown time zone")
    doc = status.after_error(good, error, stamp=later, next_sync=None, attempted=False)
    assert doc["lastSyncTime"] == good["lastSyncTime"] and "nextSyncTime" not in doc
    assert doc["observedGeneration"] == 4


def test_r20_transition_time_moves_only_when_status_changes() -> None:
    first = status.after_report({}, report(), stamp=STAMP, next_sync=NEXT)
    later = status.Stamp(generation=3, now=T0 + timedelta(hours=1))
    same = status.after_report(first, report(), stamp=later, next_sync=NEXT)
    assert by_type(same)["Ready"]["lastTransitionTime"] == "2026-07-21T08:00:00Z"
    failed = status.after_error(first, AworkAuthError("no"), stamp=later, next_sync=None)
    assert by_type(failed)["Ready"]["lastTransitionTime"] == "2026-07-21T09:00:00Z"
    # Personio stayed True: its transition time stays too.
    personio = by_type(failed)["PersonioCredentialsValid"]
    assert personio["lastTransitionTime"] == "2026-07-21T08:00:00Z"


def test_r18_suspended_status() -> None:
    good = status.after_report({}, report(), stamp=STAMP, next_sync=NEXT)
    later = status.Stamp(generation=4, now=T0 + timedelta(minutes=1))
    doc = status.suspended(good, stamp=later)
    assert doc["suspended"] is True and "nextSyncTime" not in doc
    conds = by_type(doc)
    assert conds["Ready"]["reason"] == "Suspended" and conds["Ready"]["status"] == "False"
    assert conds["Synced"]["status"] == "True"  # still describes the last run
    assert doc["users"] == good["users"]


def test_r20_progress_with_eta_and_bottleneck() -> None:
    update = Progress(
        done=120, total=300, rate_per_second=8.0, eta_seconds=15.04, bottleneck="awork"
    )
    doc = status.progress(update)
    assert doc == {
        "done": 120,
        "total": 300,
        "etaSeconds": 15.0,
        "message": "writing absences, paced by awork's rate limit",
    }


def test_previous_status_that_no_longer_fits_is_dropped_not_fatal() -> None:
    broken = {"users": {"matched": -1}, "lastRun": "nonsense", "failures": [{"x": 1}]}
    doc = status.after_error(broken, AworkTransportError("down"), stamp=STAMP, next_sync=None)
    assert "users" not in doc and "lastRun" not in doc and doc["failures"] == []


def test_r16_planned_sample_only_for_dry_runs() -> None:
    planned = [PlannedAction("create", "p1", "a@x.example", "2026-08-01", "2026-08-02")]
    dry = status.after_report(
        {}, report(dry_run=True, planned=planned), stamp=STAMP, next_sync=NEXT
    )
    real = status.after_report({}, report(planned=planned), stamp=STAMP, next_sync=NEXT)
    assert dry["lastRun"]["planned"][0]["personioId"] == "p1"
    assert real["lastRun"]["planned"] == []


def test_ux_7_status_planned_names_what_each_update_would_change() -> None:
    """The status's sample says per update what would change, as the CLI's JSON does, in
    the CRD's bounds; `statusDetail: Counts` keeps it (it names no one)."""
    planned = [
        PlannedAction("update", "p1", "a@x.example", "2026-08-01", "2026-08-05",
                      ("end", "description")),
        PlannedAction("create", "p2", "b@x.example", "2026-08-03", "2026-08-03"),
    ]  # fmt: skip
    run = report(dry_run=True, planned=planned)
    for lists in (True, False):
        doc = status.after_report({}, run, stamp=STAMP, next_sync=NEXT, lists=lists)
        update, create = doc["lastRun"]["planned"]
        assert update["changes"] == ["end", "description"] and create["changes"] == []
        jsonschema.validate(doc, crd_schema("status"))
    assert get_args(PlannedChange) == CHANGES  # the status names what the engine names


def test_d_guard_held_deletions_make_ready_and_synced_false_with_the_way_out() -> None:
    held = HeldDeletes(count=40, owned_in_window=100, limit=25, source_empty=False)
    run = report(actions=ActionCounts(created=1, held_deletes=40), held=held)
    doc = status.after_report({}, run, stamp=STAMP, next_sync=NEXT)
    conds = by_type(doc)
    for kind in ("Ready", "Synced"):
        assert (conds[kind]["status"], conds[kind]["reason"]) == ("False", "MassDeletionHeld")
    message = conds["Ready"]["message"]
    assert "40 deletions held back" in message and "25" in message
    assert "personio-sync.dev/allow-mass-delete" in message
    assert doc["lastRun"]["heldDeletes"] == 40
    PersonioSyncStatus.model_validate(doc)


def test_d_guard_empty_source_says_personio_listed_nothing() -> None:
    held = HeldDeletes(count=3, owned_in_window=3, limit=5, source_empty=True)
    doc = status.after_report({}, report(held=held), stamp=STAMP, next_sync=NEXT)
    assert "Personio listed no absence periods" in by_type(doc)["Synced"]["message"]


def everything_report() -> SyncReport:
    """A run that has something in every list that can hold an e-mail address."""
    users = UserReport(
        matched=["a@x.example"],
        personio_only=["new@x.example"],
        awork_only=["free@x.example"],
        ambiguous=["anna@x.example", "erin@x.example"],
        without_email=["1006"],
        broken_mappings=["old@x.example -> nobody@x.example (no awork user with that e-mail)"],
        colliding_mappings=["erin@x.example -> anna@x.example"],
    )
    return report(
        users=users,
        dry_run=True,
        actions=ActionCounts(created=1, failed=1, conflicts=1),
        failures=[Failure("p-1", "a@x.example", "awork 400: bad")],
        planned=[PlannedAction("create", "p-2", "a@x.example", "2026-07-22", "2026-07-22")],
        owner="0123456789ab",
        conflicts=[Conflict("p-3", "a@x.example", "ba9876543210")],
    )


def test_d_privacy_status_detail_counts_keeps_every_email_out_of_status() -> None:
    doc = status.after_report({}, everything_report(), stamp=STAMP, next_sync=NEXT, lists=False)
    assert "@" not in json.dumps(doc)
    users = doc["users"]
    assert (users["matched"], users["ambiguous"], users["personioOnly"]) == (1, 2, 1)
    assert users["withoutEmailIds"] == ["1006"] and "Counts" in users["note"]
    assert doc["conflicts"] == [{"personioId": "p-3", "owner": "ba9876543210"}]
    assert doc["failures"][0]["personioId"] == "p-1"
    assert doc["lastRun"]["planned"][0]["personioId"] == "p-2"
    assert "2 ambiguous" in doc["message"]
    PersonioSyncStatus.model_validate(doc)
    lists = status.after_report({}, everything_report(), stamp=STAMP, next_sync=NEXT)
    assert lists["users"]["ambiguousEmails"] == ["anna@x.example", "erin@x.example"]
    assert lists["conflicts"][0]["email"] == "a@x.example"


def test_d_privacy_counts_also_scrubs_what_a_failed_or_suspended_status_carries_over() -> None:
    before = status.after_report({}, everything_report(), stamp=STAMP, next_sync=NEXT)
    assert "@" in json.dumps(before)
    failed = status.after_error(
        before, AworkAuthError("rejected"), stamp=STAMP, next_sync=NEXT, lists=False
    )
    paused = status.suspended(before, stamp=STAMP, lists=False)
    assert "@" not in json.dumps(failed) and "@" not in json.dumps(paused)
    assert failed["users"]["matched"] == paused["users"]["matched"] == 1


def test_d_privacy_broken_mapping_is_counted_not_named_with_counts() -> None:
    users = UserReport(matched=["a@x.example"], broken_mappings=["old@x -> nobody@x"])
    doc = status.after_report({}, report(users=users), stamp=STAMP, next_sync=NEXT, lists=False)
    ready = by_type(doc)["Ready"]
    assert ready["reason"] == "UserMappingNotFound" and "1 spec.userMappings" in ready["message"]
    assert "@" not in json.dumps(doc)
