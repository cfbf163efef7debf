"""Every reason the operator can put in a condition or an Event is explained in README.

The reasons are found in the code itself (its syntax tree), so a new reason without a
row in README's "What the messages mean" table fails here, and so does a row for a
reason the code no longer emits.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from personio_sync.resource.status import CONDITION_TYPES

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "operator" / "personio_sync"
README = (ROOT / "README.md").read_text()
# Base classes of the error tree: only their subclasses are ever raised (checked below).
ABSTRACT = {"SyncFailed": "SyncError", "PersonioError": "PersonioError",
            "AworkError": "AworkError"}  # fmt: skip


def modules() -> Iterator[ast.Module]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if not {"fakes", "devtools"} & set(path.relative_to(PACKAGE).parts):
            yield ast.parse(path.read_text())


def _named_strings() -> dict[str, str]:
    """Module-level `NAME = "text"` constants, so `Cond(.., SYNCING, ..)` counts too."""
    found: dict[str, str] = {}
    for tree in modules():
        for stmt in tree.body:
            if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0], ast.Name)
                    and isinstance(stmt.value, ast.Constant)
                    and isinstance(stmt.value.value, str)):  # fmt: skip
                found[stmt.targets[0].id] = stmt.value.value
    return found


NAMED = _named_strings()


def _constants(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name) and re.fullmatch(r"[A-Z][A-Za-z]+", NAMED.get(node.id, "")):
        return [NAMED[node.id]]  # a reason-like constant, not e.g. kopf.on.event's PLURAL
    if isinstance(node, ast.IfExp):
        return _constants(node.body) + _constants(node.orelse)
    return []


def _called(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def emitted_reasons() -> set[str]:
    """Error classes' `reason`, Cond(type, status, REASON, ...), SecretProblem(msg, REASON,
    ...) and ctx.event(body, kind, REASON, ...)."""
    found: set[str] = set()
    for tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for stmt in node.body:
                    if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                            and getattr(stmt.targets[0], "id", "") == "reason"):  # fmt: skip
                        found.update(_constants(stmt.value))
            elif isinstance(node, ast.Call):
                position = {"Cond": 2, "event": 2, "SecretProblem": 1}.get(_called(node))
                if position is not None and len(node.args) > position:
                    found.update(_constants(node.args[position]))
    return found - set(ABSTRACT)


def documented_reasons() -> set[str]:
    section = README.split("### What the messages mean", 1)[1].split("\n#", 1)[0]
    rows = [row for row in section.splitlines() if row.startswith("|")][2:]  # no header
    first_column = [row.split("|")[1] for row in rows]
    named = {r for cell in first_column for r in re.findall(r"`([A-Z][A-Za-z]+)`", cell)}
    # Condition types and statuses named for context are not reasons (Synced is both).
    return named - (set(CONDITION_TYPES) - {"Synced"}) - {"True", "False", "Unknown"}


def test_every_emitted_reason_is_in_the_readme_table() -> None:
    missing = emitted_reasons() - documented_reasons()
    assert not missing, f"add these reasons to README's message table: {sorted(missing)}"


def test_the_readme_table_names_no_reason_the_code_does_not_emit() -> None:
    stale = documented_reasons() - emitted_reasons()
    assert not stale, f"README explains reasons nothing emits: {sorted(stale)}"


def test_the_abstract_error_classes_are_never_raised() -> None:
    """Their reasons are left out of the table: make sure nothing can emit them."""
    for tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                assert _called(node) not in ABSTRACT.values(), ast.unparse(node)


def test_the_scan_finds_the_reasons_we_know() -> None:
    known = {"SecretInvalid", "EmailPartlyReadable", "NotChecked", "CredentialsAccepted",
             "DryRun", "AworkAPIError", "PersonioAPIError", "CleanupFailed"}  # fmt: skip
    assert known <= emitted_reasons()
