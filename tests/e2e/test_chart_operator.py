"""The chart's RBAC is enough: the operator runs on the chart's own ServiceAccount token.

The local API server runs no pods, so the operator runs as a local process exactly as
the chart's Deployment would start it: the container's args and env read back from the
installed Deployment, and a kubeconfig that holds nothing but a token minted for the
chart's ServiceAccount. Personio and awork are the sandbox fakes, whose URLs are given
to the chart as values (R22). The only deviation from a pod: a second replica needs its
own HTTP port, since local processes share one network namespace.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from personio_sync_testing.devtools.kubectl import CommandError, Helm, Kubectl
from personio_sync_testing.devtools.polling import eventually
from personio_sync_testing.devtools.processes import free_port
from personio_sync_testing.fakes.sandbox import Sandbox
from personio_sync_testing.fakes.seed import demo_seed_path

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "personio-sync"
RELEASE, SA = "ps", "ps-personio-sync"  # release "ps" → full name "ps-personio-sync"
OPERATOR_BIN = Path(sys.executable).parent / "personio-sync"
STARTUP = 150.0  # kopf start-up plus one sync; generous for a loaded 2-core machine
# kopf's optional observation of namespaces and CRDs, which the chart does not grant.
OPTIONAL_FORBIDDEN = ('resource "namespaces"', 'resource "customresourcedefinitions"')


@dataclass(frozen=True)
class Release:
    kubectl: Kubectl
    operator_ns: str
    team_ns: str
    sa_kubeconfig: Path
    container: dict[str, Any]
    http_port: int
    logs: Path

    def status(self) -> dict[str, Any]:
        found: dict[str, Any] = self.kubectl.json("get", "psync", "acme", "-n", self.team_ns)
        return dict(found.get("status") or {})


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(demo_seed_path()) as sb:
        yield sb


@pytest.fixture
def team_ns(namespace: str, kubectl: Kubectl, cluster: Any) -> Iterator[str]:
    """The namespace the operator watches (a second one: the operator lives in its own)."""
    kubectl("create", "namespace", f"{namespace}-team")
    yield f"{namespace}-team"
    if not cluster.local:  # a real cluster finishes the deletion; the local one never would
        kubectl("delete", "namespace", f"{namespace}-team", "--wait=false", check=False)


def install_release(
    kubectl: Kubectl, helm: Helm, kubeconfig: Path, namespace: str, team: str,
    sandbox: Sandbox, tmp_path: Path, *values: str,
) -> Release:  # fmt: skip
    """The chart installed in `namespace` with the sandbox's URLs (R22) and `values`, a
    Secret and a PersonioSync in `team`, and a kubeconfig with the chart's token."""
    port = free_port()
    helm("install", RELEASE, str(CHART), "-n", namespace, "--no-hooks",
         "--set", "operator.logFormat=text",
         "--set", f"operator.personioApiUrl={sandbox.personio_url}",
         "--set", f"operator.aworkApiUrl={sandbox.awork_url}",
         "--set", f"operator.httpPort={port}", *values)  # fmt: skip
    (cred,) = sandbox.personio_state.credentials.values()
    (key,) = sandbox.awork_state.api_keys
    kubectl("create", "secret", "generic", "acme-credentials", "-n", team,
            f"--from-literal=personioClientId={cred.client_id}",
            f"--from-literal=personioClientSecret={cred.client_secret}",
            f"--from-literal=aworkApiKey={key}")  # fmt: skip
    kubectl.apply(PERSONIO_SYNC.format(namespace=team))
    token = kubectl("create", "token", SA, "-n", namespace, "--duration=1h").strip()
    deployment = kubectl.json("get", "deployment", SA, "-n", namespace)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    sa_config = write_token_kubeconfig(kubeconfig, token, tmp_path / "sa-kubeconfig")
    return Release(kubectl, namespace, team, sa_config, container, port, tmp_path)


