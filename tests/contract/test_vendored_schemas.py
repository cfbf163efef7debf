"""The contract tier finds its schemas or fails loudly, and the vendored copy is current."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from . import schemas
from .trim_openapi import AWORK_FILE, DEFAULT_SHARED, PERSONIO_COMMON_FILE, VENDOR, vendored_texts


def upstream() -> Path | None:
    configured = os.environ.get("PERSONIO_SYNC_SHARED_DIR")
    folder = (Path(configured) if configured else DEFAULT_SHARED) / "reference" / "openapi"
    return folder if (folder / AWORK_FILE).is_file() else None


def test_the_vendored_copy_is_what_trim_openapi_makes_of_the_sources() -> None:
    source = upstream()
    if source is None:
        pytest.skip("the vendors' original files are not here to compare with")
    for name, text in vendored_texts(source).items():
        assert (VENDOR / name).read_text(encoding="utf-8") == text, (
            f"tests/contract/vendor/{name} is stale: run tests/contract/trim_openapi.py"
        )


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No shared folder, no environment: only what `schemas.VENDOR` holds."""
    monkeypatch.delenv("PERSONIO_SYNC_SHARED_DIR", raising=False)
    monkeypatch.delenv(schemas.SKIP_VARIABLE, raising=False)
    monkeypatch.setattr(schemas, "DEFAULT_SHARED", tmp_path / "no-shared")
    return tmp_path


def test_without_shared_the_vendored_copy_is_used(nowhere: Path) -> None:
    assert schemas.reference_dir() == VENDOR


def test_missing_schemas_fail_the_tier(nowhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schemas, "VENDOR", nowhere / "empty")
    with pytest.raises(pytest.fail.Exception, match=PERSONIO_COMMON_FILE):
        schemas.reference_dir()
    monkeypatch.setenv("PERSONIO_SYNC_SHARED_DIR", str(nowhere / "wrong"))
    with pytest.raises(pytest.fail.Exception, match="wrong"):  # a configured dir must hold them
        schemas.reference_dir()


def test_missing_schemas_skip_only_when_asked(
    nowhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schemas, "VENDOR", nowhere / "empty")
    monkeypatch.setenv(schemas.SKIP_VARIABLE, "1")
    with pytest.raises(pytest.skip.Exception, match=schemas.SKIP_VARIABLE):
        schemas.reference_dir()
