"""The operator image, built from the Dockerfile and run the way the chart runs it.

The Deployment comes from `helm template` of the chart (with the release's values), and
is run by podman as a kubelet would run it (chart_pod.py): the chart's args, env, UID and
GID, read-only root, no capabilities, no privilege escalation, its writable mounts only.
In-cluster configuration is real: a TokenRequest token for the chart's ServiceAccount and
the API server's CA are mounted where a pod finds them, and KUBERNETES_SERVICE_HOST/PORT
point at the local API server. The vendor URLs are chart values pointing at the fakes.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from chart_pod import PODMAN, SA_DIR, ChartPod, inspect, podman
from packaging.markers import Marker

from personio_sync import __version__
from personio_sync_testing.devtools.kubectl import Helm, Kubectl
from personio_sync_testing.devtools.polling import eventually
from personio_sync_testing.devtools.processes import free_port
from personio_sync_testing.fakes.sandbox import Sandbox
from personio_sync_testing.fakes.seed import demo_seed_path

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "personio-sync"
RUNTIME_LOCK = ROOT / "requirements-runtime.lock"
RELEASE, SA = "ps", "ps-personio-sync"  # release "ps" → full name "ps-personio-sync"
BUDGET_MB = 150  # what the image may add on top of its base
STARTUP = 150.0  # kopf start-up plus one sync; generous for a loaded 2-core machine
# Files every container runtime bind-mounts (a kubelet too): they show as a changed /etc.
RUNTIME_FILES = ("/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/run/.containerenv")
COMPILERS = ("pip", "pip3", "gcc", "cc", "c++", "g++", "clang", "make")
LIST_PACKAGES = """import importlib.metadata as m
print("\\n".join(sorted(f"{d.name}=={d.version}" for d in m.distributions())))"""
MISSING = "import importlib.util as u; print(u.find_spec({!r}) is None)"
PERSONIO_SYNC = """
apiVersion: personio-sync.dev/v1alpha1
kind: PersonioSync
metadata: {{name: acme, namespace: {namespace}}}
spec: {{secretRef: {{name: acme-credentials}}}}
"""


def run_in_image(image: str, *command: str) -> str:
    """A one-off command in the image, as the image's own user, with nothing mounted."""
    entry, *rest = command
    return podman("run", "--rm", "--runtime", "runc", "--network", "none", "--ulimit",
                  "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--read-only",
                  "--entrypoint", entry, image, *rest)  # fmt: skip


