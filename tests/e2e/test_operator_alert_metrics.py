"""The alerts' inputs on a real operator pair (ALERT-1): a standby started after the
leader's first sync exports the same status gauges as the leader (read from the watched
status, not from runs it never made), and the leadership gauge tells the two apart."""

from __future__ import annotations

import re
from typing import Any

import pytest
from lightkube import Client
from test_operator_ha import leader_synced_then_standby, replica, sandbox  # noqa: F401

from personio_sync_testing.devtools.kubectl import Kubectl
from personio_sync_testing.devtools.polling import eventually

pytestmark = pytest.mark.e2e

STATUS_GAUGES = ("personio_sync_interval_seconds", "personio_sync_last_success_timestamp_seconds",
                 "personio_sync_held_deletions", "personio_sync_conflicts")  # fmt: skip


def gauges(text: str, namespace: str) -> dict[str, float]:
    labels = f'{{name="team",namespace="{namespace}"}}'
    found = {}
    for name in STATUS_GAUGES:
        match = re.search(rf"^{name}{re.escape(labels)} (\S+)$", text, re.M)
        if match:
            found[name] = float(match[1])
    return found


def test_alert_1_a_standby_exports_what_the_leader_exports(
    kubectl: Kubectl,
    kube_api: Client,
    namespace: str,
    replica: Any,  # noqa: F811
) -> None:
    leader, standby = leader_synced_then_standby(kubectl, kube_api, namespace, replica)
    seen = eventually(lambda: gauges(standby.metrics(), namespace) or None, within=30,
                      what="status gauges on the standby")  # fmt: skip
    assert seen == gauges(leader.metrics(), namespace)
    assert seen["personio_sync_interval_seconds"] == 3600  # the default interval
    # None held, no conflicts: no series (METRICS-1, only while there are any).
    assert "personio_sync_held_deletions" not in seen and "personio_sync_conflicts" not in seen
    assert f'personio_sync_resources{{namespace="{namespace}",state="ok"}} 1.0' in standby.metrics()
    assert "personio_sync_failing_since_timestamp_seconds{" not in standby.metrics()
    assert re.search(r"^personio_sync_leader 1\.0$", leader.metrics(), re.M)
    assert re.search(r"^personio_sync_leader 0\.0$", standby.metrics(), re.M)
    assert re.search(r"^personio_sync_leader_acquisitions_total 1\.0$", leader.metrics(), re.M)
