"""What hack/release.sh published, checked the way a user checks it (REL-2..REL-5).

Only the user's tools and inputs: the local registry's address, the release's public key,
cosign (the pinned version), helm and podman. Each check would also fail against a
release that skipped the step: a signature by another key, a chart without the digest,
an index without arm64.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from tests.image.chart_pod import RUNTIME, podman
from tests.release.published import KEY_PASSWORD, Release

from personio_sync_testing.devtools.kubectl import Helm, Kubectl

INDEX = "application/vnd.oci.image.index.v1+json"
PLATFORMS = {"linux/amd64", "linux/arm64"}


def cosign(release: Release, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """cosign as a user runs it on this release: its public key, no transparency log."""
    command = [str(release.cosign), *args, "--key", str(release.public_key),
               "--insecure-ignore-tlog=true", "--allow-http-registry"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False,
                            stdin=subprocess.DEVNULL)  # fmt: skip
    if check:
        assert result.returncode == 0, result.stderr
    return result


def index(release: Release) -> dict[str, Any]:
    repo = release.image.split("/", 1)[1]
    url = f"http://{release.host}/v2/{repo}/manifests/{release.image_digest}"
    answer = httpx.get(url, headers={"Accept": INDEX}, timeout=10)
    answer.raise_for_status()
    assert answer.headers["content-type"] == INDEX
    document: dict[str, Any] = answer.json()
    return document


def rendered_image(helm: Helm, chart: str, version: str, *values: str) -> str:
    """The operator's image as `helm template` of an oci:// chart reference renders it."""
    rendered = helm("template", "personio-sync", chart, "--version", version, "--plain-http",
                    *values, "--show-only", "templates/deployment.yaml")  # fmt: skip
    pod = yaml.safe_load(rendered)["spec"]["template"]["spec"]
    return str(pod["containers"][0]["image"])


def platform_digests(release: Release) -> dict[str, str]:
    return {
        f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"]
        for m in index(release)["manifests"]
        if "platform" in m
    }


def test_rel2_the_index_holds_both_architectures_by_version_tag(release: Release) -> None:
    assert set(platform_digests(release)) == PLATFORMS
    repo = release.image.split("/", 1)[1]
    url = f"http://{release.host}/v2/{repo}/manifests/{release.version}"
    answer = httpx.head(url, headers={"Accept": INDEX}, timeout=10)
    assert answer.headers["docker-content-digest"] == release.image_digest


def test_rel2_index_and_both_images_verify_with_the_release_key(release: Release) -> None:
    for digest in [release.image_digest, *platform_digests(release).values()]:
        result = cosign(release, "verify", f"{release.image}@{digest}")
        (claim,) = json.loads(result.stdout)  # one signature: no re-signing adds another
        assert claim["critical"]["image"]["docker-manifest-digest"] == digest
    by_tag = cosign(release, "verify", f"{release.image}:{release.version}")
    assert release.image_digest in by_tag.stdout


def test_rel2_a_signature_by_another_key_is_refused(release: Release, tmp_path: Path) -> None:
    """The check means something: the same image against a stranger's key fails."""
    env = {"COSIGN_PASSWORD": KEY_PASSWORD, "PATH": "/usr/bin:/bin"}
    subprocess.run([str(release.cosign), "generate-key-pair"], cwd=tmp_path, env=env,
                   check=True, capture_output=True, stdin=subprocess.DEVNULL)  # fmt: skip
    stranger = Release(**{**release.__dict__, "public_key": tmp_path / "cosign.pub"})
    result = cosign(stranger, "verify", f"{release.image}@{release.image_digest}", check=False)
    assert result.returncode != 0
    assert "no matching signatures" in result.stderr


def deb_architectures(packages: list[dict[str, Any]]) -> set[str]:
    """The architectures the SBOM's Debian packages are built for (purl `arch=`)."""
    locators = [ref["referenceLocator"] for p in packages for ref in p.get("externalRefs", [])]
    return {
        loc.split("arch=", 1)[1].split("&", 1)[0]
        for loc in locators
        if loc.startswith("pkg:deb/") and "arch=" in loc
    } - {"all"}


