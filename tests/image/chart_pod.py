"""The chart's pods, run with podman: the rendered Deployment (or the `helm test` Pod)
translated into podman flags.

No kubelet runs here (it would take over the machine's cgroups), so a pod is emulated:
whatever the manifest says about its container (image, args, env, ports, probes,
security context, volumes, resources, grace period) becomes a podman flag, and anything
this module cannot translate fails the test instead of being left out. The test thereby
follows the chart, not a copy of it.

Every podman call carries the flags this machine kind needs (docs/image.md): cgroupfs
and runc (crun refuses the hybrid cgroups), host networking, rlimits within the hard
limits.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PODMAN = ("podman", "--cgroup-manager=cgroupfs")
RUNTIME = ("--runtime", "runc", "--network", "host",
           "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")  # fmt: skip
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
DEFAULT_GRACE = 30  # Kubernetes' terminationGracePeriodSeconds when a pod sets none
KNOWN_POD_SECURITY = {"runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup", "seccompProfile"}
KNOWN_SECURITY = KNOWN_POD_SECURITY - {"fsGroup"} | {
    "allowPrivilegeEscalation",
    "readOnlyRootFilesystem",
    "privileged",
    "capabilities",
}


class Untranslatable(AssertionError):
    """The chart asks for something this emulation cannot do: extend it, never skip it."""


def podman(*args: str, check: bool = True, timeout: float = 120.0) -> str:
    """Run podman with the machine's flags; stdout, or an error carrying stderr."""
    result = subprocess.run([*PODMAN, *args], capture_output=True, text=True,
                            timeout=timeout, check=False, stdin=subprocess.DEVNULL)  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {result.returncode}: "
                             f"{result.stderr.strip()}")  # fmt: skip
    return result.stdout


