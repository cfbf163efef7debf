"""The committed CRD is exactly what the models generate, field for field (R23).

If this fails after a change to spec.py or crd.py, regenerate:
    python -m personio_sync.resource.crd > crds/personiosync.yaml
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, get_args

import jsonschema
import pytest
import yaml
from pydantic import BaseModel, Field

from personio_sync.resource import crd
from personio_sync.resource.crd import crd_yaml, openapi_schema
from personio_sync.resource.duration import cel_rules
from personio_sync.resource.spec import PersonioSyncSpec
from personio_sync.resource.status import MAX_LISTED_USERS, PersonioSyncStatus

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "crds" / "personiosync.yaml"


def version() -> dict[str, Any]:
    (only,) = crd.crd()["spec"]["versions"]
    return dict(only)


def schema(part: str) -> dict[str, Any]:
    return dict(version()["schema"]["openAPIV3Schema"]["properties"][part])


def model_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every field path of a model, descending into nested models and lists of models."""
    paths = set()
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        paths.add(key)
        for sub in _models_in(field.annotation):
            paths |= model_paths(sub, f"{key}.")
    return paths


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def schema_paths(node: dict[str, Any], prefix: str = "") -> set[str]:
    paths = set()
    for name, sub in node.get("properties", {}).items():
        paths.add(f"{prefix}{name}")
        target = sub.get("items", sub)
        paths |= schema_paths(target, f"{prefix}{name}.")
    return paths


def all_properties(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, sub in node.get("properties", {}).items():
        found.append((f"{path}{name}", sub))
        found += all_properties(sub.get("items", sub), f"{path}{name}.")
    return found


def test_committed_crd_is_generated() -> None:
    assert COMMITTED.read_text() == crd_yaml(), (
        "stale: python -m personio_sync.resource.crd > " + str(COMMITTED.relative_to(ROOT))
    )


@pytest.mark.parametrize(
    ("model", "part"), [(PersonioSyncSpec, "spec"), (PersonioSyncStatus, "status")]
)
def test_every_model_field_is_in_the_crd_and_vice_versa(model: type[BaseModel], part: str) -> None:
    assert model_paths(model) == schema_paths(schema(part))


@pytest.mark.parametrize("part", ["spec", "status"])
def test_every_field_has_a_description(part: str) -> None:
    missing = [path for path, sub in all_properties(schema(part)) if not sub.get("description")]
    assert missing == []


def test_names_scope_and_subresource() -> None:
    spec = crd.crd()["spec"]
    assert spec["group"] == "personio-sync.dev" and spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": "PersonioSync", "listKind": "PersonioSyncList", "plural": "personiosyncs",
        "singular": "personiosync", "shortNames": ["psync"],
    }  # fmt: skip
    v = version()
    assert (v["name"], v["served"], v["storage"]) == ("v1alpha1", True, True)
    assert v["subresources"] == {"status": {}}
    assert schema("spec")["required"] == ["secretRef"]


def test_scalar_defaults_and_constraints_match_the_model() -> None:
    spec = schema("spec")["properties"]
    defaults = PersonioSyncSpec.model_validate({"secretRef": {"name": "x"}}).model_dump(mode="json")
    for name in ("interval", "timeZone", "includePending", "hourlyAbsences", "dryRun"):
        assert spec[name]["default"] == defaults[name]
    window = spec["window"]["properties"]
    assert window["pastDays"]["default"] == defaults["window"]["pastDays"] == 14
    assert (window["pastDays"]["minimum"], window["pastDays"]["maximum"]) == (0, 3650)
    for name in ("interval", "quickInterval"):  # rules with messages, no raw-regex pattern
        assert spec[name]["x-kubernetes-validations"] == cel_rules() and "pattern" not in spec[name]
    assert spec["hourlyAbsences"]["enum"] == ["Skip", "FullDay"]
    assert spec["userMappings"]["maxItems"] == 1000
    assert spec["description"]["properties"]["text"]["maxLength"] == 1000
    # Objects default to {} so their fields' own defaults apply (one source of truth).
    assert spec["window"]["default"] == {} and spec["description"]["default"] == {}


def test_no_preserve_unknown_fields_anywhere() -> None:
    assert "x-kubernetes-preserve-unknown-fields" not in COMMITTED.read_text()


def test_printer_columns() -> None:
    columns = {c["name"]: c for c in version()["additionalPrinterColumns"]}
    assert [n for n, c in columns.items() if not c.get("priority")] == [
        "Ready", "Matched", "PersonioOnly", "AworkOnly", "Ambiguous", "Last Sync", "Age"
    ]  # fmt: skip
    assert columns["Ready"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'
    assert columns["Last Sync"] == {
        "name": "Last Sync", "type": "date", "jsonPath": ".status.lastSyncTime"
    }  # fmt: skip


def status_example() -> PersonioSyncStatus:
    berlin = timezone(timedelta(hours=2))
    return PersonioSyncStatus.model_validate(
        {
            "conditions": [{"type": "Ready", "status": "False", "reason": "AworkAuth",
                            "message": "check aworkApiKey",
                            "lastTransitionTime": datetime(2026, 7, 21, 10, 0, 0, 123, berlin)}],
            "users": {"matched": 1, "matchedEmails": ["a@x.de"]},
            "lastRun": {"window": {"from": "2026-07-07", "to": "2027-01-17"}, "failed": 0},
        }
    )  # fmt: skip


def test_status_dump_is_valid_against_the_crd_schema() -> None:
    dumped = status_example().model_dump(mode="json", exclude_none=True)
    jsonschema.validate(dumped, schema("status"))
    assert dumped["conditions"][0]["lastTransitionTime"] == "2026-07-21T08:00:00Z"
    assert dumped["lastRun"]["window"] == {"from": "2026-07-07", "to": "2027-01-17"}


def test_status_model_refuses_what_the_api_server_would() -> None:
    too_many = [f"u{i}@x.de" for i in range(MAX_LISTED_USERS + 1)]
    with pytest.raises(ValueError, match="matchedEmails"):
        PersonioSyncStatus.model_validate({"users": {"matchedEmails": too_many}})
    with pytest.raises(ValueError, match="reason"):
        PersonioSyncStatus.model_validate(
            {"conditions": [{"type": "Ready", "status": "True", "reason": "not camel case",
                             "message": "", "lastTransitionTime": datetime.now(UTC)}]}
        )  # fmt: skip
    with pytest.raises(ValueError, match="timezone-aware"):
        status = PersonioSyncStatus(lastSyncTime=datetime(2026, 1, 1))
        status.model_dump(mode="json")


class _Union(BaseModel):
    x: Annotated[int | str, Field(description="either")]


class _Undocumented(BaseModel):
    x: int


class _Exclusive(BaseModel):
    x: Annotated[int, Field(gt=0, description="exclusive bounds are not carried over")]


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (_Union, "unions"),
        (_Undocumented, "needs a description"),
        (_Exclusive, "exclusiveMinimum"),
    ],
)
def test_generator_refuses_what_it_cannot_carry_over(model: type[BaseModel], message: str) -> None:
    """A constraint silently dropped would let the API server accept what the model refuses."""
    with pytest.raises(ValueError, match=message):
        openapi_schema(model, defaults=True)


def test_generated_yaml_parses_back_to_the_dict() -> None:
    (doc,) = [d for d in yaml.safe_load_all(crd_yaml()) if d]
    assert doc == crd.crd()
