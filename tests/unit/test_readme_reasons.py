"""Every reason the operator can put in `.status` or an Event is explained in README.

The reasons come from their catalogue (`personio_sync.reasons`): a new reason without a
row in README's "What the messages mean" table fails here, and so does a row for a
reason the catalogue no longer holds. Every error class takes its reason from the
catalogue too, so an error cannot bring a word of its own.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from personio_sync import errors
from personio_sync.reasons import ConditionReason, ConditionType, EventReason

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "operator" / "personio_sync"
README = (ROOT / "README.md").read_text()
# Base classes of the error tree: only their subclasses are ever raised (checked below).
ABSTRACT = {
    ConditionReason.SYNC_FAILED: errors.SyncError,
    ConditionReason.PERSONIO_ERROR: errors.PersonioError,
    ConditionReason.AWORK_ERROR: errors.AworkError,
}


def catalogued_reasons() -> set[str]:
    """What `.status` and Events can say, as the catalogue lists it."""
    every = {r.value for r in ConditionReason} | {r.value for r in EventReason}
    return every - {r.value for r in ABSTRACT}


def documented_reasons() -> set[str]:
    section = README.split("### What the messages mean", 1)[1].split("\n#", 1)[0]
    rows = [row for row in section.splitlines() if row.startswith("|")][2:]  # no header
    first_column = [row.split("|")[1] for row in rows]
    named = {r for cell in first_column for r in re.findall(r"`([A-Z][A-Za-z]+)`", cell)}
    # Condition types and statuses named for context are not reasons (Synced is both).
    types = {t.value for t in ConditionType} - {ConditionType.SYNCED.value}
    return named - types - {"True", "False", "Unknown"}


def error_classes(root: type[Exception] = errors.SyncError) -> Iterator[type[Exception]]:
    yield root
    for sub in root.__subclasses__():
        yield from error_classes(sub)


def test_every_catalogued_reason_is_in_the_readme_table() -> None:
    missing = catalogued_reasons() - documented_reasons()
    assert not missing, f"add these reasons to README's message table: {sorted(missing)}"


def test_the_readme_table_names_no_reason_outside_the_catalogue() -> None:
    stale = documented_reasons() - catalogued_reasons()
    assert not stale, f"README explains reasons nothing emits: {sorted(stale)}"


def test_every_error_takes_its_reason_from_the_catalogue() -> None:
    for cls in error_classes():
        if cls is not errors.SecretProblem:  # its reason is given per instance
            assert isinstance(cls.reason, ConditionReason), cls  # type: ignore[attr-defined]


def modules() -> Iterator[ast.Module]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield ast.parse(path.read_text())


def test_the_abstract_error_classes_are_never_raised() -> None:
    """Their reasons are left out of the table: make sure nothing can emit them."""
    names = {cls.__name__ for cls in ABSTRACT.values()}
    for tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in names, ast.unparse(node)
