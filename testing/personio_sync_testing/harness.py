"""Run the operator as a real process for end-to-end tests (ours, the chart's, the demo).

A real process, not an in-process KopfRunner: the tests then exercise exactly what a
pod runs (`personio-sync run`), its environment-only configuration (R22) and its
signal handling, and a restart is a real restart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import yaml

from personio_sync.resource.spec import API_GROUP, API_VERSION, KIND
from personio_sync_testing.devtools.polling import Timeout, eventually
from personio_sync_testing.devtools.processes import free_ports


class OperatorProcess:
    """`personio-sync run --namespace …` with the vendor URLs and a kubeconfig.

    >>> with OperatorProcess(kubeconfig, ["team"], personio_url=..., awork_url=...) as op:
    ...     op.metrics()
    """

    def __init__(
        self,
        kubeconfig: Path,
        namespaces: list[str],
        *,
        personio_url: str,
        awork_url: str,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        self.port, self.webhook_port = free_ports(2)
        self.log_path = log_path
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PERSONIO_SYNC_")},
            "KUBECONFIG": str(kubeconfig),
            "PERSONIO_API_URL": personio_url,
            "AWORK_API_URL": awork_url,
            "PERSONIO_SYNC_HTTP_HOST": "127.0.0.1",
            "PERSONIO_SYNC_HTTP_PORT": str(self.port),
            # Tests annotate sync-now right after a run; FAIR-6's spacing has its own test.
            "PERSONIO_SYNC_SYNC_NOW_SPACING_SECONDS": "0",
            "PERSONIO_SYNC_WEBHOOK_PORT": str(self.webhook_port),
            # Webhooks on (HOOK-15): the receiver starts and registers this loopback URL;
            # pass PERSONIO_SYNC_WEBHOOK_BASE_URL="" in `env` for an operator without them.
            "PERSONIO_SYNC_WEBHOOK_BASE_URL": self.webhook_base_url,
            **(env or {}),
        }
        scope = [arg for ns in namespaces for arg in ("--namespace", ns)] or ["--all-namespaces"]
        self.args = [sys.executable, "-m", "personio_sync.cli", "run", *scope]
        self.args += extra_args if extra_args is not None else ["--standalone"]
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def webhook_base_url(self) -> str:
        return f"http://127.0.0.1:{self.webhook_port}/webhooks/personio"

    def webhook_url(self, namespace: str, name: str) -> str:
        """Where Personio delivers events for one resource (issue 9): the URL the operator
        registers, `<base>/<namespace>/<name>` (HOOK-7)."""
        return f"{self.webhook_base_url}/{namespace}/{name}"

    def start(self, timeout: float = 60.0) -> OperatorProcess:
        with self.log_path.open("ab") as out:
            self._popen = subprocess.Popen(
                self.args, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        popen = self._popen

        def healthy() -> bool:
            if popen.poll() is not None:  # not retryable: ends the wait at once
                raise RuntimeError(f"the operator exited early:\n{self.log_tail()}")
            try:
                return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        try:
            eventually(healthy, within=timeout, what="the operator's /healthz")
        except Timeout:
            log = self.log_tail()
            raise RuntimeError(f"the operator did not get healthy in {timeout}s:\n{log}") from None
        return self

    def send_signal(self, signum: int) -> None:
        """For fault tests: SIGKILL (a crash), SIGSTOP and SIGCONT (a frozen process)."""
        assert self._popen is not None, "not started"
        self._popen.send_signal(signum)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as a pod gets; SIGKILL if it does not exit in time."""
        if self._popen is None:
            return 0
        if self._popen.poll() is None:
            self._popen.send_signal(signal.SIGTERM)
            self._popen.send_signal(signal.SIGCONT)  # a stopped process could not act on it
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait()
        code = self._popen.returncode
        self._popen = None
        return code

    def metrics(self) -> str:
        return httpx.get(f"{self.url}/metrics", timeout=5).text

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> OperatorProcess:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class OperatorFleet:
    """Starts operators on demand (a restart is a second start); `stop_all` at the end."""

    def __init__(self, kubeconfig: Path, personio_url: str, awork_url: str, logs: Path) -> None:
        self._kubeconfig, self._logs = kubeconfig, logs
        self._urls = {"personio_url": personio_url, "awork_url": awork_url}
        self.started: list[OperatorProcess] = []

    def start(
        self,
        *namespaces: str,
        env: Mapping[str, str] | None = None,
        extra_args: list[str] | None = None,
    ) -> OperatorProcess:
        op = OperatorProcess(
            self._kubeconfig,
            list(namespaces),
            log_path=self._logs / f"operator-{len(self.started)}.log",
            env=env,
            extra_args=extra_args,
            **self._urls,
        )
        self.started.append(op)
        return op.start()

    def full_logs(self) -> str:
        return "\n".join(op.log_path.read_text(errors="replace") for op in self.started)

    def stop_all(self) -> str:
        """Stops every operator; returns their log tails (print them for a failing test)."""
        tails = []
        for op in self.started:
            op.stop()
            tails.append(f"--- {op.log_path.name}\n{op.log_tail(60)}")
        return "\n".join(tails)


def secret_manifest(namespace: str, values: Mapping[str, str], name: str = "creds") -> str:
    doc = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "stringData": dict(values),
    }
    return yaml.safe_dump(doc)


def sync_manifest(namespace: str, name: str = "team", secret: str = "creds", **spec: Any) -> str:
    doc = {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"secretRef": {"name": secret}, **spec},
    }
    return yaml.safe_dump(doc)


def conditions(body: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (body.get("status") or {}).get("conditions", [])}


def is_ready(body: Mapping[str, Any]) -> bool:
    return conditions(body).get("Ready", {}).get("status") == "True"
