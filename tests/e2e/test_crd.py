"""The CRD on a real API server: defaults, validation (R23), explain, status subresource, columns.

The API server must refuse exactly what the operator's model refuses, naming the field,
so a bad spec never reaches the operator at all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from lightkube import ApiError, Client

from personio_sync.errors import SpecError
from personio_sync.resource.crd import CRD_NAME
from personio_sync.resource.spec import (
    API_GROUP,
    API_VERSION,
    KIND,
    PersonioSyncSpec,
    parse_spec,
)
from personio_sync.resource.status import MAX_LISTED_USERS, PersonioSyncStatus
from personio_sync_testing.devtools.kube import MERGE, PersonioSync
from personio_sync_testing.devtools.kubectl import CommandError, Kubectl

pytestmark = pytest.mark.e2e

MINIMAL: dict[str, Any] = {"secretRef": {"name": "creds"}}


def manifest(namespace: str, spec: dict[str, Any] | None, name: str = "team") -> str:
    body: dict[str, Any] = {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
    }
    if spec is not None:
        body["spec"] = spec
    return yaml.safe_dump(body)


def create(kube_api: Client, namespace: str, spec: dict[str, Any], name: str = "team") -> Any:
    body = yaml.safe_load(manifest(namespace, spec, name))
    return kube_api.create(PersonioSync(body))


def patch(kube_api: Client, namespace: str, body: dict[str, Any], status: bool = False) -> Any:
    """Merge-patch the resource "team" (or its status subresource)."""
    kind = PersonioSync.Status if status else PersonioSync
    return kube_api.patch(kind, "team", body, namespace=namespace, patch_type=MERGE)


def test_crd_is_established_with_its_names(kubectl: Kubectl) -> None:
    crd = kubectl.json("get", "crd", CRD_NAME)
    established = {c["type"]: c["status"] for c in crd["status"]["conditions"]}["Established"]
    assert established == "True"
    assert crd["status"]["acceptedNames"]["shortNames"] == ["psync"]
    assert "personiosync" in kubectl("api-resources", f"--api-group={API_GROUP}")


def test_r23_minimal_resource_gets_every_default(kube_api: Client, namespace: str) -> None:
    """Only secretRef given: the API server fills in the model's defaults, all of them
    (an optional field without a default, such as quickInterval, stays unset)."""
    created = create(kube_api, namespace, MINIMAL)
    expected = PersonioSyncSpec.model_validate(MINIMAL).model_dump(mode="json", exclude_none=True)
    assert created["spec"] == expected
    assert kube_api.get(PersonioSync, "team", namespace=namespace)["spec"] == expected


def test_explain_describes_the_window(kubectl: Kubectl) -> None:
    out = " ".join(kubectl("explain", "personiosync.spec.window").split())
    assert "The sync window around today." in out
    assert "pastDays <integer> Days before today included in the sync window." in out
    assert "futureDays <integer> Days after today included in the sync window." in out


def test_explain_describes_every_spec_field(kubectl: Kubectl) -> None:
    out = " ".join(kubectl("explain", "personiosync.spec").split())
    for name, field in PersonioSyncSpec.model_fields.items():
        assert f"{name} <" in out
        assert " ".join((field.description or "MISSING").split()) in out, name


LONG = "x" * 1001
# (id, spec, what the error must name). Every one of these the model refuses as well.
INVALID_SPECS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("negative-pastDays", {**MINIMAL, "window": {"pastDays": -1}}, ["spec.window.pastDays"]),
    ("huge-futureDays", {**MINIMAL, "window": {"futureDays": 3651}}, ["spec.window.futureDays"]),
    ("pastDays-string", {**MINIMAL, "window": {"pastDays": "14"}}, ["spec.window.pastDays"]),
    ("unknown-hourlyAbsences", {**MINIMAL, "hourlyAbsences": "Half"},
     ["spec.hourlyAbsences", "Unsupported value", "Skip", "FullDay"]),
    ("unknown-description-mode", {**MINIMAL, "description": {"mode": "Secret"}},
     ["spec.description.mode", "TypeName", "Generic"]),
    ("unknown-deletionPolicy", {**MINIMAL, "deletionPolicy": "Orphan"},
     ["spec.deletionPolicy", "Retain", "Delete"]),
    ("missing-secretRef", {"interval": "1h"}, ["spec.secretRef", "Required value"]),
    ("empty-secret-name", {"secretRef": {"name": ""}}, ["spec.secretRef.name"]),
    ("interval-days", {**MINIMAL, "interval": "1d"},
     ["spec.interval", "must be a duration such as 1h, 30m, 1h30m or 1.5h"]),
    ("interval-empty", {**MINIMAL, "interval": ""}, ["spec.interval", "must be a duration"]),
    ("interval-past-a-year", {**MINIMAL, "interval": "8761h"},
     ["spec.interval", "at most 8760h"]),
    ("secret-name-dot", {"secretRef": {"name": "."}}, ["spec.secretRef.name", "should match"]),
    ("timeZone-too-long", {**MINIMAL, "timeZone": "x" * 100}, ["spec.timeZone", "64"]),
    ("type-too-long", {**MINIMAL, "absenceTypes": {"include": ["x" * 201]}},
     ["spec.absenceTypes.include[0]", "200"]),
    ("interval-30s", {**MINIMAL, "interval": "30s"}, ["spec.interval", "at least 1m"]),
    ("interval-zero", {**MINIMAL, "interval": "0h0m"}, ["spec.interval", "at least 1m"]),
    ("unknown-field", {**MINIMAL, "intervall": "1h"}, ['unknown field "spec.intervall"']),
    ("unknown-nested-field", {**MINIMAL, "window": {"days": 3}},
     ['unknown field "spec.window.days"']),
    ("description-too-long", {**MINIMAL, "description": {"mode": "Generic", "text": LONG}},
     ["spec.description.text", "1000"]),
    ("description-empty", {**MINIMAL, "description": {"text": ""}}, ["spec.description.text"]),
    ("mapping-without-awork", {**MINIMAL, "userMappings": [{"personioEmail": "a@x.de"}]},
     ["spec.userMappings[0].aworkEmail", "Required value"]),
    ("mapping-too-short",
     {**MINIMAL, "userMappings": [{"personioEmail": "a", "aworkEmail": "b@x.de"}]},
     ["spec.userMappings[0].personioEmail"]),
    ("too-many-types", {**MINIMAL, "absenceTypes": {"include": [f"t{i}" for i in range(201)]}},
     ["spec.absenceTypes.include", "200"]),
    ("empty-type-name", {**MINIMAL, "absenceTypes": {"exclude": [""]}},
     ["spec.absenceTypes.exclude[0]"]),
    ("dryRun-string", {**MINIMAL, "dryRun": "yes"}, ["spec.dryRun", "boolean"]),
]  # fmt: skip


# pydantic's lax mode turns "14" into 14 and "yes" into True; the API server is the
# stricter gate there, and the operator only ever sees what it let through.
MODEL_COERCES: set[str] = set()  # the model is strict on ints and bools, like the API server


@pytest.mark.parametrize(
    ("case", "spec", "expected"),
    [pytest.param(case, spec, expected, id=case) for case, spec, expected in INVALID_SPECS],
)
def test_r23_invalid_spec_is_refused_naming_the_field(
    kubectl: Kubectl, namespace: str, case: str, spec: dict[str, Any], expected: list[str]
) -> None:
    if case not in MODEL_COERCES:
        with pytest.raises(SpecError):
            parse_spec(spec)  # the operator's model agrees
    with pytest.raises(CommandError) as refused:
        kubectl("create", "-f", "-", input=manifest(namespace, spec))
    for text in expected:
        assert text in refused.value.stderr
    assert kubectl("get", "psync", "-n", namespace, "-o", "name") == ""


# Durations the API server and the model must judge alike, for interval and quickInterval:
# None accepted, else the message both give (Go's syntax, 1m to 8760h; duration.py).
DURATIONS: list[tuple[str, str | None]] = [
    ("1m", None), ("1.5h", None), ("1h30m", None), ("90s", None), ("60000ms", None),
    ("+2m", None), (".5h", None), ("1m0.5s", None), ("8760h", None), ("525600m", None),
    ("31536000s", None), ("1m1h", None),
    ("0s", "must be at least 1m"), ("0", "must be at least 1m"), ("30s", "must be at least 1m"),
    ("500ms", "must be at least 1m"), ("59.999s", "must be at least 1m"),
    ("-1h", "must be at least 1m"), ("-99999h", "must be at least 1m"),
    ("8761h", "must be at most 8760h (a year)"), ("8760h1ns", "must be at most 8760h (a year)"),
    ("10000h", "must be at most 8760h (a year)"),
    ("99999999999999999999h", "must be at most 8760h (a year)"),
    ("2562048h", "must be at most 8760h (a year)"),
    ("1000000m5s", "must be at most 8760h (a year)"),
    ("", "must be a duration such as 1h"), ("1d", "must be a duration such as 1h"),
    ("1h 30m", "must be a duration such as 1h"), ("1e3h", "must be a duration such as 1h"),
]  # fmt: skip


@pytest.mark.parametrize("field", ["interval", "quickInterval"])
def test_r23_durations_are_judged_alike_by_the_api_server_and_the_model(
    kube_api: Client, namespace: str, field: str
) -> None:
    """Decision (R23): Go durations (what kubectl explain promises), from 1m to 8760h, for
    both fields; the API server's message names the field and the bound, as the model's."""
    disagreements = []
    for i, (value, message) in enumerate(DURATIONS):
        spec = {**MINIMAL, field: value}
        try:
            parse_spec(spec)
            model = None
        except SpecError as exc:
            model = str(exc)
        try:
            create(kube_api, namespace, spec, name=f"d{i}")
            server = None
        except ApiError as exc:
            server = str(exc.status.message)
        for who, said in (("model", model), ("API server", server)):
            ok = said is None if message is None else f"spec.{field}" in said and message in said
            if not ok:
                disagreements.append(f"{value!r}: {who} said {said!r}, expected {message!r}")
    assert not disagreements, "\n".join(disagreements)


def test_r23_resource_without_spec_is_refused(kubectl: Kubectl, namespace: str) -> None:
    with pytest.raises(CommandError) as refused:
        kubectl("create", "-f", "-", input=manifest(namespace, None))
    assert "spec: Required value" in refused.value.stderr


def full_status(generation: int) -> PersonioSyncStatus:
    """Every status field set, as the operator would write it after a run."""
    now = datetime(2026, 7, 21, 8, 0, tzinfo=UTC)
    return PersonioSyncStatus.model_validate(
        {
            "observedGeneration": generation,
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "Synced", "message": "ok",
                 "lastTransitionTime": now, "observedGeneration": generation},
                {"type": "PersonioCredentialsValid", "status": "True", "reason": "Accepted",
                 "message": "ok", "lastTransitionTime": now},
            ],
            "lastSyncTime": now, "lastSuccessfulSyncTime": now, "nextSyncTime": now,
            "suspended": False,
            "shard": 5, "replica": "personio-sync-7d9f8-abcde/1/0a1b2c",
            "message": "42 matched, 2 only in Personio, 1 only in awork",
            "users": {"matched": 42, "personioOnly": 2, "aworkOnly": 1, "ambiguous": 1,
                      "withoutEmail": 1, "matchedEmails": ["a@x.de"],
                      "personioOnlyEmails": ["b@x.de", "c@x.de"], "aworkOnlyEmails": ["d@x.de"],
                      "ambiguousEmails": ["e@x.de"], "withoutEmailIds": ["17"],
                      "brokenMappings": ["f@x.de -> g@x.de"], "truncated": True,
                      "note": "lists show at most 100 entries; counts are exact"},
            "lastRun": {"window": {"from": "2026-07-07", "to": "2027-01-17"}, "dryRun": True,
                        "created": 3, "updated": 1, "deleted": 0, "unchanged": 57,
                        "skipped": 4, "failed": 1, "skippedReasons": {"hourly": 3},
                        "planned": [{"action": "create", "personioId": "9", "email": "a@x.de",
                                     "start": "2026-08-01", "end": "2026-08-02"},
                                    {"action": "update", "personioId": "8", "email": "b@x.de",
                                     "start": "2026-08-03", "end": "2026-08-04",
                                     "changes": ["end", "halfDayOnEnd"]}],
                        "durationSeconds": 2.5},
            "failures": [{"personioId": "10", "email": "a@x.de", "reason": "awork 400"}],
            "progress": {"done": 1, "total": 3, "etaSeconds": 1.5, "message": "writing"},
        }
    )  # fmt: skip


def test_r20_status_subresource_round_trips_and_keeps_generation(
    kube_api: Client, namespace: str
) -> None:
    created = create(kube_api, namespace, MINIMAL)
    generation = created["metadata"]["generation"]
    status = full_status(generation).model_dump(mode="json", exclude_none=True)
    patched = patch(kube_api, namespace, {"status": status}, status=True)
    assert patched["status"] == status
    assert patched["metadata"]["generation"] == generation
    # A spec change does bump it: the operator compares observedGeneration against this.
    respec = patch(kube_api, namespace, {"spec": {"dryRun": True}})
    assert respec["metadata"]["generation"] == generation + 1
    # Status sent through the main resource is ignored (only the operator writes status).
    ignored = patch(kube_api, namespace, {"status": {"message": "forged"}})
    assert ignored["status"]["message"] == status["message"]


def test_r20_status_lists_are_bounded_by_the_api_server(kube_api: Client, namespace: str) -> None:
    create(kube_api, namespace, MINIMAL)
    emails = [f"u{i}@x.de" for i in range(MAX_LISTED_USERS + 1)]
    with pytest.raises(ApiError) as refused:
        patch(
            kube_api,
            namespace,
            {"status": {"users": {"matched": len(emails), "matchedEmails": emails}}},
            status=True,
        )
    assert refused.value.status.code == 422
    assert "status.users.matchedEmails" in str(refused.value.status.message)


def test_ux_7_status_planned_changes_take_only_the_engines_names(
    kube_api: Client, namespace: str
) -> None:
    create(kube_api, namespace, MINIMAL)
    entry = {"action": "update", "personioId": "8", "start": "2026-08-03", "end": "2026-08-04",
             "changes": ["end", "colour"]}  # fmt: skip
    run = {"window": {"from": "2026-07-07", "to": "2027-01-17"}, "planned": [entry]}
    with pytest.raises(ApiError) as refused:
        patch(kube_api, namespace, {"status": {"lastRun": run}}, status=True)
    assert refused.value.status.code == 422
    assert "status.lastRun.planned[0].changes[1]" in str(refused.value.status.message)


def test_r20_printer_columns(kubectl: Kubectl, kube_api: Client, namespace: str) -> None:
    created = create(kube_api, namespace, MINIMAL)
    status = full_status(created["metadata"]["generation"]).model_dump(mode="json")
    patch(kube_api, namespace, {"status": status}, status=True)

    header, row = kubectl("get", "psync", "-n", namespace).splitlines()
    assert header.split() == [
        "NAME", "READY", "MATCHED", "PERSONIOONLY", "AWORKONLY", "AMBIGUOUS", "LAST", "SYNC",
        "AGE"
    ]  # fmt: skip
    assert row.split()[:6] == ["team", "True", "42", "2", "1", "1"]

    wide_header, wide_row = kubectl("get", "psync", "-n", namespace, "-o", "wide").splitlines()
    assert wide_header.split()[-6:] == [
        "REASON", "INTERVAL", "DRYRUN", "SUSPENDED", "SHARD", "REPLICA"
    ]  # fmt: skip
    assert wide_row.split()[-6:] == [
        "Synced", "1h", "false", "false", "5", "personio-sync-7d9f8-abcde/1/0a1b2c"
    ]  # fmt: skip
