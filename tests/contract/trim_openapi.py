"""Refresh the vendored OpenAPI files (tests/contract/vendor/) from ../shared/reference/openapi.

    .venv/bin/python tests/contract/trim_openapi.py [SHARED_DIR]

The contract tests validate payloads against `components.schemas` only. awork's file is
2.3 MB, so only the schemas the tests name (`AWORK_ROOTS`) and everything they reference
are kept; Personio's common components file is small and copied whole. The output is
deterministic (sorted keys), so a refresh from unchanged sources changes nothing, and
tests/contract/test_vendored_schemas.py checks that the vendored copy is current
whenever the sources are present.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
VENDOR = HERE / "vendor"
DEFAULT_SHARED = HERE.parents[2] / "shared"
AWORK_FILE = "awork-api-v1.openapi.json"
PERSONIO_COMMON_FILE = "personio-common-components-v2.json"
# Every awork schema a test validates against (validate_awork(...) and schema_for(...)).
AWORK_ROOTS = ("Absence", "AbsenceForm", "ApiUser", "ErrorResponse", "User", "UserAndWorkspace")
_PREFIX = "#/components/schemas/"


def _refs(node: Any) -> set[str]:
    """Names of the schemas `node` references ($ref anywhere inside it)."""
    if isinstance(node, dict):
        found = (
            {node["$ref"][len(_PREFIX) :]}
            if str(node.get("$ref", "")).startswith(_PREFIX)
            else set()
        )
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node))
    return set()


def trim(spec: dict[str, Any], roots: tuple[str, ...]) -> dict[str, Any]:
    """`roots` and every schema they reach; the file's version info, nothing else."""
    schemas = spec["components"]["schemas"]
    keep: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in keep:
            keep.add(name)
            todo.extend(_refs(schemas[name]) - keep)
    return {
        "openapi": spec["openapi"],
        "info": {"title": spec["info"]["title"], "version": spec["info"]["version"]},
        "components": {"schemas": {name: schemas[name] for name in sorted(keep)}},
    }


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def vendored_texts(source: Path) -> dict[str, str]:
    """File name → the text the vendor folder should hold, made from `source`."""
    awork = json.loads((source / AWORK_FILE).read_text(encoding="utf-8"))
    personio = json.loads((source / PERSONIO_COMMON_FILE).read_text(encoding="utf-8"))
    return {AWORK_FILE: render(trim(awork, AWORK_ROOTS)), PERSONIO_COMMON_FILE: render(personio)}


def main(argv: list[str]) -> int:
    shared = Path(argv[1]) if len(argv) > 1 else DEFAULT_SHARED
    for name, text in vendored_texts(shared / "reference" / "openapi").items():
        (VENDOR / name).write_text(text, encoding="utf-8")
        print(f"wrote {VENDOR / name} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
