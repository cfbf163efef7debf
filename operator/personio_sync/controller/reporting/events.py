"""Events without the noise: a Warning that stands is posted once, not on every run (R20).

A problem that lasts (a rejected credential retried with back-off, people without a
readable e-mail reported by every sync) would otherwise add one Warning per run. A
Warning is posted again only when its message changes, when it comes back after a run
that did not raise it, or when the last post is older than the API server's default
Event lifetime (one hour), so `kubectl describe` keeps showing a problem that stands.
The status conditions always carry the current state; this only thins out Events.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

log = logging.getLogger("personio_sync.controller")

Post = Callable[[Mapping[str, Any], str, str, str], None]
REPOST_AFTER = timedelta(hours=1)  # kube-apiserver's default --event-ttl
# Normal events that end a completed run: warnings not raised again since are over.
RUN_OUTCOMES = frozenset({"Synced", "DryRun"})


@dataclass
class _Standing:
    """Per resource: warnings posted in this run so far, and those of the run before."""

    current: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    previous: dict[str, tuple[str, datetime]] = field(default_factory=dict)


class EventPoster:
    """`ctx.event(body, kind, reason, message)`: posts through `post`, repeats filtered."""

    def __init__(self, post: Post, now: Callable[[], datetime]) -> None:
        self._post, self._now = post, now
        self._standing: dict[str, _Standing] = {}

    def __call__(self, body: Mapping[str, Any], kind: str, reason: str, message: str) -> None:
        standing = self._standing.setdefault(_key(body), _Standing())
        if kind != "Warning":
            if reason in RUN_OUTCOMES:
                standing.previous, standing.current = standing.current, {}
            self._post(body, kind, reason, message)
            return
        now = self._now()
        last = standing.current.get(reason) or standing.previous.get(reason)
        if last is not None and last[0] == message and now - last[1] < REPOST_AFTER:
            standing.current[reason] = last
            log.debug("%s: Warning %s unchanged, not posted again", _key(body), reason)
            return
        standing.current[reason] = (message, now)
        self._post(body, kind, reason, message)


def _key(body: Mapping[str, Any]) -> str:
    meta = body.get("metadata") or {}
    return str(meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}")
