"""Metric names on both sides: what the operator's registry exports, and what a PromQL
expression (an alert, a dashboard panel, a Grafana variable) reads.

The registry is the operator's own (personio_sync.controller.reporting.metrics.Metrics), so a
renamed or dropped metric fails the dashboard and alert tests instead of leaving a panel
empty or an alert silent. Parsing is deliberately small: strings, label matchers, ranges
and grouping lists are cut out, and every remaining identifier that is not a function,
an aggregation or a keyword is a metric name.
"""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry

from personio_sync.controller.reporting.metrics import Metrics

# The sample names each metric type exposes (prometheus_client also exports `_created`).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
    "gauge": ("",),
    "info": ("_info",),
}
KEYWORDS = {
    "and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
    "group_left", "group_right", "inf", "nan", "start", "end",
}  # fmt: skip
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
IDENTIFIER = re.compile(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(\s*\()?")
LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(.+?)\s*,\s*[a-zA-Z_]\w*\s*\)\s*$", re.S)
QUERY_RESULT = re.compile(r"^\s*query_result\((.*)\)\s*$", re.S)


def exported_names(registry: CollectorRegistry | None = None) -> set[str]:
    """Every sample name the operator can put on /metrics, series or not yet."""
    registry = registry or Metrics().registry
    names = set()
    for family in registry.collect():
        names |= {family.name + suffix for suffix in SUFFIXES[family.type]}
    return names


def metric_names(expr: str) -> set[str]:
    """The metrics a PromQL expression reads."""
    text = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`', " ", expr)
    text = re.sub(r"\$\{[^}]*\}|\$\w+", " ", text)  # Grafana variables
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = GROUPING.sub(" ", text)
    found = set()
    for match in IDENTIFIER.finditer(text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in KEYWORDS:
            continue  # a function or aggregation, or a keyword
        found.add(name)
    return found


def variable_names(query: str) -> set[str]:
    """The metrics a Grafana template variable's query reads (label_values, query_result)."""
    for pattern in (LABEL_VALUES, QUERY_RESULT):
        match = pattern.match(query)
        if match:
            return metric_names(match.group(1))
    return set()  # label_values(label), label_names(): no metric
