"""Validate payloads against the vendors' published schemas (shared/reference/openapi/).

Reusable by any test: `validate_awork("Absence", body)` for what awork sends,
`validate_awork("AbsenceForm", body, request=True)` for what a client sends
(readOnly properties are then refused), `validate_personio_error(body)` for
Personio v2 problem+json bodies. OpenAPI 3.0 rules (nullable, readOnly,
formats) come from openapi-schema-validator; $refs resolve inside each file.

The files live beside the project (../shared); set PERSONIO_SYNC_SHARED_DIR to
point elsewhere. Without them, `reference_dir()` skips the calling test.
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

AWORK_FILE = "awork-api-v1.openapi.json"
PERSONIO_COMMON_FILE = "personio-common-components-v2.json"


def reference_dir() -> Path:
    configured = os.environ.get("PERSONIO_SYNC_SHARED_DIR")
    root = Path(configured) if configured else Path(__file__).resolve().parents[3] / "shared"
    folder = root / "reference" / "openapi"
    if not folder.is_dir():
        pytest.skip(f"vendor OpenAPI files not found at {folder} (set PERSONIO_SYNC_SHARED_DIR)")
    return folder


@functools.cache
def _components(file: str) -> dict[str, Any]:
    spec = json.loads((reference_dir() / file).read_text(encoding="utf-8"))
    return {"components": spec["components"]}


def _validate(file: str, name: str, payload: Any, *, request: bool, array: bool) -> None:
    ref: dict[str, Any] = {"$ref": f"#/components/schemas/{name}"}
    schema = {**_components(file), **({"type": "array", "items": ref} if array else ref)}
    validator = OAS30WriteValidator if request else OAS30ReadValidator
    validator(schema, format_checker=oas30_format_checker).validate(payload)


def validate_awork(name: str, payload: Any, *, request: bool = False, array: bool = False) -> None:
    """Raise jsonschema.ValidationError unless `payload` fits awork's schema `name`.

    request=True checks a body a client sends (readOnly fields not allowed);
    array=True checks a list of such objects (awork's list responses).
    """
    _validate(AWORK_FILE, name, payload, request=request, array=array)


def awork_schema_names() -> list[str]:
    return sorted(_components(AWORK_FILE)["components"]["schemas"])


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
