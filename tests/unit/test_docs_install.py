"""UX-3: docs/install.md says what the chart does: the ports the Deployment opens are the
ports the network section names, with the chart's defaults."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
INSTALL = (ROOT / "docs" / "install.md").read_text(encoding="utf-8")
CHART = ROOT / "charts" / "personio-sync"


def section(title: str) -> str:
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", INSTALL, re.S | re.M)
    assert found, f"docs/install.md has no section {title!r}"
    return " ".join(found[1].split())


def test_ux_3_the_network_section_names_every_port_the_chart_opens() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    deployment = (CHART / "templates" / "deployment.yaml").read_text(encoding="utf-8")
    opened = re.findall(r"containerPort: \{\{ \.Values\.([\w.]+) \}\}", deployment)
    assert sorted(opened) == ["operator.httpPort", "webhooks.port"]
    network = section("What the operator needs from the network")
    for key in opened:
        group, name = key.split(".")
        assert f"`{key}`, default {values[group][name]}" in network, key
    assert "serves no webhooks" not in INSTALL
