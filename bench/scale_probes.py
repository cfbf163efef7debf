"""What the scale benchmark reads off the processes and the API server it measures."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path

from personio_sync.controller.schedule import parse_time
from personio_sync.resource.spec import PLURAL
from personio_sync_testing.devtools.kubectl import Kubectl
from personio_sync_testing.devtools.polling import eventually
from personio_sync_testing.harness import OperatorProcess

# apiserver_request_total{...resource="secrets",...verb="GET"} 12
_REQUEST = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$", re.M)


def api_requests(kubectl: Kubectl) -> dict[str, float]:
    """The API server's request counters by kind: what the operator's runs cost it."""
    kinds = {
        "Secret GET": ("secrets", "", "GET"),
        "status PATCH": (PLURAL, "status", "PATCH"),
        "Event POST": ("events", "", "POST"),
    }
    totals = dict.fromkeys(kinds, 0.0)
    for match in _REQUEST.finditer(kubectl("get", "--raw", "/metrics")):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
        key = (labels.get("resource"), labels.get("subresource", ""), labels.get("verb"))
        for kind, wanted in kinds.items():
            if key == wanted:
                totals[kind] += float(match["value"])
    return totals


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """Resident memory now (VmRSS), or the most it has been (VmHWM: what a limit meets)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def runs_total(operators: list[OperatorProcess]) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for op in operators
        for line in op.metrics().splitlines()
        if line.startswith("personio_sync_runs_total{")
    )


def pid_of(op: OperatorProcess) -> int:
    return op._popen.pid if op._popen else 0


def wait(what: str, done: Callable[[], bool], timeout: float, every: float = 1.0) -> float:
    """Seconds until `done()`, polled by the project's `eventually`."""
    started = time.monotonic()
    eventually(done, within=timeout, interval=every, what=what)
    return time.monotonic() - started


def stamp(text: str) -> float:
    """A status or metadata time as epoch seconds (the schedule's own parser)."""
    parsed = parse_time(text)
    assert parsed is not None, f"not a time: {text!r}"
    return parsed.timestamp()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]
