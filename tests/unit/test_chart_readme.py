"""The chart's README is what helm-docs writes from values.yaml (CHARTDOC-1): up to date,
and every value has a description (a `# --` comment), so a new value without one fails."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "personio-sync"


def generated(tmp_path: Path, helm_docs: Path) -> str:
    chart = tmp_path / "personio-sync"
    shutil.copytree(CHART, chart)
    (chart / "README.md").unlink()
    env = {**os.environ, "CHART_DIR": str(chart)}
    result = subprocess.run([str(ROOT / "hack" / "helm-docs.sh")], env=env, capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "skipping" not in result.stderr, result.stderr  # helm-docs skips a broken chart
    return (chart / "README.md").read_text()


def test_chartdoc_1_the_readme_is_up_to_date(tmp_path: Path, helm_docs: Path) -> None:
    expected = generated(tmp_path, helm_docs)
    assert (CHART / "README.md").read_text() == expected, (
        "charts/personio-sync/README.md is out of date: run `make chart-readme`"
    )


def test_chartdoc_1_every_value_is_described(tmp_path: Path, helm_docs: Path) -> None:
    rows = re.findall(r"^\| (\S+) \| \w+ \| .* \| (.*) \|$", generated(tmp_path, helm_docs), re.M)
    assert len(rows) > 50
    undocumented = [key for key, description in rows if not description.strip()]
    assert not undocumented, f"values without a `# --` comment in values.yaml: {undocumented}"
