"""`personio-sync run` whose HTTP port is taken (issue 7): it stops at once with one clear
line and exit code 2, instead of retrying kopf's startup forever with tracebacks.

The port is bound before anything talks to the API server, so no cluster is needed: the
kubeconfig points nowhere, and a process that got past the port would keep retrying.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from personio_sync_testing.devtools.polling import eventually


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def test_run_with_its_http_port_taken_exits_with_a_clear_message(
    taken_port: int, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONIO_SYNC_")}
    env |= {
        "KUBECONFIG": str(tmp_path / "no-kubeconfig"),
        "PERSONIO_SYNC_HTTP_HOST": "127.0.0.1",
        "PERSONIO_SYNC_HTTP_PORT": str(taken_port),
    }
    args = [sys.executable, "-m", "personio_sync.cli", "run", "--standalone", "--namespace", "x"]
    proc = subprocess.Popen(
        args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        code = eventually(lambda: proc.poll() is not None, within=60, what="the process exits")
        stdout, stderr = (part.decode() for part in proc.communicate(timeout=10))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code and proc.returncode == 2
    lines = stderr.strip().splitlines()
    assert lines == [
        f"personio-sync: cannot serve /healthz and /metrics on 127.0.0.1:{taken_port}: "
        "Address already in use; set PERSONIO_SYNC_HTTP_PORT (or PERSONIO_SYNC_HTTP_HOST) "
        "to one this process may use"
    ], stderr
    assert "Traceback" not in stdout + stderr
