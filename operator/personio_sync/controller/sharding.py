"""Which shard a resource is in, and which shards a replica should hold (SHARD-1, SHARD-2).

Pure: every replica computes the same answer from the same inputs, so nobody has to
hand out shards. A resource's shard is a stable hash of "namespace/name" modulo the
installation's fixed number of shards (PERSONIO_SYNC_SHARDS): it never changes for the
resource's life, and neither does anything else about it (owner keys, D-Owner, do not
involve the shard). The shards are spread over the live replicas by rendezvous hashing
with bounded loads: each (replica, shard) pair has a score, shards go to their
highest-scoring replica that still has room, and room is the fair share (each replica
holds ⌊S/R⌋ or ⌈S/R⌉). A replica joining or leaving moves few shards: most pairs keep
their order, so most shards keep their replica.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

DEFAULT_SHARDS = 16


def _number(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def shard_of(namespace: str, name: str, shards: int) -> int:
    """The resource's shard, 0 <= shard < shards (SHARD-1)."""
    return _number(f"{namespace}/{name}") % shards


def assignment(replicas: Iterable[str], shards: int) -> dict[int, str]:
    """Every shard's replica (SHARD-2); empty without replicas."""
    live = sorted(set(replicas))
    if not live:
        return {}
    low, extra = divmod(shards, len(live))
    ranked = sorted(
        ((_number(f"{replica}\x00{shard}"), shard, replica) for replica in live
         for shard in range(shards)),
        reverse=True,
    )  # fmt: skip
    owner: dict[int, str] = {}
    load = dict.fromkeys(live, 0)
    at_high = 0  # replicas already holding ⌈S/R⌉ (only `extra` of them may)
    for _, shard, replica in ranked:
        if shard in owner:
            continue
        held = load[replica]
        if held > low or (held == low and (extra == 0 or at_high == extra)):
            continue  # full
        owner[shard] = replica
        load[replica] = held + 1
        at_high += held == low
        if len(owner) == shards:
            break
    return owner


def wanted_shards(replicas: Iterable[str], me: str, shards: int) -> frozenset[int]:
    """The shards `me` should hold while `replicas` are alive (`me` counts as alive)."""
    owners = assignment({*replicas, me}, shards)
    return frozenset(shard for shard, replica in owners.items() if replica == me)