def locked_packages() -> dict[str, str]:
    """The lock's pins for this platform (a pin whose marker names another, such as
    emscripten, is not installed: the image runs CPython 3.11 on Linux, as the tests do)."""
    pins = re.findall(
        r"^([A-Za-z0-9._-]+)==([^\s;]+)(?: ; ([^\\\n]+?))?\s*\\?$", RUNTIME_LOCK.read_text(), re.M
    )
    return {
        normalize(name): version
        for name, version, marker in pins
        if not marker or Marker(marker).evaluate()
    }


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_image_is_small_locked_and_has_nothing_to_build_with(
    image: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exactly the runtime lock plus the package; no pip, no compiler; within budget.

    Size, layers and packages are printed past pytest's capture: `make test` shows them."""
    size = int(inspect("image", image)["Size"])
    history = podman("image", "history", "--format", "{{.Size}}\t{{.CreatedBy}}", image)
    base_image = base_of(image)
    base_size = int(inspect("image", base_image)["Size"])
    listing = run_in_image(image, "python3", "-c", LIST_PACKAGES)
    with capsys.disabled():
        print(f"\nimage {image}: {size / 1e6:.1f} MB, base {base_image}: {base_size / 1e6:.1f} MB, "
              f"added {(size - base_size) / 1e6:.1f} MB (budget {BUDGET_MB} MB)\n"
              f"layers:\n{history}installed packages: {', '.join(listing.split())}")  # fmt: skip
    assert size - base_size <= BUDGET_MB * 1_000_000
    installed = dict(line.split("==") for line in listing.split())
    assert {normalize(n): v for n, v in installed.items()} == {
        **locked_packages(),
        "personio-sync": __version__,
    }
    found = run_in_image(image, "sh", "-c", f"command -v {' '.join(COMPILERS)}; true")
    assert found.strip() == "", f"tools to install or compile with: {found}"
    # Neither pip nor the repository's tests/ nor the test distribution (fakes, dev tools,
    # harness: testing/) can be imported in the image, and no command comes with them.
    for absent in ("pip", "tests", "personio_sync_testing", "personio_sync.fakes"):
        assert run_in_image(image, "python3", "-c", MISSING.format(absent)).strip() == "True"
    commands = run_in_image(image, "personio-sync", "--help")
    assert "{sync,run}" in commands  # argparse lists every subcommand: no sandbox


def base_of(image: str) -> str:
    """The base the image was built on: the local image with the fewest layers that begin
    the image's, tagged if one is (a base pulled by digest, as on CI, has no tag; a
    metadata-only build step has the base's layers too)."""
    layers = inspect("image", image)["RootFS"]["Layers"]
    prefixes = []
    for image_id in set(podman("images", "--all", "--quiet", "--no-trunc").split()):
        found = inspect("image", image_id)
        below, tags = found["RootFS"]["Layers"], found.get("RepoTags") or []
        if below and len(below) < len(layers) and below == layers[: len(below)]:
            prefixes.append((len(below), not tags, tags[:1] or [image_id]))
    assert prefixes, f"no local base image found for {image}"
    return str(min(prefixes)[2][0])


def test_version(image: str) -> None:
    out = podman("run", "--rm", "--runtime", "runc", "--network", "none", "--ulimit",
                 "nofile=1024:1024", "--ulimit", "nproc=1024:1024", image, "--version")  # fmt: skip
    assert out.strip() == f"personio-sync {__version__}"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(demo_seed_path()) as sb:
        yield sb


@dataclass(frozen=True)
class Release:
    kubectl: Kubectl
    operator_ns: str
    team_ns: str
    pod: ChartPod
    sa_dir: Path
    test_pod: ChartPod  # the `helm test` hook

    def status(self) -> dict[str, Any]:
        found: dict[str, Any] = self.kubectl.json("get", "psync", "acme", "-n", self.team_ns)
        return dict(found.get("status") or {})


@pytest.fixture
def release(kubectl: Kubectl, helm: Helm, namespace: str, sandbox: Sandbox, image: str,
            cluster: Any, tmp_path: Path) -> Iterator[Release]:  # fmt: skip
    """The chart installed (ServiceAccount, RBAC, peering) and rendered with the same values."""
    team = f"{namespace}-team"
    kubectl("create", "namespace", team)
    repository, _, tag = image.rpartition(":")
    port = free_port()  # host network: a free port; the Service's too (see hosts())
    values = ["--set", f"watchNamespaces={{{team}}}",
              "--set", f"operator.personioApiUrl={sandbox.personio_url}",
              "--set", f"operator.aworkApiUrl={sandbox.awork_url}",
              "--set", f"operator.httpPort={port}", "--set", f"metrics.service.port={port}",
              "--set", f"image.repository={repository}", "--set", f"image.tag={tag}"]  # fmt: skip
    server = kubectl.json("version")["serverVersion"]["gitVersion"]
    template = helm("template", RELEASE, str(CHART), "-n", namespace, "--kube-version", server,
                    *values)  # fmt: skip
    rendered = [d for d in yaml.safe_load_all(template) if d]
    (deployment,) = [d for d in rendered if d["kind"] == "Deployment"]
    (test_pod,) = [d for d in rendered if d["kind"] == "Pod"]
    helm("install", RELEASE, str(CHART), "-n", namespace, "--no-hooks", *values)
    (cred,) = sandbox.personio_state.credentials.values()
    (key,) = sandbox.awork_state.api_keys
    kubectl("create", "secret", "generic", "acme-credentials", "-n", team,
            f"--from-literal=personioClientId={cred.client_id}",
            f"--from-literal=personioClientSecret={cred.client_secret}",
            f"--from-literal=aworkApiKey={key}")  # fmt: skip
    kubectl.apply(PERSONIO_SYNC.format(namespace=team))
    sa_dir = service_account_files(kubectl, cluster, namespace, tmp_path / "serviceaccount")
    yield Release(kubectl, namespace, team, ChartPod(deployment), sa_dir, ChartPod(test_pod))
    helm("uninstall", RELEASE, "-n", namespace)


def cluster_ca(kube_cluster: Any, workdir: Path) -> str:
    """The API server's CA as the kubeconfig gives it: a file, or inline base64 data."""
    if kube_cluster.certificate_auth_data:
        return base64.b64decode(kube_cluster.certificate_auth_data).decode()
    if kube_cluster.certificate_auth:
        return Path(kube_cluster.certificate_auth).read_text()
    pytest.skip("the cluster's kubeconfig names no CA to mount")


def service_account_files(kubectl: Kubectl, cluster: Any, namespace: str, path: Path) -> Path:
    """What the kubelet mounts for the pod: a TokenRequest token, the CA, the namespace."""
    path.mkdir()
    ca = cluster_ca(cluster.config.cluster, path.parent)
    token = kubectl("create", "token", SA, "-n", namespace, "--duration=1h").strip()
    for name, content in (("token", token), ("ca.crt", ca),
                          ("namespace", namespace)):  # fmt: skip
        (path / name).write_text(content)
        (path / name).chmod(0o644)  # the kubelet's default mode; the container is not root
    path.chmod(0o755)
    return path


@dataclass
class Container:
    name: str
    grace: int

    def logs(self) -> str:
        """Both streams, interleaved as written (`podman logs` splits them again)."""
        command = [*PODMAN, "logs", self.name]
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, check=False, timeout=60)  # fmt: skip
        return result.stdout

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = inspect("container", self.name)["State"]
        return state


