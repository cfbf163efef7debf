"""`personio-sync run` whose HTTP port (issue 7) or webhook port (HOOK-15) is taken: it
stops at once with one clear line and exit code 2, instead of retrying kopf's startup
forever with tracebacks.

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


def exits_with(env: dict[str, str]) -> tuple[str, str]:
    """Runs the operator with `env` until it exits (it must, on its own); stdout, stderr."""
    args = [sys.executable, "-m", "personio_sync.cli", "run", "--standalone", "--namespace", "x"]
    proc = subprocess.Popen(
        args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        eventually(lambda: proc.poll() is not None, within=60, what="the process exits")
        stdout, stderr = (part.decode() for part in proc.communicate(timeout=10))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 2, stderr
    return stdout, stderr


def environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONIO_SYNC_")}
    return env | {"KUBECONFIG": str(tmp_path / "no-kubeconfig"), **settings}


def test_run_with_its_http_port_taken_exits_with_a_clear_message(
    taken_port: int, tmp_path: Path
) -> None:
    stdout, stderr = exits_with(
        environment(
            tmp_path,
            PERSONIO_SYNC_HTTP_HOST="127.0.0.1",
            PERSONIO_SYNC_HTTP_PORT=str(taken_port),
        )
    )
    lines = stderr.strip().splitlines()
    assert lines == [
        f"personio-sync: cannot serve /healthz and /metrics on 127.0.0.1:{taken_port}: "
        "Address already in use; set PERSONIO_SYNC_HTTP_PORT (or PERSONIO_SYNC_HTTP_HOST) "
        "to one this process may use"
    ], stderr
    assert "Traceback" not in stdout + stderr


def test_hook_15_run_with_its_webhook_port_taken_exits_with_a_clear_message(
    taken_port: int, tmp_path: Path
) -> None:
    """Bound with the HTTP port before kopf starts: inside kopf's start-up a taken port
    was retried every 60 s with a traceback, and /healthz never answered."""
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        http_port = int(spare.getsockname()[1])
    stdout, stderr = exits_with(
        environment(
            tmp_path,
            PERSONIO_SYNC_HTTP_HOST="127.0.0.1",
            PERSONIO_SYNC_HTTP_PORT=str(http_port),
            PERSONIO_SYNC_WEBHOOK_PORT=str(taken_port),
            PERSONIO_SYNC_WEBHOOK_BASE_URL="http://127.0.0.1/webhooks/personio",
        )
    )
    assert stderr.strip().splitlines() == [
        f"personio-sync: cannot serve Personio webhooks on 127.0.0.1:{taken_port}: "
        "Address already in use; set PERSONIO_SYNC_WEBHOOK_PORT (or PERSONIO_SYNC_HTTP_HOST) "
        "to one this process may use"
    ], stderr
    assert "Traceback" not in stdout + stderr
