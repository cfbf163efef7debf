"""The ownership marker written to awork's `externalProvider` (R11).

`personio-sync:<owner>:<period id>`: the prefix says this operator wrote it, the
owner key is derived from namespace/name (so a re-created resource adopts its
absences), and the period id links back to Personio. 100 characters at most.
"""

from __future__ import annotations

import hashlib

PREFIX = "personio-sync"
MAX_LENGTH = 100


def owner_key(namespace: str, name: str) -> str:
    """A short, stable key for one PersonioSync; namespace/name may be long, the key is not."""
    return hashlib.sha256(f"{namespace}/{name}".encode()).hexdigest()[:12]


def owner_prefix(owner: str) -> str:
    """What every absence of one owner starts with: the operand of the list `filterby`."""
    return f"{PREFIX}:{owner}:"


def make_marker(owner: str, period_id: str) -> str:
    marker = owner_prefix(owner) + period_id
    if len(marker) > MAX_LENGTH:
        raise ValueError(f"absence period id too long for the awork marker: {period_id[:40]}…")
    return marker


def period_id_of(marker: str | None, owner: str) -> str | None:
    """The Personio period id an owned absence points at; None if not this owner's."""
    prefix = owner_prefix(owner)
    if marker is None or not marker.startswith(prefix):
        return None
    return marker[len(prefix) :] or None
