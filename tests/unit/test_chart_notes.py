"""What `helm install` prints next uses docs/install.md's names, and its commands parse.

helm renders NOTES.txt only on install; here a copy of the chart renders it as an
ordinary template, offline.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from personio_sync_testing.devtools.binaries import helm_path

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "personio-sync"
INSTALL_DOC = (ROOT / "docs" / "install.md").read_text()


def notes(tmp_path: Path, *values: str) -> str:
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    text = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "NOTES.txt").unlink()
    (chart / "templates" / "_notes.tpl").write_text('{{- define "notes" -}}' + text + "{{- end }}")
    (chart / "templates" / "notes.yaml").write_text('notes: {{ include "notes" . | toJson }}\n')
    out = subprocess.run(
        [str(helm_path()), "template", "ps", str(chart), "--namespace", "ops",
         "--kube-version", "1.37.2", "--show-only", "templates/notes.yaml", *values],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return str(yaml.safe_load(out)["notes"])


def commands(text: str) -> list[list[str]]:
    joined = re.sub(r"\\\n\s*", " ", text)
    return [shlex.split(ln) for ln in joined.splitlines() if ln.strip().startswith("kubectl")]


def documented(pattern: str) -> set[str]:
    return set(re.findall(pattern, INSTALL_DOC))


@pytest.mark.parametrize("values", [(), ("--set", "watchNamespaces={hr}")])
def test_notes_use_the_names_of_the_install_guide(tmp_path: Path, values: tuple[str, ...]) -> None:
    text = notes(tmp_path, *values)
    secret = re.search(r"create secret generic (\S+)", text)
    assert secret and {secret[1]} == documented(r"create secret generic (\S+)")
    namespaces = {argv[argv.index("--namespace") + 1] for argv in commands(text)
                  if "--namespace" in argv}  # fmt: skip
    assert namespaces == {"hr"}
    assert set(re.findall(r"describe psync (\S+)", text)) == documented(r"describe psync (\S+)")
    example = yaml.safe_load((ROOT / "examples" / "minimal.yaml").read_text())
    manifest = yaml.safe_load(text.split("<<'YAML'", 1)[1].split("\n", 1)[1].split("YAML")[0])
    assert manifest["metadata"]["name"] == example["metadata"]["name"]
    assert manifest["spec"] == example["spec"]
    placeholders = set(re.findall(r"YOUR_[A-Z_]+", text))
    assert placeholders <= set(re.findall(r"YOUR_[A-Z_]+", INSTALL_DOC))
