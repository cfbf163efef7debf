"""A real Kubernetes API server on 127.0.0.1: etcd + kube-apiserver as two local processes.

No container engine exists on our machines, so kind/k3d/minikube are out; what
controller-runtime calls envtest is not: a genuine API server (CRD validation, status
subresource, RBAC, watches, events) without kubelet, scheduler or controllers.

    with LocalControlPlane() as cp:        # builds the binaries on first use (minutes)
        Kubectl(cp.kubeconfig)("get", "ns")

    python -m personio_sync_testing.devtools.controlplane up     # prints `export KUBECONFIG=…`
    python -m personio_sync_testing.devtools.controlplane down
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

from lightkube.config.kubeconfig import SingleConfig

from personio_sync_testing.devtools.binaries import binaries_dir
from personio_sync_testing.devtools.kube import kube_config
from personio_sync_testing.devtools.kubectl import Helm, Kubectl
from personio_sync_testing.devtools.processes import (
    ControlPlaneError,
    Process,
    free_port,
    log,
    stop_pid,
    wait_until,
)

Part = Literal["etcd", "kube-apiserver"]
CONTEXT = "personio-sync-envtest"  # "envtest" marks it as a test cluster for the e2e guard
ADMIN = "admin"
DEFAULT_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / (
    "personio-sync/cluster"
)
STARTUP_ATTEMPTS = 3  # a free port can be taken by someone else before we bind it


class LocalControlPlane:
    """etcd + kube-apiserver in a temporary directory, an admin kubeconfig, clean stop.

    `detach=True` starts both in their own session and leaves them running after this
    Python process exits (the `up` command); otherwise they die with their parent.
    """

    def __init__(
        self,
        bin_dir: Path | None = None,
        workdir: Path | None = None,
        *,
        ready_timeout: float = 90.0,
        detach: bool = False,
    ) -> None:
        self._bin_dir = bin_dir
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="personio-sync-cp-"))
        self.ready_timeout = ready_timeout
        self.detach = detach
        self.kubeconfig = self.workdir / "kubeconfig"
        self.server = ""
        self._token = secrets.token_hex(24)
        self._etcd: Process | None = None
        self._apiserver: Process | None = None
        self._etcd_url = ""
        self._stopped: dict[str, list[str]] = {}  # what stop_part stopped, with its arguments

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> LocalControlPlane:
        started = time.monotonic()
        bin_dir = self._bin_dir or binaries_dir()
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._write_auth_files()
            etcd_url = self._start_etcd(bin_dir / "etcd")
            self._start_apiserver(bin_dir / "kube-apiserver", etcd_url)
            self._write_kubeconfig()
            self._write_state()
        except BaseException:
            self.stop()
            raise
        took = time.monotonic() - started
        log(f"API server ready at {self.server} in {took:.1f}s; KUBECONFIG={self.kubeconfig}")
        return self

    def stop(self) -> None:
        """Terminate (then kill) the API server, then etcd; remove the working directory."""
        for proc in (self._apiserver, self._etcd):
            if proc:
                proc.stop()
        self._apiserver = self._etcd = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> LocalControlPlane:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what callers use ----------------------------------------------------------

    def config(self) -> SingleConfig:
        """What lightkube's clients take (personio_sync_testing.devtools.kube)."""
        return kube_config(self.kubeconfig)

    def kubectl(self) -> Kubectl:
        return Kubectl(self.kubeconfig)

    def helm(self) -> Helm:
        return Helm(self.kubeconfig, (self._bin_dir or binaries_dir()) / "helm")

    # -- internals -------------------------------------------------------------------

    def _write_auth_files(self) -> None:
        key = self.workdir / "sa.key"
        subprocess.run(
            ["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True
        )
        tokens = self.workdir / "tokens.csv"
        tokens.write_text(f'{self._token},{ADMIN},{ADMIN},"system:masters"\n')
        for path in (key, tokens):
            path.chmod(0o600)

    def _start_etcd(self, binary: Path) -> str:
        for attempt in range(1, STARTUP_ATTEMPTS + 1):
            client, peer = free_port(), free_port()
            url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
            data = self.workdir / "etcd-data"
            shutil.rmtree(data, ignore_errors=True)
            self._etcd = Process.start(
                "etcd",
                [str(binary), "--name=default", f"--data-dir={data}",
                 f"--listen-client-urls={url}", f"--advertise-client-urls={url}",
                 f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
                 f"--initial-cluster=default={peer_url}", "--unsafe-no-fsync",
                 "--log-level=warn"],
                self.workdir / "etcd.log",
                detach=self.detach,
            )  # fmt: skip
            if wait_until(self._etcd, f"{url}/health", deadline=30.0, attempt=attempt):
                self._etcd_url = url
                return url
        raise ControlPlaneError(f"etcd did not start after {STARTUP_ATTEMPTS} attempts")

    def _start_apiserver(self, binary: Path, etcd_url: str) -> None:
        certs = self.workdir / "certs"
        for attempt in range(1, STARTUP_ATTEMPTS + 1):
            port = free_port()
            self.server = f"https://127.0.0.1:{port}"
            self._apiserver = Process.start(
                "kube-apiserver",
                [str(binary), f"--etcd-servers={etcd_url}", f"--cert-dir={certs}",
                 f"--secure-port={port}", "--bind-address=127.0.0.1",
                 "--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
                 "--service-cluster-ip-range=10.0.0.0/24",
                 "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                 f"--service-account-key-file={self.workdir / 'sa.key'}",
                 f"--service-account-signing-key-file={self.workdir / 'sa.key'}",
                 "--authorization-mode=RBAC", "--allow-privileged=true",
                 f"--token-auth-file={self.workdir / 'tokens.csv'}"],
                self.workdir / "kube-apiserver.log",
                detach=self.detach,
            )  # fmt: skip
            ready = wait_until(
                self._apiserver,
                f"{self.server}/readyz",
                deadline=self.ready_timeout,
                attempt=attempt,
                token=self._token,
                ca_file=certs / "apiserver.crt",
            )
            if ready:
                return
        raise ControlPlaneError(f"kube-apiserver did not start after {STARTUP_ATTEMPTS} attempts")

    # -- outages on purpose (tests of the operator's behaviour while Kubernetes is away) -------

    def stop_part(self, name: Part) -> None:
        """Stop only etcd or only the API server; `restart_part` brings it back as it was."""
        proc = self._etcd if name == "etcd" else self._apiserver
        if proc is None:
            raise ControlPlaneError(f"{name} is not running")
        self._stopped[name] = [str(arg) for arg in proc.popen.args]  # type: ignore[union-attr]
        proc.stop()

    def restart_part(self, name: Part) -> None:
        """Start it again with the same arguments: same port, same data dir, same certs."""
        args = self._stopped.pop(name)
        proc = Process.start(name, args, self.workdir / f"{name}.log", detach=self.detach)
        if name == "etcd":
            self._etcd = proc
            url, token, ca_file = f"{self._etcd_url}/health", None, None
        else:
            self._apiserver = proc
            url, token = f"{self.server}/readyz", self._token
            ca_file = self.workdir / "certs" / "apiserver.crt"
        if not wait_until(proc, url, deadline=self.ready_timeout, attempt=1, token=token,
                          ca_file=ca_file):  # fmt: skip
            raise ControlPlaneError(f"{name} could not take its old port again")
        self._write_state()

    def _write_kubeconfig(self) -> None:
        # The serving cert the API server generated holds its CA too: verify TLS for real.
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": CONTEXT, "cluster": {
                "server": self.server,
                "certificate-authority": str(self.workdir / "certs" / "apiserver.crt")}}],
            "users": [{"name": ADMIN, "user": {"token": self._token}}],
            "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": ADMIN}}],
            "current-context": CONTEXT,
        }  # fmt: skip
        self.kubeconfig.write_text(json.dumps(config, indent=2))
        self.kubeconfig.chmod(0o600)

    def _write_state(self) -> None:
        pids = {p.name: p.pid for p in (self._etcd, self._apiserver) if p}
        state = {"server": self.server, "kubeconfig": str(self.kubeconfig), "pids": pids}
        (self.workdir / "state.json").write_text(json.dumps(state, indent=2))