def test_rel3_an_spdx_sbom_per_architecture_is_a_signed_attestation(release: Release) -> None:
    result = cosign(release, "verify-attestation", "--type", "spdxjson",
                    f"{release.image}@{release.image_digest}")  # fmt: skip
    envelopes = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    statements = [json.loads(base64.b64decode(e["payload"])) for e in envelopes]
    archs = []
    for statement in statements:
        assert statement["predicateType"] == "https://spdx.dev/Document"
        assert statement["subject"][0]["digest"]["sha256"] == release.image_digest[7:]
        packages = statement["predicate"]["packages"]
        ours = [p for p in packages if p["name"] == "personio-sync"]
        assert [p["versionInfo"] for p in ours] == [release.version]
        assert any(p["name"] == "python3.11" for p in packages), "the base's Debian packages"
        (arch,) = deb_architectures(packages)
        archs.append(arch)
    assert sorted(archs) == ["amd64", "arm64"]


def test_rel4_the_chart_is_signed_and_its_values_pin_the_digest(
    release: Release, helm: Helm
) -> None:
    chart_repo = release.chart.removeprefix("oci://")
    cosign(release, "verify", f"{chart_repo}@{release.chart_digest}")
    version = ("--version", release.version, "--plain-http")
    values = yaml.safe_load(helm("show", "values", release.chart, *version))
    assert values["image"]["registry"] == release.registry
    assert values["image"]["digest"] == release.image_digest
    chart = yaml.safe_load(helm("show", "chart", release.chart, *version))
    assert chart["version"] == chart["appVersion"] == release.version
    image = rendered_image(helm, release.chart, release.version)
    assert image == f"{release.image}@{release.image_digest}"


def test_rel4_helm_install_from_the_oci_reference_creates_the_release(
    release: Release, helm: Helm, kubectl: Kubectl, namespace: str
) -> None:
    name = f"rel-{namespace[-6:]}"
    helm("install", name, release.chart, "--version", release.version, "--plain-http",
         "--namespace", namespace, "--wait=false")  # fmt: skip
    (listed,) = json.loads(helm("list", "--namespace", namespace, "-o", "json"))
    assert listed["name"] == name and listed["status"] == "deployed"
    assert listed["chart"] == f"personio-sync-{release.version}"
    assert listed["app_version"] == release.version
    deployment = kubectl.json("get", "deployment", "-n", namespace, "-l",
                              f"app.kubernetes.io/instance={name}")["items"][0]  # fmt: skip
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"{release.image}@{release.image_digest}"
    helm("uninstall", name, "--namespace", namespace)


def test_rel4_a_mirror_serves_the_signed_release_with_only_the_registry_overridden(
    release: Release, helm: Helm
) -> None:
    """docs/install.md's air-gapped recipe: cosign copy, then install from the mirror."""
    mirror = f"{release.host}/mirror"
    chart_repo = release.chart.removeprefix("oci://")
    for source, target in (
        (f"{release.image}:{release.version}", f"{mirror}/personio-sync:{release.version}"),
        (f"{chart_repo}:{release.version}", f"{mirror}/charts/personio-sync:{release.version}"),
    ):
        copied = subprocess.run([str(release.cosign), "copy", "--allow-http-registry", source,
                                 target], capture_output=True, text=True, timeout=120,
                                check=False, stdin=subprocess.DEVNULL)  # fmt: skip
        assert copied.returncode == 0, copied.stderr
    cosign(release, "verify", f"{mirror}/personio-sync@{release.image_digest}")
    cosign(release, "verify", f"{mirror}/charts/personio-sync@{release.chart_digest}")
    image = rendered_image(helm, f"oci://{mirror}/charts/personio-sync", release.version,
                           "--set", f"image.registry={mirror}")  # fmt: skip
    assert image == f"{mirror}/personio-sync@{release.image_digest}"


@pytest.mark.parametrize("arch", ["arm64", "amd64"])
def test_rel5_each_architecture_pulls_by_index_and_runs(release: Release, arch: str) -> None:
    """`podman pull --platform` of the index; arm64 runs under qemu-user-static."""
    reference = f"{release.image}@{release.image_digest}"
    podman("pull", "--quiet", "--tls-verify=false", "--platform", f"linux/{arch}", reference,
           timeout=300)  # fmt: skip
    try:
        image = json.loads(podman("image", "inspect", reference))[0]
        assert image["Architecture"] == arch
        assert image["Labels"]["org.opencontainers.image.version"] == release.version
        out = podman("run", "--rm", *RUNTIME, "--platform", f"linux/{arch}", reference,
                     "--version", timeout=300)  # fmt: skip
        assert out.strip() == f"personio-sync {release.version}"
    finally:
        podman("rmi", "--force", reference, check=False)