@pytest.fixture
def release(
    kubectl: Kubectl, helm: Helm, kubeconfig: Path, namespace: str, team_ns: str,
    sandbox: Sandbox, tmp_path: Path,
) -> Iterator[Release]:  # fmt: skip
    """The chart installed for one watched namespace, a Secret and a PersonioSync in it."""
    yield install_release(kubectl, helm, kubeconfig, namespace, team_ns, sandbox, tmp_path,
                          "--set", f"watchNamespaces={{{team_ns}}}")  # fmt: skip
    helm("uninstall", RELEASE, "-n", namespace)


PERSONIO_SYNC = """
apiVersion: personio-sync.dev/v1alpha1
kind: PersonioSync
metadata: {{name: acme, namespace: {namespace}}}
spec: {{secretRef: {{name: acme-credentials}}}}
"""


def write_token_kubeconfig(admin: Path, token: str, path: Path) -> Path:
    """The admin kubeconfig's cluster (server, CA), with the token as the only credential."""
    config = yaml.safe_load(admin.read_text())
    context = next(c for c in config["contexts"] if c["name"] == config["current-context"])
    cluster = next(c for c in config["clusters"] if c["name"] == context["context"]["cluster"])
    ca = cluster["cluster"].get("certificate-authority")
    if ca:
        cluster["cluster"]["certificate-authority"] = str((admin.parent / ca).resolve())
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "clusters": [cluster],
        "users": [{"name": "operator", "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {"cluster": cluster["name"],
                                                      "user": "operator"}}],
        "current-context": "operator",
    }))  # fmt: skip
    path.chmod(0o600)
    return path


def _die_with_parent() -> None:
    """A killed test run must not leave an operator behind (Linux: PR_SET_PDEATHSIG)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL))


@dataclass
class Replica:
    popen: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM, as the kubelet does when a pod is deleted."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


@contextmanager
def replica(release: Release, pod: str, http_port: int | None = None) -> Iterator[Replica]:
    """One operator process, started as the Deployment's container would be."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/nonexistent"),
           "KUBECONFIG": str(release.sa_kubeconfig)}  # fmt: skip
    downward = {"metadata.name": pod, "metadata.namespace": release.operator_ns}
    for var in release.container["env"]:
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            env[var["name"]] = downward[var["valueFrom"]["fieldRef"]["fieldPath"]]
    if http_port is not None:
        env["PERSONIO_SYNC_HTTP_PORT"] = str(http_port)
    env["PERSONIO_SYNC_SYNC_NOW_SPACING_SECONDS"] = "0"  # sync-now at once (FAIR-6 has a test)
    env["PERSONIO_SYNC_WEBHOOK_PORT"] = "0"  # replicas share a host here, not a pod network
    log_path = release.logs / f"{pod}.log"
    with log_path.open("wb") as out:
        popen = subprocess.Popen(
            [str(OPERATOR_BIN), *release.container["args"]],
            env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )  # fmt: skip
    proc = Replica(popen, log_path)
    try:
        yield proc
    finally:
        proc.stop()
        lines = [ln for ln in proc.log().splitlines() if "Request attempt" not in ln]
        print(f"--- {pod} log (last lines, retries left out) ---", *lines[-25:], sep="\n")


def synced(release: Release, after: str = "") -> dict[str, Any]:
    status = release.status()
    assert status.get("lastSuccessfulSyncTime", "") > after, status.get("message")
    return status


def resynced(release: Release, before: dict[str, Any]) -> dict[str, Any]:
    """A later run than `before`: a new sync time, or the same second with other counts."""
    status = release.status()
    last, earlier = status.get("lastSuccessfulSyncTime", ""), before["lastSuccessfulSyncTime"]
    assert last > earlier or (last == earlier and status["lastRun"] != before["lastRun"]), (
        status.get("message")
    )
    return status


def healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def lease_holder(release: Release) -> str:
    """The pod holding the leader Lease (holderIdentity starts with POD_ID); "" if none."""
    lease_name = release.container["args"][1].removeprefix("--peering=")
    found = release.kubectl.json("get", "lease", lease_name, "-n", release.operator_ns)
    return str((found.get("spec") or {}).get("holderIdentity") or "").split("/")[0]


