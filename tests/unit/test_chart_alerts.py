"""The chart's alerts (ALERT-1 … ALERT-8): promtool checks the rendered PrometheusRule and
runs its unit tests (tests/unit/alerts/), every expression reads only metrics the
operator exports, and every alert has a runbook in docs/operator.md.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.unit.promql import exported_names, metric_names
from tests.unit.test_chart_render import one, render

ROOT = Path(__file__).resolve().parents[2]
UNIT_TESTS = Path(__file__).parent / "alerts" / "personio-sync.test.yaml"
OPERATOR_DOC = (ROOT / "docs" / "operator.md").read_text()
RUNBOOKS = "https://github.com/personio-sync/personio-sync/blob/main/docs/operator.md"


def rule_groups(helm: Path, tmp_path: Path, **values: Any) -> dict[str, Any]:
    docs = render(helm, tmp_path, {"prometheusRule": {"enabled": True, **values}})
    spec: dict[str, Any] = one(docs, "PrometheusRule")["spec"]
    return spec


def alerts(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [rule for group in spec["groups"] for rule in group["rules"] if "alert" in rule]


def promtool_run(promtool: Path, *args: str, cwd: Path) -> str:
    result = subprocess.run([str(promtool), *args], capture_output=True, text=True,
                            cwd=cwd, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def rules_file(helm: Path, tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rule_groups(helm, tmp_path)))
    return path


def test_alert_1_promtool_checks_the_rendered_rules(promtool: Path, rules_file: Path) -> None:
    out = promtool_run(promtool, "check", "rules", rules_file.name, cwd=rules_file.parent)
    assert "SUCCESS: 7 rules found" in out


def test_alert_1_promtool_unit_tests_pass(promtool: Path, rules_file: Path) -> None:
    shutil.copy(UNIT_TESTS, rules_file.parent / UNIT_TESTS.name)
    out = promtool_run(promtool, "test", "rules", UNIT_TESTS.name, cwd=rules_file.parent)
    assert "SUCCESS" in out


def test_alert_1_every_alert_has_a_unit_test_that_sees_it_fire(rules_file: Path) -> None:
    tested = yaml.safe_load(UNIT_TESTS.read_text())["tests"]
    firing = {case["alertname"] for test in tested for case in test["alert_rule_test"]
              if case["exp_alerts"]}  # fmt: skip
    names = {rule["alert"] for rule in alerts(yaml.safe_load(rules_file.read_text()))}
    assert names == firing


def test_alert_1_rules_and_their_tests_name_only_exported_metrics(rules_file: Path) -> None:
    """A renamed metric fails here, not as an alert that silently never fires."""
    exported = exported_names()
    for rule in alerts(yaml.safe_load(rules_file.read_text())):
        read = metric_names(rule["expr"])
        assert read and read <= exported, (rule["alert"], sorted(read - exported))
    for test in yaml.safe_load(UNIT_TESTS.read_text())["tests"]:
        for series in test["input_series"]:
            name = series["series"].split("{", 1)[0]
            assert name in exported, f"{UNIT_TESTS.name} feeds {name}, which nothing exports"


def test_alert_1_kube_prometheus_conventions_and_a_runbook_each(helm: Path, tmp_path: Path) -> None:
    for rule in alerts(rule_groups(helm, tmp_path)):
        assert rule["labels"]["severity"] in ("info", "warning", "critical")
        annotations = rule["annotations"]
        assert {"summary", "description", "runbook_url"} <= set(annotations)
        assert annotations["runbook_url"] == f"{RUNBOOKS}#{rule['alert'].lower()}"
        # The anchor is a heading of docs/operator.md (GitHub lower-cases heading ids).
        assert re.search(rf"^#+ {rule['alert']}$", OPERATOR_DOC, re.M), rule["alert"]


def test_alert_1_selector_labels_and_runbook_page_are_values(helm: Path, tmp_path: Path) -> None:
    spec = rule_groups(helm, tmp_path, selector='job="personio-sync"',
                       alertLabels={"team": "hr-platform"},
                       runbookUrl="https://wiki.example.com/personio-sync")  # fmt: skip
    for rule in alerts(spec):
        assert 'job="ps-personio-sync-metrics"' not in rule["expr"]
        assert rule["expr"].count('job="personio-sync"') >= 1
        assert rule["labels"] == {"severity": "warning", "team": "hr-platform"}
        assert rule["annotations"]["runbook_url"].startswith("https://wiki.example.com/")


def test_alert_1_the_service_monitor_keeps_the_resource_namespace(
    helm: Path, tmp_path: Path
) -> None:
    """Without honorLabels Prometheus would rename the series' namespace (the resource's)
    to exported_namespace and the alerts would name the operator's namespace instead."""
    docs = render(helm, tmp_path, {"serviceMonitor": {"enabled": True}})
    (endpoint,) = one(docs, "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["honorLabels"] is True


def test_alert_1_no_rule_without_the_value(helm: Path, tmp_path: Path) -> None:
    assert not [d for d in render(helm, tmp_path, {}) if d["kind"] == "PrometheusRule"]