@pytest.fixture
def container(release: Release, cluster: Any) -> Iterator[Container]:
    server = urlsplit(cluster.config.cluster.server)
    name = f"personio-sync-{secrets.token_hex(4)}"
    args = release.pod.run_args(name=name, pod=f"{SA}-{secrets.token_hex(3)}",
                                namespace=release.operator_ns, sa_dir=release.sa_dir,
                                api_server=(server.hostname or "", server.port or 443))  # fmt: skip
    print("podman", *args)
    podman(*args)
    running = Container(name, release.pod.grace_period)
    yield running
    lines = [ln for ln in running.logs().splitlines() if "Request attempt" not in ln]
    print("--- container log (last lines) ---", *lines[-30:], sep="\n")
    podman("rm", "--force", "--time", "0", name, check=False)


def synced(release: Release, container: Container) -> dict[str, Any]:
    if not container.state()["Running"]:
        pytest.fail(f"the container stopped:\n{container.logs()[-3000:]}")
    status = release.status()
    assert status.get("lastSuccessfulSyncTime"), status.get("message")
    return status


def test_the_image_runs_as_the_chart_runs_it(release: Release, container: Container,
                                             sandbox: Sandbox) -> None:  # fmt: skip
    """In-cluster config, the chart's security context, probes, metrics, no writes, SIGTERM."""
    status = eventually(lambda: synced(release, container), within=STARTUP, what="first sync")
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["Synced"] == "True", status["conditions"]
    assert status["users"]["matched"] > 0
    owned = [a for a in sandbox.awork_state.absences.values()
             if (a.externalProvider or "").startswith("personio-sync:")]  # fmt: skip
    assert len(owned) == status["lastRun"]["created"] > 0
    events = release.kubectl.json("get", "events", "-n", release.team_ns,
                                  "--field-selector", "involvedObject.name=acme")  # fmt: skip
    assert events["items"], "no Event on the PersonioSync"
    sources = {(e["source"].get("component"), e.get("reportingComponent")) for e in events["items"]}
    assert sources == {("personio-sync", "personio-sync")}, "R20: events come from personio-sync"

    # The process is who the chart says, with nothing it could escalate to.
    uid, gid = release.pod.user()
    status_file = podman("exec", container.name, "cat", "/proc/1/status")
    assert re.search(rf"^Uid:\s+{uid}\s+{uid}\s+{uid}\s+{uid}$", status_file, re.M)
    assert re.search(rf"^Gid:\s+{gid}\s", status_file, re.M)
    assert re.search(r"^CapEff:\s+0+$", status_file, re.M)
    assert re.search(r"^NoNewPrivs:\s+1$", status_file, re.M)

    # Every probe the chart declares answers, on the port it names; so does /metrics.
    for kind, (port, path) in release.pod.probe_paths().items():
        assert httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5).status_code == 200, kind
    metrics = httpx.get(f"http://127.0.0.1:{release.pod.port('http')}/metrics", timeout=5)
    assert metrics.status_code == 200 and "personio_sync" in metrics.text

    # Nothing was written outside the chart's mounts: the root filesystem is read-only,
    # and the container's layer holds only the mount points the runtime made for it.
    diff = json.loads(podman("diff", "--format", "json", container.name))
    written = {path for paths in diff.values() for path in paths}
    mounts = [m["Destination"] for m in inspect("container", container.name)["Mounts"]]
    assert written <= mount_points([*mounts, SA_DIR, *RUNTIME_FILES]), diff

    # SIGTERM (what `podman stop` sends first) ends it before the grace period is up;
    # podman's SIGKILL at the deadline would show as exit code 137.
    podman("stop", "--time", str(container.grace), container.name,
           timeout=container.grace + 30)  # fmt: skip
    assert container.state()["ExitCode"] == 0, container.logs()[-2000:]


