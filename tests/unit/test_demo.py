"""The newcomer's first commands (UX-10 to UX-13): `make demo` says what it is doing and
which namespace its operator serves, takes free ports, and a kept demo prints commands
that work pasted as printed, the same the README shows."""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def load_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo", ROOT / "hack" / "demo.py")
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    return demo


demo = load_demo()


def test_ux_10_the_demo_says_which_namespace_its_operator_serves() -> None:
    example = yaml.safe_load((ROOT / "examples" / "personiosync.yaml").read_text())
    meta = example["metadata"]
    assert (meta["namespace"], meta["name"]) == (demo.NAMESPACE, demo.NAME)
    command = demo.operator_command()
    assert command[-3:] == ["run", "--namespace", demo.NAMESPACE]
    note = demo.serving_note()
    assert f"serves namespace {demo.NAMESPACE} only" in note
    assert "personio-sync run --namespace hr" in note and "another namespace" in note
    assert "namespace `hr` only" in README  # and the README says it too


def test_ux_11_the_operator_gets_two_free_ports(tmp_path: Path) -> None:
    ports = demo.Ports.free()
    assert ports.http != ports.webhooks
    env = demo.operator_env(tmp_path / "kubeconfig", "http://p", "http://a", ports)
    assert env["PERSONIO_SYNC_HTTP_PORT"] == str(ports.http)
    assert env["PERSONIO_SYNC_WEBHOOK_PORT"] == str(ports.webhooks)
    base = f"http://127.0.0.1:{ports.webhooks}/webhooks/personio"
    assert env["PERSONIO_SYNC_WEBHOOK_BASE_URL"] == base  # HOOK-15: the receiver starts
    assert env["PERSONIO_SYNC_HTTP_HOST"] == "127.0.0.1"


def test_ux_13_the_kept_demo_prints_commands_with_the_namespace(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "dir with space" / "kubeconfig"
    lines = demo.kept_banner(kubeconfig, "https://127.0.0.1:6443")
    commands = [line.split("  #")[0] for line in lines if not line.startswith("[demo] ")]
    assert all(not line[0].isspace() for line in commands), "pasted as printed"
    export = shlex.split(commands[0])
    assert export[:2] == ["export", f"KUBECONFIG={kubeconfig}"]
    assert export[2] == f"PATH={Path(sys.executable).parent}:$PATH"  # this virtualenv's kubectl
    kubectl = [shlex.split(c) for c in commands[1:]]
    assert all(c[:3] == ["kubectl", "-n", "hr"] for c in kubectl), kubectl
    assert ["kubectl", "-n", "hr", "describe", "psync", "acme"] in kubectl


def test_ux_13_the_readme_never_shows_a_psync_command_without_its_namespace() -> None:
    commands = re.findall(r"kubectl [^`\n]*psync[^`\n]*", README)
    assert commands
    unnamespaced = [c for c in commands if not re.search(r"(-n|--namespace) \S+", c)]
    assert unnamespaced == []
    for line in demo.kept_banner(Path("/k"), "https://x")[3:5]:  # get and describe
        assert f"\n{line}\n" in README, f"README should show the banner's {line!r}"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_ux_12_each_quiet_install_step_of_make_venv_is_announced() -> None:
    steps = subprocess.run(
        ["make", "-n", "-B", "VENV=/nonexistent/venv", "/nonexistent/venv/.installed"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
    ).stdout.splitlines()  # fmt: skip
    installs = [i for i, step in enumerate(steps) if " install " in step]
    assert installs, steps
    for i in installs:
        assert steps[i - 1].startswith('echo "[venv] '), f"{steps[i]!r} runs unannounced"