def owned_period_ids(sandbox: Sandbox) -> list[str]:
    """Personio period ids of the awork absences the operator wrote (R11 marker)."""
    markers = [a.externalProvider for a in sandbox.awork_state.absences.values()]
    return sorted(m.rsplit(":", 1)[-1] for m in markers if m and m.startswith("personio-sync:"))


def unexpected_forbidden(log: str) -> list[str]:
    lines = [ln for ln in log.splitlines() if "forbidden" in ln.lower()]
    return [ln for ln in lines if not any(ok in ln for ok in OPTIONAL_FORBIDDEN)]


def test_operator_with_the_charts_token_syncs(release: Release, sandbox: Sandbox) -> None:
    with replica(release, "pod-a") as pod:
        status = eventually(lambda: synced(release), within=STARTUP, what="first sync")
        ready = {c["type"]: c["status"] for c in status["conditions"]}
        assert ready["Synced"] == "True", status["conditions"]
        assert status["users"]["matched"] > 0
        assert len(owned_period_ids(sandbox)) == status["lastRun"]["created"] > 0
        # Events are posted with the chart's permissions too.
        events = release.kubectl.json("get", "events", "-n", release.team_ns,
                                      "--field-selector", "involvedObject.name=acme")  # fmt: skip
        assert events["items"], "no Event on the PersonioSync"
        # The probes' target answers, on the port the chart configured.
        base = f"http://127.0.0.1:{release.http_port}"
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        assert httpx.get(f"{base}/metrics", timeout=5).status_code == 200
        assert not unexpected_forbidden(pod.log())


def test_d_lease_two_replicas_one_active_the_other_takes_over(
    release: Release, sandbox: Sandbox
) -> None:
    """HA with the chart's token (its Lease RBAC): the newer replica stands by; when the
    active one stops, it takes the Lease over and syncs."""
    with replica(release, "pod-a") as active:
        first = eventually(lambda: synced(release), within=STARTUP, what="first sync")
        assert lease_holder(release) == "pod-a"
        port_b = free_port()
        with replica(release, "pod-b", http_port=port_b) as standby:
            eventually(lambda: healthy(port_b), within=STARTUP, what="pod-b up")
            assert lease_holder(release) == "pod-a"
            active.stop()
            eventually(lambda: lease_holder(release) == "pod-b", within=90, what="pod-b leading")

            # A change in Personio, synced on demand: only pod-b is left to do it.
            gone = owned_period_ids(sandbox)[0]
            sandbox.personio_state.reject(gone)
            release.kubectl("annotate", "psync", "acme", "-n", release.team_ns,
                            f"personio-sync.dev/sync-now={time.time()}", "--overwrite")  # fmt: skip
            # Timestamps have whole seconds, so pod-b's run is told apart by its effect.
            after = eventually(lambda: resynced(release, first), within=90, what="a sync by pod-b")
            assert after["lastRun"]["deleted"] == 1
            assert gone not in owned_period_ids(sandbox)
        assert active.popen.returncode is not None
        assert not unexpected_forbidden(active.log() + standby.log())


def test_sec_2_the_charts_token_gets_the_named_secret_but_cannot_list_or_watch_secrets(
    release: Release,
) -> None:
    """Least privilege, asked of the API server with the token itself (no impersonation)."""
    token = Kubectl(release.sa_kubeconfig)
    token("get", "secret", "acme-credentials", "-n", release.team_ns)  # what a run reads
    for listing in (["get", "secrets"], ["get", "secrets", "--watch", "--request-timeout=5s"]):
        with pytest.raises(CommandError) as err:
            token(*listing, "-n", release.team_ns)
        assert "forbidden" in err.value.stderr.lower(), listing
    for verb in ("list", "watch"):
        for scope in (["-n", release.team_ns], ["--all-namespaces"]):
            answer = token("auth", "can-i", verb, "secrets", *scope, check=False)
            assert answer.strip() == "no", (verb, scope)
