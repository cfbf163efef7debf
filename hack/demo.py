"""`make demo`: the operator end to end on a local kube-apiserver, against fake Personio and awork.

Starts (or reuses) the control plane, serves the demo company from the sandbox,
installs the CRD, applies examples/, runs the operator, waits for the first sync
and prints what an admin would look at. `--keep` leaves everything running;
`--stop` stops what a kept demo left behind.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

from personio_sync_testing.devtools.controlplane import down, up
from personio_sync_testing.devtools.kubectl import Kubectl
from personio_sync_testing.devtools.processes import free_ports
from personio_sync_testing.fakes.sandbox import spawn_sandbox

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".demo"
CLUSTER_DIR = STATE / "cluster"
PIDS = STATE / "pids.json"
NAMESPACE, NAME = "hr", "acme"  # examples/personiosync.yaml's


class Ports(NamedTuple):
    """The operator's two ports, both free ones (UX-11)."""

    http: int  # /healthz and /metrics
    webhooks: int  # the Personio webhook receiver

    @classmethod
    def free(cls) -> Ports:
        return cls(*free_ports(2))


def tagged(text: str) -> str:
    return f"[demo] {text}"


def say(text: str) -> None:
    print(tagged(text), flush=True)


def start_sandbox() -> tuple[subprocess.Popen[str], str, str]:
    """The fake APIs in their own process, so they outlive this script with --keep."""
    log = (STATE / "sandbox.log").open("w")
    banner = (STATE / "sandbox-banner.txt").open("w")
    try:
        return spawn_sandbox(stderr=log, banner=banner, new_session=True, timeout=60)
    except RuntimeError:
        raise SystemExit("[demo] the sandbox did not start; see .demo/sandbox.log") from None


def operator_command() -> list[str]:
    return [sys.executable, "-m", "personio_sync.cli", "run", "--namespace", NAMESPACE]


def operator_env(kubeconfig: Path, personio: str, awork: str, ports: Ports) -> dict[str, str]:
    return {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "PERSONIO_API_URL": personio,
        "AWORK_API_URL": awork,
        # Free ports on the loopback address: 8080 and 8081 may be taken on a workstation.
        "PERSONIO_SYNC_HTTP_HOST": "127.0.0.1",
        "PERSONIO_SYNC_HTTP_PORT": str(ports.http),
        "PERSONIO_SYNC_WEBHOOK_PORT": str(ports.webhooks),
        # The receiver runs only with a base URL (HOOK-15); the loopback address may be http.
        "PERSONIO_SYNC_WEBHOOK_BASE_URL": f"http://127.0.0.1:{ports.webhooks}/webhooks/personio",
    }


