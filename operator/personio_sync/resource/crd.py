"""The PersonioSync CustomResourceDefinition, generated from the pydantic models.

The spec schema comes from `PersonioSyncSpec` (spec.py) and the status schema from
`PersonioSyncStatus` (status.py), so the API server, the CLI and the operator refuse the same
inputs with the same field names, and the operator can build its status with a typed
model that the API server is certain to accept. Regenerate the committed file with

    python -m personio_sync.resource.crd > crds/personiosync.yaml

(tests/unit/test_crd_model.py fails when the two drift apart).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import yaml
from pydantic import BaseModel

from personio_sync.resource.duration import cel_rules
from personio_sync.resource.spec import (
    API_GROUP,
    API_VERSION,
    KIND,
    PLURAL,
    PersonioSyncSpec,
)
from personio_sync.resource.status import PersonioSyncStatus

SINGULAR = "personiosync"
SHORT_NAMES = ["psync"]
CRD_NAME = f"{PLURAL}.{API_GROUP}"

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


def _duration_rules(spec: dict[str, Any]) -> None:
    """A pattern cannot say "at least 1m", and its failure shows a raw regex: CEL rules with
    messages say both, as the model's validator does (duration.py)."""
    for name in ("interval", "quickInterval"):
        spec["properties"][name]["x-kubernetes-validations"] = cel_rules()


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
    {"name": "Shard", "type": "integer", "priority": 1, "jsonPath": ".status.shard"},
    {"name": "Replica", "type": "string", "priority": 1, "jsonPath": ".status.replica"},
]  # fmt: skip


def crd() -> dict[str, Any]:
    """The CustomResourceDefinition as a dict (what crds/personiosync.yaml holds)."""
    spec = openapi_schema(PersonioSyncSpec, defaults=True)
    _duration_rules(spec)
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
