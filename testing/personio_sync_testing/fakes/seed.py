"""Seed documents: one YAML or JSON file describing both fakes' starting data.

Dates in a hand-written seed go stale, so any string that starts with `@today`
is resolved when the seed is loaded: `@today`, `@today+3`, `@today-14`, optionally
followed by a time, e.g. `@today+3T09:00:00` or `@today+3T23:59:59Z`. The format
is documented in docs/sandbox.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

_RELATIVE = re.compile(r"^@today(?:([+-])(\d+)d?)?(T.*)?$")

SeedSource = str | Path | Mapping[str, Any] | None


def resolve_dates(value: Any, today: date) -> Any:
    """Replace every `@today±N[Ttime]` string (at any depth) with an ISO date or date-time."""
    if isinstance(value, str) and value.startswith("@today"):
        match = _RELATIVE.match(value)
        if match is None:
            raise ValueError(f"bad relative date {value!r}: use @today, @today+3 or @today-2T09:00")
        sign, days, rest = match.groups()
        offset = int(days or 0) * (-1 if sign == "-" else 1)
        return (today + timedelta(days=offset)).isoformat() + (rest or "")
    if isinstance(value, Mapping):
        return {k: resolve_dates(v, today) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_dates(v, today) for v in value]
    return value


def load_seed(source: SeedSource, *, today: date | None = None) -> dict[str, Any]:
    """Read a seed (path to .yaml/.yml/.json, or an already parsed dict); {} for None."""
    if source is None:
        return {}
    if isinstance(source, Mapping):
        raw: Any = dict(source)
    else:
        text = Path(source).read_text(encoding="utf-8")
        raw = json.loads(text) if str(source).endswith(".json") else yaml.safe_load(text)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError("a seed document must be a mapping with 'personio' and/or 'awork' keys")
    resolved: dict[str, Any] = resolve_dates(raw, today or date.today())
    return resolved


def section(doc: Mapping[str, Any], name: str) -> dict[str, Any]:
    """One fake's part of a seed; a document without the top-level key is taken as the part."""
    if name in doc:
        part = doc[name]
        return dict(part) if part else {}
    if {"personio", "awork"} & doc.keys():
        return {}
    return dict(doc)


def demo_seed_path() -> Path:
    """The small hand-written company that `make demo` and the CLI default use."""
    return Path(__file__).with_name("data") / "demo.yaml"