def inspect(kind: str, name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = json.loads(podman(kind, "inspect", name))
    return found[0]


@dataclass(frozen=True)
class ChartPod:
    """The pod template of the chart's Deployment, or a Pod of the chart (the `helm test`
    hook), as `helm template` renders it."""

    manifest: Mapping[str, Any]

    @property
    def spec(self) -> Mapping[str, Any]:
        spec: Mapping[str, Any] = self.manifest["spec"]
        if self.manifest["kind"] != "Pod":
            spec = spec["template"]["spec"]
        return spec

    @property
    def container(self) -> Mapping[str, Any]:
        (only,) = self.spec["containers"]
        container: Mapping[str, Any] = only
        return container

    @property
    def grace_period(self) -> int:
        return int(self.spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE))

    def port(self, name_or_number: str | int) -> int:
        if isinstance(name_or_number, int):
            return name_or_number
        (port,) = [p for p in self.container["ports"] if p.get("name") == name_or_number]
        return int(port["containerPort"])

    def probe_paths(self) -> dict[str, tuple[int, str]]:
        """Each probe's (port, path); only HTTP GET probes are translated."""
        paths = {}
        for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
            probe = self.container.get(kind)
            if probe is None:
                continue
            if "httpGet" not in probe:
                raise Untranslatable(f"{kind}: only httpGet probes are emulated: {probe}")
            paths[kind] = (self.port(probe["httpGet"]["port"]), probe["httpGet"]["path"])
        return paths

    def user(self) -> tuple[int, int]:
        """The UID and GID the container runs as (container settings win over the pod's)."""
        merged = {**self.spec.get("securityContext", {}),
                  **self.container.get("securityContext", {})}  # fmt: skip
        uid, gid = merged.get("runAsUser"), merged.get("runAsGroup")
        if uid is None or gid is None:
            raise Untranslatable("the chart should name runAsUser and runAsGroup")
        if merged.get("runAsNonRoot") and uid == 0:
            raise AssertionError("runAsNonRoot with runAsUser 0: the kubelet would refuse")
        return int(uid), int(gid)

    def run_args(self, *, name: str, pod: str, namespace: str, sa_dir: Path,
                 api_server: tuple[str, int],
                 hosts: Mapping[str, str] | None = None) -> list[str]:  # fmt: skip
        """`podman run` arguments for this pod's container, detached. `hosts`: what the
        cluster's DNS would resolve (a Service's name), as /etc/hosts entries."""
        # k8s-file: the log stays readable without a journald (podman's default driver).
        args = ["run", "--detach", "--name", name, "--hostname", pod, "--log-driver=k8s-file",
                *RUNTIME]  # fmt: skip
        args += [f"--add-host={host}:{address}" for host, address in (hosts or {}).items()]
        args += self._security()
        args += self._env(pod, namespace, api_server)
        args += self._volumes(sa_dir)
        args += self._resources()
        restart = self.spec.get("restartPolicy", "Always")
        if self.manifest["kind"] == "Pod" and restart != "Never":
            raise Untranslatable(f"restartPolicy {restart}: only Never is emulated for a Pod")
        if "command" in self.container:  # the image's ENTRYPOINT, replaced
            args += ["--entrypoint", json.dumps(self.container["command"])]
        return [*args, self.container["image"], *self.container.get("args", [])]

    def _security(self) -> list[str]:
        pod_ctx = self.spec.get("securityContext", {})
        ctx = self.container.get("securityContext", {})
        unknown = (set(pod_ctx) - KNOWN_POD_SECURITY) | (set(ctx) - KNOWN_SECURITY)
        if unknown:
            raise Untranslatable(f"security settings not emulated: {sorted(unknown)}")
        for profile in (pod_ctx.get("seccompProfile"), ctx.get("seccompProfile")):
            if profile not in (None, {"type": "RuntimeDefault"}):  # podman's default profile
                raise Untranslatable(f"seccompProfile {profile}")
        if ctx.get("privileged"):
            raise Untranslatable("privileged containers are not emulated")
        uid, gid = self.user()
        args = ["--user", f"{uid}:{gid}"]
        if "fsGroup" in pod_ctx:
            args += ["--group-add", str(pod_ctx["fsGroup"])]
        if ctx.get("readOnlyRootFilesystem"):
            # Podman would add writable tmpfs on /tmp, /var/tmp and /run; a pod has none.
            args += ["--read-only", "--read-only-tmpfs=false"]
        if ctx.get("allowPrivilegeEscalation") is False:
            args += ["--security-opt", "no-new-privileges"]
        caps = ctx.get("capabilities", {})
        args += [f"--cap-drop={c}" for c in caps.get("drop", [])]
        args += [f"--cap-add={c}" for c in caps.get("add", [])]
        return args

    def _env(self, pod: str, namespace: str, api_server: tuple[str, int]) -> list[str]:
        fields = {"metadata.name": pod, "metadata.namespace": namespace}
        host, port = api_server
        # What the kubelet gives every container: where the API server is.
        env = {"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": str(port)}
        for var in self.container.get("env", []):
            if "value" in var:
                env[var["name"]] = str(var["value"])
            elif var.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") in fields:
                env[var["name"]] = fields[var["valueFrom"]["fieldRef"]["fieldPath"]]
            else:
                raise Untranslatable(f"env {var}")
        if self.container.get("envFrom"):
            raise Untranslatable("envFrom is not emulated")
        return [arg for key, value in env.items() for arg in ("--env", f"{key}={value}")]

    def _volumes(self, sa_dir: Path) -> list[str]:
        volumes = {v["name"]: v for v in self.spec.get("volumes", [])}
        args = []
        for mount in self.container.get("volumeMounts", []):
            volume = volumes[mount["name"]]
            if set(volume) != {"name", "emptyDir"}:
                raise Untranslatable(f"volume {volume}: only emptyDir is emulated")
            size = _bytes(volume["emptyDir"].get("sizeLimit", "64Mi"))
            mode = "0555" if mount.get("readOnly") else "1777"
            args += ["--mount", f"type=tmpfs,destination={mount['mountPath']},"
                     f"tmpfs-size={size},tmpfs-mode={mode}"]  # fmt: skip
        if self.spec.get("automountServiceAccountToken", True):
            args += ["--volume", f"{sa_dir}:{SA_DIR}:ro"]
        return args

    def _resources(self) -> list[str]:
        limits = self.container.get("resources", {}).get("limits", {})
        args = []
        if "memory" in limits:
            args += ["--memory", str(_bytes(limits["memory"]))]
        if "cpu" in limits:
            cpu = str(limits["cpu"])
            args += ["--cpus", str(int(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu))]
        return args


def _bytes(quantity: str) -> int:
    """A Kubernetes quantity such as 64Mi or 256M in bytes."""
    match = re.fullmatch(r"(\d+)([KMGT]i?)?", str(quantity))
    if match is None:
        raise Untranslatable(f"quantity {quantity!r}")
    number, unit = match.groups()
    powers = {"K": 1, "M": 2, "G": 3, "T": 4}
    if not unit:
        return int(number)
    base = 1024 if unit.endswith("i") else 1000
    return int(number) * base ** powers[unit[0]]
