"""FAIR-4: every condition reason the code can emit is explained in README's message table.

The reasons are read from the source, not from a hand-kept list, so a new one fails
here until README says what it means: `reason = "…"` on error classes, the reason of
every `Cond(…)` and the reason given to `SecretProblem(…)`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import personio_sync

PACKAGE = Path(personio_sync.__file__).parent
README = PACKAGE.parents[1] / "README.md"
# Roots of the exception tree: never raised themselves, only their subclasses are.
ABSTRACT = {"SyncFailed", "PersonioError", "AworkError"}


def _constants(trees: list[ast.Module]) -> dict[str, str]:
    found = {}
    for tree in trees:
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for target in node.targets:
                    if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                        found[target.id] = node.value.value
    return found


def _literal(node: ast.expr | None, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def emitted_reasons() -> set[str]:
    trees = [
        ast.parse(path.read_text()) for path in PACKAGE.rglob("*.py") if "fakes" not in path.parts
    ]
    constants = _constants(trees)
    reasons: set[str | None] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.Assign) and any(
                        isinstance(t, ast.Name) and t.id == "reason" for t in item.targets
                    ):
                        reasons.add(_literal(item.value, constants))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                args = node.args
                if node.func.id == "Cond" and len(args) >= 3:
                    reasons.add(_literal(args[2], constants))
                elif node.func.id == "SecretProblem" and len(args) >= 2:
                    reasons.add(_literal(args[1], constants))
    return {r for r in reasons if r} - ABSTRACT


def documented_reasons() -> set[str]:
    text = README.read_text()
    table = text.split("### What the messages mean", 1)[1].split("\n\n", 2)[1]
    first_cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("|")]
    return {name for cell in first_cells for name in re.findall(r"`([A-Za-z]+)`", cell)}


def test_fair_4_the_scan_finds_reasons_of_each_kind() -> None:
    """Guards the scan itself: one reason from each source it reads."""
    assert {"AworkCredentialsRejected", "ItemsFailed", "SecretNotFound", "Syncing"} <= (
        emitted_reasons()
    )


def test_fair_4_every_emitted_reason_is_in_the_readme_message_table() -> None:
    missing = sorted(emitted_reasons() - documented_reasons())
    assert not missing, f"README's message table does not explain: {missing}"