def start_operator(
    kubeconfig: Path, personio: str, awork: str, ports: Ports
) -> subprocess.Popen[bytes]:
    log = (STATE / "operator.log").open("w")
    return subprocess.Popen(
        operator_command(),
        env=operator_env(kubeconfig, personio, awork, ports),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_for_first_sync(kubectl: Kubectl, operator: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if operator.poll() is not None:
            raise SystemExit("[demo] the operator exited; see .demo/operator.log")
        resource = json.loads(kubectl("get", "psync", NAME, "-n", NAMESPACE, "-o", "json"))
        status = resource.get("status") or {}
        if status.get("lastSyncTime"):
            return resource
        time.sleep(1)
    raise SystemExit("[demo] no sync within 180 s; see .demo/operator.log")


def show_awork(awork: str) -> None:
    import httpx

    state = httpx.get(awork.removesuffix("/api/v1") + "/_admin/state", timeout=10).json()
    names = {u["id"]: f"{u.get('firstName', '')} {u.get('lastName', '')}" for u in state["users"]}
    say("awork now holds (fake awork's state):")
    for absence in sorted(state["absences"], key=lambda a: (a["userId"], a["startOn"])):
        who = names.get(absence["userId"], absence["userId"])
        owner = "synced" if absence.get("externalProvider") else "hand-made"
        print(
            f"  {who:<16} {absence['startOn']} .. {absence['endOn']}  "
            f"{absence.get('description') or '':<16} ({owner})"
        )


def stop_command() -> str:
    """What stops a kept demo, pasteable from any directory (absolute paths, this venv)."""
    return shlex.join([sys.executable, str(Path(__file__).resolve()), "--stop"])


def serving_note() -> str:
    """What the operator watches, said before anyone wonders why a PersonioSync elsewhere
    gets no status (UX-10)."""
    command = shlex.join(["personio-sync", *operator_command()[3:]])
    return (
        f"the operator serves namespace {NAMESPACE} only ({command}): a PersonioSync in "
        "another namespace gets no status and no Event"
    )


def kept_banner(kubeconfig: Path, server: str) -> list[str]:
    """What a kept demo prints: notes tagged [demo], and commands untagged, so they work
    pasted as printed, from any directory (UX-13)."""
    venv_bin = Path(sys.executable).parent
    return [
        tagged(f"left running (API server {server}); {serving_note()}"),
        tagged("to look at it from any shell, paste:"),
        f"export KUBECONFIG={shlex.quote(str(kubeconfig))} "
        f'PATH="{venv_bin}:$PATH"  # kubectl from the virtualenv',
        f"kubectl -n {NAMESPACE} get psync",
        f"kubectl -n {NAMESPACE} describe psync {NAME}",
        f"kubectl -n {NAMESPACE} annotate psync {NAME} "
        'personio-sync.dev/sync-now="$(date +%s)" --overwrite  # sync again now',
        tagged(f"operator log: {STATE / 'operator.log'}; stop with: {stop_command()}"),
    ]


def stop_kept() -> None:
    if PIDS.exists():
        for pid in json.loads(PIDS.read_text()).values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
        PIDS.unlink()
    down(CLUSTER_DIR)
    say("stopped")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", action="store_true", help="leave everything running")
    parser.add_argument("--stop", action="store_true", help="stop a kept demo")
    args = parser.parse_args()
    if args.stop:
        stop_kept()
        return 0
    if PIDS.exists():
        stop_kept()  # a previous kept demo: start clean
    STATE.mkdir(exist_ok=True)
    say("starting kube-apiserver and etcd on 127.0.0.1 (binaries from ~/.cache/personio-sync)")
    kubeconfig, server = up(CLUSTER_DIR)
    kubectl = Kubectl(kubeconfig)
    sandbox = operator = None
    try:
        sandbox, personio, awork = start_sandbox()
        say(f"fake Personio at {personio}, fake awork at {awork} (demo company)")
        kubectl("apply", "-f", str(ROOT / "crds" / "personiosync.yaml"))
        kubectl("wait", "--for=condition=Established", "crd/personiosyncs.personio-sync.dev")
        namespace = f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NAMESPACE}\n"
        kubectl("apply", "-f", "-", input=namespace)
        kubectl("apply", "-f", str(ROOT / "examples" / "secret.yaml"))
        kubectl("apply", "-f", str(ROOT / "examples" / "personiosync.yaml"))
        say("applied examples/secret.yaml and examples/personiosync.yaml; starting the operator")
        ports = Ports.free()
        operator = start_operator(kubeconfig, personio, awork, ports)
        say(serving_note())
        say(
            f"operator /healthz and /metrics at http://127.0.0.1:{ports.http}, Personio "
            f"webhooks at http://127.0.0.1:{ports.webhooks}/webhooks/personio/{NAMESPACE}/{NAME}"
        )
        wait_for_first_sync(kubectl, operator)
        say("first sync done\n")
        print(kubectl("get", "psync", "-n", NAMESPACE))
        print(kubectl("describe", "psync", NAME, "-n", NAMESPACE))
        show_awork(awork)
        if args.keep:
            PIDS.write_text(json.dumps({"sandbox": sandbox.pid, "operator": operator.pid}))
            print("\n".join(kept_banner(kubeconfig, server)), flush=True)
            return 0
    finally:
        if not args.keep:
            for proc in (operator, sandbox):
                if proc is not None and proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=30)
            down(CLUSTER_DIR)
    say("done; everything stopped (make demo KEEP=1 leaves it running)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
