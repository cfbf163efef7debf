"""The commands the tools print for the next step work when pasted, from any directory."""

from __future__ import annotations

import importlib.util
import shlex
import subprocess
import sys
from pathlib import Path

from personio_sync_testing.devtools.controlplane import DEFAULT_DIR, down_command

ROOT = Path(__file__).resolve().parents[2]


def test_controlplane_down_hint_runs_as_printed(tmp_path: Path) -> None:
    workdir = tmp_path / "cluster"
    workdir.mkdir()
    (workdir / "state.json").write_text("{}")  # what `up` leaves, minus live processes
    hint = down_command(workdir)
    result = subprocess.run(shlex.split(hint), cwd="/", capture_output=True, text=True,
                            timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert not workdir.exists(), "down removes the working directory it was pointed at"


def test_controlplane_down_hint_for_the_default_directory_needs_no_flag() -> None:
    argv = shlex.split(down_command(DEFAULT_DIR))
    assert argv[0] == sys.executable and argv[-1] == "down"


def test_demo_stop_hint_names_this_interpreter_and_the_script_by_absolute_path() -> None:
    spec = importlib.util.spec_from_file_location("demo", ROOT / "hack" / "demo.py")
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    python, script, flag = shlex.split(demo.stop_command())
    assert Path(python).is_absolute() and Path(script) == ROOT / "hack" / "demo.py"
    assert flag == "--stop"
    # Pasted from elsewhere it starts (--help: stopping would end someone's kept demo).
    result = subprocess.run([python, script, "--help"], cwd="/", capture_output=True,
                            text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0 and "--stop" in result.stdout, result.stderr
