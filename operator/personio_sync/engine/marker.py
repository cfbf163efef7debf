"""The ownership marker written to awork's `externalProvider` (R11).

`personio-sync:<owner>:<period id>`: the prefix says this operator wrote it, the
owner key is derived from the installation's instance id and namespace/name (so a
re-created resource adopts its absences, and another cluster's does not), and the
period id links back to Personio. 100 characters at most.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

PREFIX = "personio-sync"
ANY_OWNER = f"{PREFIX}:"  # what every personio-sync marker starts with
MAX_LENGTH = 100


def owner_key(namespace: str, name: str, instance_id: str = "") -> str:
    """A short, stable key for one PersonioSync of one installation (D-Owner).

    The instance id tells two clusters (or the CLI and the operator) apart, so the same
    namespace/name there is two owners. Without one, the key is the one versions before
    D-Owner wrote: the upgrade adopts absences under it (`legacy_owner_key`)."""
    scope = f"{instance_id}/" if instance_id else ""
    return hashlib.sha256(f"{scope}{namespace}/{name}".encode()).hexdigest()[:12]


def legacy_owner_key(namespace: str, name: str) -> str:
    return owner_key(namespace, name)


def keys_to_adopt(
    namespace: str, name: str, owner: str, adopt_from: Iterable[str] = ()
) -> frozenset[str]:
    """`spec.adoptFrom` plus the key older versions wrote for this namespace/name, so an
    upgrade loses nothing (D-Owner); never the owner itself."""
    return frozenset({legacy_owner_key(namespace, name), *adopt_from}) - {owner}


def owner_prefix(owner: str) -> str:
    """What every absence of one owner starts with: the operand of the list `filterby`."""
    return f"{PREFIX}:{owner}:"


def make_marker(owner: str, period_id: str) -> str:
    marker = owner_prefix(owner) + period_id
    if len(marker) > MAX_LENGTH:
        raise ValueError(f"absence period id too long for the awork marker: {period_id[:40]}…")
    return marker


def parse_marker(marker: str | None) -> tuple[str, str] | None:
    """(owner key, period id) of any personio-sync marker; None for anything else."""
    if not marker or not marker.startswith(f"{PREFIX}:"):
        return None
    owner, sep, period_id = marker[len(PREFIX) + 1 :].partition(":")
    return (owner, period_id) if sep and owner and period_id else None


def period_id_of(marker: str | None, owner: str) -> str | None:
    """The Personio period id an owned absence points at; None if not this owner's."""
    prefix = owner_prefix(owner)
    if marker is None or not marker.startswith(prefix):
        return None
    return marker[len(prefix) :] or None
