"""`kubectl explain` shows only descriptions: each spec field's states its default and limits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from personio_sync.resource.crd import crd


def spec_fields(node: dict[str, Any], path: str = "spec") -> Iterator[tuple[str, dict[str, Any]]]:
    for name, sub in node.get("properties", {}).items():
        yield f"{path}.{name}", sub
        yield from spec_fields(sub, f"{path}.{name}")
        if "items" in sub:
            yield from spec_fields(sub["items"], f"{path}.{name}[]")


def test_every_default_range_and_choice_is_in_the_description() -> None:
    (version,) = crd()["spec"]["versions"]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    checked = 0
    for path, field in spec_fields(spec):
        text = field["description"]
        default = field.get("default")
        if default not in (None, {}):
            assert "Default: " in text, path
        for key in ("minimum", "maximum", "maxLength", "maxItems"):
            if key in field:
                assert str(field[key]) in text, (path, key)
        for choice in field.get("enum", []):
            assert choice in text, (path, choice)
        checked += 1
    assert checked > 15


def test_the_window_reads_as_documented() -> None:
    (version,) = crd()["spec"]["versions"]
    window = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["window"]
    past = window["properties"]["pastDays"]["description"]
    assert past.endswith("Default: 14. Range: 0 to 3650.")