def run_helm_test(release: Release, cluster: Any, **env: str) -> tuple[int, str]:
    """The chart's `helm test` Pod, run as a kubelet would: exit code and log. The
    cluster's DNS is emulated by one /etc/hosts entry: the metrics Service's name points
    at the operator's host-network port (the Service's port is the container's here)."""
    server = urlsplit(cluster.config.cluster.server)
    name = f"personio-sync-test-{secrets.token_hex(4)}"
    service = f"{RELEASE}-personio-sync-metrics.{release.operator_ns}.svc"
    args = release.test_pod.run_args(name=name, pod=name, namespace=release.operator_ns,
                                     sa_dir=release.sa_dir,
                                     api_server=(server.hostname or "", server.port or 443),
                                     hosts={service: "127.0.0.1"})  # fmt: skip
    image_at = args.index(release.test_pod.container["image"])
    args[image_at:image_at] = [arg for key, value in env.items()
                               for arg in ("--env", f"{key}={value}")]  # fmt: skip
    try:
        podman(*args)
        code = int(podman("wait", name, timeout=180).strip())
        return code, Container(name, 0).logs()
    finally:
        podman("rm", "--force", "--time", "0", name, check=False)


def test_helmtest_1_the_test_hook_passes_against_the_running_operator(
    release: Release, container: Container, cluster: Any
) -> None:
    """HELMTEST-1: `helm test`'s Pod finds /healthz through the Service and the CRD served;
    with the operator gone it fails and says what it could not reach."""
    eventually(lambda: synced(release, container), within=STARTUP, what="first sync")
    code, log = run_helm_test(release, cluster)
    assert code == 0, log
    assert f"{RELEASE}-personio-sync-metrics.{release.operator_ns}.svc" in log
    assert "/healthz answered 200" in log
    assert "ok: the API server serves personiosyncs.personio-sync.dev/v1alpha1" in log
    podman("stop", "--time", str(container.grace), container.name, timeout=container.grace + 30)
    code, log = run_helm_test(release, cluster, TEST_DEADLINE_SECONDS="4")
    assert code == 1, log
    assert "FAIL:" in log and "did not answer 200 within 4 s" in log, log


def mount_points(destinations: list[str]) -> set[str]:
    """Each destination and the directories above it (/var/run is a link to /run)."""
    points = set()
    for destination in destinations:
        parts = Path(re.sub(r"^/var/run/", "/run/", destination)).parts
        points |= {str(Path(*parts[: i + 1])) for i in range(1, len(parts))}
    return points
