"""The Grafana dashboard ConfigMap (ALERT-1): for the sidecar, and every query it makes
reads a metric the operator exports (names from the operator's registry, never a copy).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.unit.promql import exported_names, metric_names, variable_names
from tests.unit.test_chart_render import one, render

CHART = Path(__file__).resolve().parents[2] / "charts" / "personio-sync"


def dashboard_map(helm: Path, tmp_path: Path, **values: Any) -> dict[str, Any]:
    docs = render(helm, tmp_path, {"grafanaDashboard": {"enabled": True, **values}})
    found: dict[str, Any] = one(docs, "ConfigMap")
    return found


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, those inside collapsed rows too."""
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found += panel.get("panels", [])
    return found


def queries(dashboard: dict[str, Any]) -> list[tuple[str, str, set[str]]]:
    """(where, query, metrics it reads) for each panel target and template variable."""
    found = [(f"panel {p['title']!r}", t["expr"], metric_names(t["expr"]))
             for p in panels(dashboard) for t in p.get("targets", [])]  # fmt: skip
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"]
            found.append((f"variable {variable['name']}", query, variable_names(query)))
    return found


def test_alert_1_every_dashboard_query_reads_an_exported_metric(helm: Path, tmp_path: Path) -> None:
    (text,) = dashboard_map(helm, tmp_path)["data"].values()
    dashboard = json.loads(text)
    exported = exported_names()
    checked = queries(dashboard)
    assert len(checked) > 20
    for where, query, read in checked:
        assert read, f"{where} reads no metric: {query}"
        missing = read - exported
        assert not missing, f"{where} queries {sorted(missing)}, which the operator does not export"


def test_alert_1_the_check_catches_a_metric_nobody_exports() -> None:
    exported = exported_names()
    assert metric_names('sum by (vendor) (rate(personio_sync_api_requests_total{job=~"$job"}'
                        "[$__rate_interval]))") <= exported  # fmt: skip
    assert metric_names("histogram_quantile(0.95, sum by (le) (rate("
                        "personio_sync_run_duration_seconds_bucket[1h])))") <= exported  # fmt: skip
    # A gauge has no _total; a counter's bare name is not a sample either.
    assert metric_names("personio_sync_users_total") - exported == {"personio_sync_users_total"}
    assert metric_names("rate(personio_sync_runs[5m])") - exported == {"personio_sync_runs"}
    assert metric_names("time() - max by (namespace) (up offset 5m) > bool 2") == {"up"}
    assert variable_names('label_values(personio_sync_leader{job="x"}, pod)') == {
        "personio_sync_leader"
    }


def test_alert_1_the_dashboard_is_valid_for_grafana(helm: Path, tmp_path: Path) -> None:
    configmap = dashboard_map(helm, tmp_path)
    dashboard = json.loads(configmap["data"]["personio-sync.json"])
    assert dashboard["uid"] == "personio-sync" and dashboard["title"]
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids))
    names = [v["name"] for v in dashboard["templating"]["list"]]
    assert names == ["datasource", "job", "namespace", "name"]
    for panel in panels(dashboard):
        if panel["type"] != "row":
            assert panel["targets"] and panel["description"], panel["title"]
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    # The file the chart ships is the ConfigMap's content, byte for byte.
    expected = (CHART / "files" / "dashboard.json").read_text().rstrip("\n")
    assert configmap["data"]["personio-sync.json"] == expected


def test_alert_1_the_sidecar_label_and_namespace_are_values(helm: Path, tmp_path: Path) -> None:
    default = dashboard_map(helm, tmp_path)["metadata"]
    assert default["labels"]["grafana_dashboard"] == "1"
    assert default["namespace"] == "ops"
    # A sidecar with another label: null drops the default one (helm merges maps).
    labels = {"grafana": "dashboards", "grafana_dashboard": None}
    folder = {"grafana_folder": "HR"}
    moved = dashboard_map(helm, tmp_path, labels=labels, annotations=folder, namespace="monitoring")
    moved = moved["metadata"]
    assert moved["labels"]["grafana"] == "dashboards" and "grafana_dashboard" not in moved["labels"]
    assert moved["annotations"] == {"grafana_folder": "HR"}
    assert moved["namespace"] == "monitoring"


@pytest.mark.parametrize("values", [{}, {"grafanaDashboard": {"enabled": False}}])
def test_alert_1_no_dashboard_unless_asked(
    helm: Path, tmp_path: Path, values: dict[str, Any]
) -> None:
    assert not [d for d in render(helm, tmp_path, values) if d["kind"] == "ConfigMap"]
