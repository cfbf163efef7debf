"""Knobs, fault rules and the request journal shared by both fakes.

Knobs are pydantic models because they cross an API boundary (the admin API's
`PUT /_admin/knobs`); the fault book and the journal are plain Python objects
guarded by a lock, because a `Sandbox` touches them from another thread.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Knobs(BaseModel):
    """Behaviour switches common to both fakes."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    latency_ms: float = Field(0.0, ge=0, description="Delay added to every API request.")
    route_latency_ms: dict[str, float] = Field(
        default_factory=dict,
        description="Per path-prefix delay ('/api/v1/users'), or per method and path prefix "
        "('POST /api/v1/absences'); the longest prefix wins.",
    )
    time_scale: float = Field(
        1.0, ge=1.0, description="Divides rate-limit windows and latency: a minute lasts 60/x s."
    )
    rate_limits: bool = Field(False, description="Enforce the vendor's rate limits (429).")
    hold_writes: bool = Field(
        False,
        description="Hold every write (POST, PUT, DELETE) unanswered until set back to false: "
        "racing runs then all read before any of them writes.",
    )

    def latency_s(self, path: str, method: str = "GET") -> float:
        """The real delay for one request on `path`, after time scaling."""
        ms, best = self.latency_ms, ""
        for prefix, value in self.route_latency_ms.items():
            target = f"{method.upper()} {path}" if " " in prefix else path
            if target.startswith(prefix) and len(prefix) > len(best):
                ms, best = value, prefix
        return ms / 1000.0 / self.time_scale


class PersonioKnobs(Knobs):
    """Personio-only knobs; rates follow what one client measured (reference §5.1)."""

    token_ttl_s: int = Field(86400, ge=1, description="expires_in of issued tokens.")
    relative_links: bool = Field(False, description="Emit /v2/... instead of absolute hrefs.")
    persons_rps: float = Field(30.0, gt=0)
    absence_periods_rps: float = Field(10.0, gt=0)
    absence_types_rps: float = Field(10.0, gt=0)
    auth_per_minute: float = Field(150.0, gt=0)
    updated_at_skew_s: float = Field(
        0.0,
        description="Seconds added to every period's updated_at, on the wire and in the "
        "updated_at filters: Personio reports it about an hour off for absences entered in "
        "its web UI (3600 or -3600 plays that).",
    )
    list_cap: dict[Literal["persons", "absence_types", "periods"], int] = Field(
        default_factory=dict,
        description="Serve at most N items of that list in all and claim it ends there: "
        "an empty (0) or cut-short list answered with 200, as in a vendor glitch.",
    )
    # Webhook delivery (fakes/personio/webhooks.py); Personio's timings by default.
    webhook_timeout_s: float = Field(3.0, gt=0, description="Acknowledgement deadline.")
    webhook_fast_retries: int = Field(2, ge=0, le=2, description="Fast retries per attempt.")
    webhook_fast_retry_delay_s: float = Field(1.0, ge=0)
    webhook_retry_delays_s: list[float] = Field(
        default_factory=lambda: [60.0, 300.0, 1800.0, 7200.0, 86400.0],
        max_length=5,
        description="Pause before attempts 2..6 (Personio retries for up to 3 days).",
    )
    webhook_drop_rate: float = Field(0.0, ge=0, le=1, description="Share of deliveries lost.")
    webhook_delay_ms: float = Field(0.0, ge=0, description="Delay before the first request.")
    webhook_duplicate: bool = Field(False, description="Deliver every event twice.")
    webhook_reorder_window_ms: float = Field(
        0.0, ge=0, description="Collect deliveries this long, then send them newest first."
    )
    webhook_seed: int = Field(0, description="Seed of the drop decision (reproducible).")


class AworkKnobs(Knobs):
    """awork-only knobs: the per-workspace limits (Enterprise: per_minute=3000)."""

    per_minute: int = Field(1000, ge=1)
    per_second: int = Field(50, ge=1)
    ignore_filters: bool = Field(
        False, description="Answer lists as if `filterby` were absent (a loosened filter)."
    )


# How a request can fail (docs/sandbox.md). For writes whose answer goes missing:
# timeout: hold it unanswered and never carry it out (a stall before storing);
# lost_answer: carry it out, then hold the answer until the client gives up (store, then
# stall); drop_answer: carry it out, then cut the connection at once (the answer lost);
# late_commit: hold it `hold_ms` without answering, then carry it out whether the client
# is still there or not, and cut the connection (awork committing after the client gave up);
# commit_on_resend: the same, but hold it until the client sends the same request again,
# and carry it out just before that one (a commit later than any look-up could wait for).
FaultKind = Literal[
    "status", "rate_limit", "timeout", "lost_answer", "drop_answer", "late_commit",
    "commit_on_resend", "malformed", "drop",
]  # fmt: skip


class FaultRule(BaseModel):
    """One injected failure: which requests it hits, what happens, and how often."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FaultKind
    path_prefix: str = "/"
    method: str | None = None
    status: int = Field(503, ge=500, le=599, description="HTTP status for kind=status.")
    hold_ms: float = Field(0.0, ge=0, description="How long kind=late_commit holds a request.")
    after: int = Field(0, ge=0, description="Let the first N matching requests through.")
    times: int | None = Field(None, ge=1, description="Fault this many requests; None = all.")

    def matches(self, method: str, path: str, api_root: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        local = path[len(api_root) :] if api_root and path.startswith(api_root) else path
        return path.startswith(self.path_prefix) or local.startswith(self.path_prefix)


@dataclass
class _Armed:
    rule: FaultRule
    seen: int = 0
    fired: int = 0


class FaultBook:
    """The active fault rules, each with its own counters; the first rule that fires wins."""

    def __init__(self, api_root: str = "") -> None:
        self._api_root = api_root
        self._armed: list[_Armed] = []
        self._lock = threading.Lock()

    def add(self, *rules: FaultRule) -> None:
        with self._lock:
            self._armed.extend(_Armed(rule) for rule in rules)

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{**a.rule.model_dump(), "seen": a.seen, "fired": a.fired} for a in self._armed]

    def match(self, method: str, path: str) -> FaultRule | None:
        with self._lock:
            for armed in self._armed:
                if not armed.rule.matches(method, path, self._api_root):
                    continue
                armed.seen += 1
                exhausted = armed.rule.times is not None and armed.fired >= armed.rule.times
                if armed.seen <= armed.rule.after or exhausted:
                    continue
                armed.fired += 1
                return armed.rule
        return None


@dataclass
class JournalEntry:
    """One API request as the fake saw it (admin requests are not journaled)."""

    method: str
    path: str
    query: dict[str, str]
    status: int = 0
    body: Any = None
    fault: str | None = None
    at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "body": self.body,
            "fault": self.fault,
            "at": self.at,
        }


class Journal:
    """Append-only request log, so tests can count requests per endpoint."""

    def __init__(self) -> None:
        self._entries: list[JournalEntry] = []
        self._lock = threading.Lock()

    def append(self, entry: JournalEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[JournalEntry]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def count(self, method: str | None = None, path_prefix: str = "") -> int:
        """How many requests matched; `path_prefix` is compared with the full request path."""
        return sum(
            1
            for e in self.entries()
            if (method is None or e.method == method.upper()) and e.path.startswith(path_prefix)
        )
