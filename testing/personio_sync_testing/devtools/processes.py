"""Child processes of the local control plane: start, wait until healthy, stop for sure.

A killed test run must not leave etcd and kube-apiserver behind on a shared 2-core
machine, so attached children get SIGKILL from the kernel when their parent dies (a
kube-apiserver that lost etcd hangs in its graceful shutdown, so no SIGTERM).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

PR_SET_PDEATHSIG = 1
TERMINATE_GRACE = 15.0  # kube-apiserver drains for a few seconds on SIGTERM


class ControlPlaneError(RuntimeError):
    """The control plane could not start; the message carries the end of the log."""


def log(message: str) -> None:
    print(f"[control-plane] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports: each socket stays bound until all are picked, since the
    kernel may hand a port just released out again (two picks in a row once gave an
    operator the same port for /metrics and its webhook receiver)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    @classmethod
    def start(cls, name: str, args: list[str], log_path: Path, *, detach: bool) -> Process:
        preexec: Callable[[], None] | None = None if detach else _die_with_parent
        with log_path.open("ab") as out:
            popen = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us, and we stop children in order
                preexec_fn=preexec,
            )
        return cls(name, popen, log_path)

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(TERMINATE_GRACE)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


def wait_until(
    proc: Process,
    url: str,
    *,
    deadline: float,
    attempt: int,
    token: str | None = None,
    ca_file: Path | None = None,
) -> bool:
    """Poll `url` until it answers 200: True; False if the port was taken (retry)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.popen.poll() is not None:
            tail = proc.log_tail()
            if "address already in use" in tail:
                log(f"{proc.name}: port taken (attempt {attempt}), retrying on another")
                return False
            raise ControlPlaneError(f"{proc.name} exited ({proc.popen.returncode}):\n{tail}")
        if _healthy(url, headers, ca_file):
            return True
        time.sleep(0.2)
    proc.stop()
    raise ControlPlaneError(f"{proc.name} not ready within {deadline:.0f}s:\n{proc.log_tail()}")


def _healthy(url: str, headers: dict[str, str], ca_file: Path | None) -> bool:
    verify: ssl.SSLContext | bool = True
    if ca_file is not None:
        if not ca_file.is_file():
            return False  # the API server writes its serving cert before it listens
        verify = ssl.create_default_context(cafile=str(ca_file))
    try:
        return httpx.get(url, headers=headers, verify=verify, timeout=2.0).status_code == 200
    except (httpx.HTTPError, ssl.SSLError):
        return False


def stop_pid(pid: int, name: str) -> None:
    """Stop a detached process started by an earlier `up`, if it is still that program."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return
    if name.encode() not in cmdline.split(b"\0", 1)[0]:
        return  # the pid was reused by something else
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    end = time.monotonic() + TERMINATE_GRACE
    while time.monotonic() < end and _running(pid):
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"  # a zombie has already exited
