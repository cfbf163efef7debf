"""Respect kopf peering in our own workers: no scheduled run while another operator leads.

kopf pauses its own watching (and its daemons) when a peer with a higher or equal
priority is alive, but our workers are plain tasks it does not know about. So before
each run a worker asks the peering object itself, with kopf's rule: pause while any
other live peer has a priority >= ours. Without a peering name there is nothing to
ask (standalone), and a missing peering object means nobody else is there.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from personio_sync.controller.kube import KubeClient, KubeError
from personio_sync.controller.status import parse_time

log = logging.getLogger("personio_sync.controller")


def own_identity() -> str:
    """Unique per process, recognisable per pod (kopf's peering key for us)."""
    host = os.environ.get("POD_ID") or socket.gethostname()
    return f"personio-sync@{host}/{os.getpid()}/{secrets.token_hex(3)}"


def is_paused(peers: Mapping[str, Any], *, identity: str, priority: int, now: datetime) -> bool:
    """kopf's rule over a peering object's `status` ({identity: {priority, lastseen, lifetime}})."""
    for peer_id, info in peers.items():
        if peer_id == identity or not isinstance(info, Mapping):
            continue
        seen = parse_time(info.get("lastseen"))
        lifetime = timedelta(seconds=int(info.get("lifetime", 60)))
        alive = seen is not None and seen + lifetime > now
        if alive and int(info.get("priority", 0)) >= priority:
            return True
    return False


@dataclass(frozen=True)
class PeeringConfig:
    """What run_operator told kopf about peering, for our workers to follow too."""

    name: str
    identity: str
    priority: int
    clusterwide: bool


class PeeringGate:
    """Asks the peering object before a run; any doubt (API error) means: do not run now."""

    def __init__(self, kube: KubeClient, config: PeeringConfig) -> None:
        self._kube, self.config = kube, config

    async def may_run(self, namespace: str, now: datetime) -> bool:
        config = self.config
        try:
            peering = await self._kube.get_peering(
                config.name, None if config.clusterwide else namespace
            )
        except KubeError as exc:
            if exc.status_code == 403:  # not granted: kopf cannot peer either, so we lead
                return True
            log.warning("peering %s unreadable, not syncing now: %s", config.name, exc)
            return False
        if peering is None:
            return True
        peers = peering.get("status") or {}
        paused = is_paused(peers, identity=config.identity, priority=config.priority, now=now)
        if paused:
            log.info("%s: another operator is active (peering %s); waiting", namespace, config.name)
        return not paused
