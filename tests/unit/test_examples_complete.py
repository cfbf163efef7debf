"""UX-1: examples/personiosync.yaml is the complete example the README promises: every
field of the spec model appears in it, nested ones too, and it is a valid spec."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from personio_sync.resource.spec import KIND, PersonioSyncSpec, parse_spec

ROOT = Path(__file__).resolve().parents[2]
COMPLETE = ROOT / "examples" / "personiosync.yaml"


def _models(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model a field holds (directly, optionally, or as list items) and whether in a list."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is list:
        return _models(args[0])[0], True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        found = [m for m in map(_models, args) if m[0] is not None]
        return found[0] if found else (None, False)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False


def missing_fields(model: type[BaseModel], shown: Any, text: str, path: str) -> list[str]:
    """Fields of `model` not in `shown` (the parsed YAML); a list's item fields, which an
    empty default list cannot show, must at least be named in the file's comments."""
    missing = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        if (field.description or "").startswith("Deprecated"):  # shown would be taught
            continue
        if not isinstance(shown, dict) or key not in shown:
            missing.append(f"{path}.{key}")
            continue
        inner, in_list = _models(field.annotation)
        if inner is not None and in_list:
            missing += [f"{path}.{key}[].{n} (not even in a comment)"
                        for n in inner.model_fields if f"{n}:" not in text]  # fmt: skip
        elif inner is not None:
            missing += missing_fields(inner, shown[key], text, f"{path}.{key}")
    return missing


def test_ux_1_the_complete_example_shows_every_spec_field() -> None:
    text = COMPLETE.read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    assert doc["kind"] == KIND
    assert missing_fields(PersonioSyncSpec, doc["spec"], text, "spec") == []
    parse_spec(doc["spec"])  # and the operator's model takes it as it is


def test_ux_1_the_check_notices_a_missing_nested_field() -> None:
    doc = yaml.safe_load(COMPLETE.read_text(encoding="utf-8"))
    del doc["spec"]["deletionGuard"]["maxPercent"]
    del doc["spec"]["statusDetail"]
    found = missing_fields(PersonioSyncSpec, doc["spec"], "", "spec")
    assert "spec.deletionGuard.maxPercent" in found and "spec.statusDetail" in found
    assert "spec.userMappings[].aworkEmail (not even in a comment)" in found