# -- functions for hack/demo.py and the CLI ---------------------------------------------


def start(workdir: Path | None = None, *, detach: bool = False) -> LocalControlPlane:
    """Start a control plane; `.kubeconfig` and `.server` say how to reach it."""
    return LocalControlPlane(workdir=workdir, detach=detach).start()


def stop(control_plane: LocalControlPlane) -> None:
    control_plane.stop()


def up(workdir: Path = DEFAULT_DIR) -> tuple[Path, str]:
    """Start a detached control plane in `workdir` (or reuse a running one there)."""
    state = _read_state(workdir)
    if state and all(_alive(pid) for pid in state.pids.values()):
        return state.kubeconfig, state.server
    down(workdir)
    cp = start(workdir, detach=True)
    return cp.kubeconfig, cp.server


def down_command(workdir: Path = DEFAULT_DIR) -> str:
    """The shell command that stops `up` in `workdir`, pasteable from any directory:
    this interpreter (the virtualenv's) by absolute path, the directory if not default."""
    where = [] if workdir == DEFAULT_DIR else ["--dir", str(workdir.resolve())]
    return shlex.join(
        [sys.executable, "-m", "personio_sync_testing.devtools.controlplane", "down", *where]
    )


def down(workdir: Path = DEFAULT_DIR) -> None:
    """Stop what `up` started in `workdir` and remove it."""
    state = _read_state(workdir)
    if state:
        for name in ("kube-apiserver", "etcd"):
            if name in state.pids:
                stop_pid(state.pids[name], name)
    shutil.rmtree(workdir, ignore_errors=True)


@dataclass(frozen=True)
class _State:
    server: str
    kubeconfig: Path
    pids: dict[str, int]


def _read_state(workdir: Path) -> _State | None:
    try:
        raw = json.loads((workdir / "state.json").read_text())
        pids = {str(k): int(v) for k, v in raw["pids"].items()}
        return _State(str(raw["server"]), Path(raw["kubeconfig"]), pids)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m personio_sync_testing.devtools.controlplane")
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="working directory")
    args = parser.parse_args(argv)
    if args.command == "down":
        down(args.dir)
        log(f"stopped; removed {args.dir}")
        return 0
    try:
        kubeconfig, server = up(args.dir)
    except ControlPlaneError as exc:
        log(str(exc))
        return 1
    log(f"running at {server}; stop it with: {down_command(args.dir)}")
    print(f"export KUBECONFIG={kubeconfig}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
