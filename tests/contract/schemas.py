"""Validate payloads against the vendors' published schemas (shared/reference/openapi/).

Reusable by any test: `validate_awork("Absence", body)` for what awork sends,
`validate_awork("AbsenceForm", body, request=True)` for what a client sends
(readOnly properties are then refused), `validate_personio_error(body)` for
Personio v2 problem+json bodies. OpenAPI 3.0 rules (nullable, readOnly,
formats) come from openapi-schema-validator; $refs resolve inside each file.

Where the files come from, first found wins: $PERSONIO_SYNC_SHARED_DIR (it must hold
them), ../shared beside the project, else the copy vendored in tests/contract/vendor/
(awork's trimmed to the schemas the tests use; see trim_openapi.py). Missing files fail
the contract tier, never skip it quietly, unless PERSONIO_SYNC_SKIP_CONTRACT=1 says so.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import pytest
from openapi_schema_validator import (
    OAS30ReadValidator,
    OAS30WriteValidator,
    oas30_format_checker,
)

from .trim_openapi import AWORK_FILE, DEFAULT_SHARED, PERSONIO_COMMON_FILE, VENDOR

SKIP_VARIABLE = "PERSONIO_SYNC_SKIP_CONTRACT"


def reference_dir() -> Path:
    """The folder holding the vendors' OpenAPI files; fails the test if there is none."""
    configured = os.environ.get("PERSONIO_SYNC_SHARED_DIR")
    if configured:
        folder = Path(configured) / "reference" / "openapi"
    elif (DEFAULT_SHARED / "reference" / "openapi").is_dir():
        folder = DEFAULT_SHARED / "reference" / "openapi"
    else:
        folder = VENDOR
    missing = [f for f in (AWORK_FILE, PERSONIO_COMMON_FILE) if not (folder / f).is_file()]
    if missing:
        message = f"vendor OpenAPI files {missing} not found in {folder}"
        if os.environ.get(SKIP_VARIABLE) == "1":
            pytest.skip(f"{message} ({SKIP_VARIABLE}=1)")
        pytest.fail(f"{message}; set PERSONIO_SYNC_SHARED_DIR, or {SKIP_VARIABLE}=1 to skip")
    return folder


@functools.cache
def _components(file: str) -> dict[str, Any]:
    spec = json.loads((reference_dir() / file).read_text(encoding="utf-8"))
    return {"components": spec["components"]}


def _validate(file: str, name: str, payload: Any, *, request: bool, array: bool) -> None:
    ref: dict[str, Any] = {"$ref": f"#/components/schemas/{name}"}
    components = _components(file)
    assert name in components["components"]["schemas"], (
        f"{file} has no schema {name!r}: if it is awork's and only the vendored copy lacks "
        "it, add it to AWORK_ROOTS in tests/contract/trim_openapi.py and run that script"
    )
    schema = {**components, **({"type": "array", "items": ref} if array else ref)}
    validator = OAS30WriteValidator if request else OAS30ReadValidator
    validator(schema, format_checker=oas30_format_checker).validate(payload)


def validate_awork(name: str, payload: Any, *, request: bool = False, array: bool = False) -> None:
    """Raise jsonschema.ValidationError unless `payload` fits awork's schema `name`.

    request=True checks a body a client sends (readOnly fields not allowed);
    array=True checks a list of such objects (awork's list responses).
    """
    _validate(AWORK_FILE, name, payload, request=request, array=array)


def validate_personio(name: str, payload: Any) -> None:
    """Raise jsonschema.ValidationError unless `payload` fits Personio v2 common schema `name`."""
    _validate(PERSONIO_COMMON_FILE, name, payload, request=False, array=False)


def validate_personio_error(payload: Any) -> None:
    """A Personio v2 error body: ErrorResponse, and (stricter than the schema) every key present."""
    validate_personio("ErrorResponse", payload)
    missing = {"personio_trace_id", "timestamp", "errors"} - set(payload)
    assert not missing, f"Personio error body lacks {sorted(missing)}"
    assert payload["errors"], "Personio error body has no errors[] entry"
    for item in payload["errors"]:
        assert {"title", "detail", "type"} <= set(item), f"incomplete error item {item}"
