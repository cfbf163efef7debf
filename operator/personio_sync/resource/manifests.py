"""Reading `PersonioSync` and Secret manifests from files for the one-shot CLI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from personio_sync.errors import ConfigError, ManifestNotFound, SpecError
from personio_sync.resource.spec import API_GROUP, KIND, PersonioSyncSpec, parse_spec


@dataclass(frozen=True)
class Resource:
    namespace: str
    name: str
    spec: PersonioSyncSpec


def load_documents(path: str) -> list[dict[str, Any]]:
    try:
        text = Path(path).read_text(encoding="utf-8")
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except FileNotFoundError:
        where = "" if Path(path).is_absolute() else f" in {Path.cwd()}"
        raise ManifestNotFound(f"{path}: no such file{where}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {_yaml_problem(exc)}") from None
    if not all(isinstance(d, dict) for d in docs):
        raise ConfigError(f"{path} must hold Kubernetes manifests (YAML mappings)")
    return docs


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """The problem and its position on one line. PyYAML's own text spans several lines and
    quotes the offending lines of the file, which in a Secret manifest hold credentials."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        return f"{exc.problem}{where}"
    if isinstance(exc, yaml.reader.ReaderError):
        return f"a character YAML does not allow (a control character?) at position {exc.position}"
    return f"the parser failed ({type(exc).__name__})"


def _one(path: str, kind: str) -> dict[str, Any]:
    found = [d for d in load_documents(path) if d.get("kind") == kind]
    if len(found) != 1:
        raise ConfigError(f"{path} must hold exactly one {kind} manifest, found {len(found)}")
    return found[0]


def load_resource(path: str) -> Resource:
    doc = _one(path, KIND)
    if not str(doc.get("apiVersion", "")).startswith(f"{API_GROUP}/"):
        raise ConfigError(f"{path}: apiVersion must be {API_GROUP}/v1alpha1")
    meta = doc.get("metadata") or {}
    if not meta.get("name"):
        raise ConfigError(f"{path}: metadata.name is required")
    try:
        spec = parse_spec(doc.get("spec") or {})
    except SpecError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return Resource(str(meta.get("namespace") or "default"), str(meta["name"]), spec)


def load_secret(path: str) -> dict[str, Any]:
    return _one(path, "Secret")
