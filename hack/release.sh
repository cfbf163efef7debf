#!/usr/bin/env bash
# The whole release against one registry, for both callers: the release workflow on a
# version tag (keyless signing) and `make release-check` against a local registry (a
# throwaway key). Nothing of it is repeated in the workflow's YAML.
#
#   hack/release.sh --registry REGISTRY (--key FILE | --keyless) [--plain-http] [--out DIR]
#   hack/release.sh --check-versions
#
# REGISTRY is a host and path, e.g. ghcr.io/personio-sync: the image goes to
# REGISTRY/personio-sync, the chart to oci://REGISTRY/charts/personio-sync. Steps:
#   1. the versions agree (pyproject.toml, Chart.yaml version and appVersion, the newest
#      CHANGELOG.md heading, and the tag when GitHub Actions runs on one: REL-1);
#   2. the image for linux/amd64 and linux/arm64 (hack/image/build.sh), pushed with its
#      index as REGISTRY/personio-sync:VERSION; the index and both images signed;
#   3. an SPDX SBOM of each architecture (syft), attached to the index as a signed
#      attestation;
#   4. the chart, its image.registry and image.digest set to what was pushed, packaged,
#      pushed as an OCI artifact and signed.
# --key signs with a cosign key pair (COSIGN_PASSWORD holds its password) and uploads
# nothing to a transparency log; --keyless uses the workflow's OIDC identity. Registry
# credentials come from REGISTRY_AUTH_FILE (a docker config.json) when it is set.
# --plain-http is for a registry on the loopback address only. Prints what it published
# on stdout and writes it to DIR/release.env (default dist/release); progress on stderr.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
chart_src="$root/charts/personio-sync"
log() { printf '[release] %s\n' "$*" >&2; }
die() { printf '[release] error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '6,7s/^# *//p' "$0" >&2; exit 2; }

registry="" key="" keyless=0 plain_http=0 out="$root/dist/release" check_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --registry) registry=${2:?--registry needs a value}; shift 2 ;;
    --key) key=${2:?--key needs a file}; shift 2 ;;
    --keyless) keyless=1; shift ;;
    --plain-http) plain_http=1; shift ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --check-versions) check_only=1; shift ;;
    *) usage ;;
  esac
done

# REL-1: one version, written once in pyproject.toml; everything else must agree with it.
check_versions() {
  local version chart_version app_version changelog problems=()
  version=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' \
    "$root/pyproject.toml")
  chart_version=$(sed -n 's/^version:[[:space:]]*"\{0,1\}\([^"[:space:]]*\)"\{0,1\}[[:space:]]*$/\1/p' "$chart_src/Chart.yaml")
  app_version=$(sed -n 's/^appVersion:[[:space:]]*"\{0,1\}\([^"[:space:]]*\)"\{0,1\}[[:space:]]*$/\1/p' "$chart_src/Chart.yaml")
  changelog=$(sed -n 's/^## \[\([^]]*\)\].*/\1/p' "$root/CHANGELOG.md" | head -n 1)
  [ "$chart_version" = "$version" ] ||
    problems+=("charts/personio-sync/Chart.yaml version is '$chart_version': set it to $version")
  [ "$app_version" = "$version" ] ||
    problems+=("charts/personio-sync/Chart.yaml appVersion is '$app_version': set it to \"$version\"")
  [ "$changelog" = "$version" ] ||
    problems+=("CHANGELOG.md's newest heading is '[$changelog]': add '## [$version]' with its changes")
  if [ "${GITHUB_REF_TYPE:-}" = tag ] && [ "${GITHUB_REF_NAME:-}" != "v$version" ]; then
    problems+=("tag ${GITHUB_REF_NAME:-} does not match the version: tag v$version instead")
  fi
  if [ ${#problems[@]} -gt 0 ]; then
    printf '[release] error: versions disagree with pyproject.toml (%s):\n' "$version" >&2
    printf '  - %s\n' "${problems[@]}" >&2
    exit 1
  fi
  echo "$version"
}

version=$(check_versions)
if [ "$check_only" = 1 ]; then
  log "versions agree: $version"
  exit 0
fi
[ -n "$registry" ] || usage
registry=${registry%/}
[ -n "$key" ] || [ "$keyless" = 1 ] || die "sign with --key FILE or --keyless"
[ -z "$key" ] || [ "$keyless" = 0 ] || die "--key and --keyless exclude each other"
[ -z "$key" ] || [ -r "$key" ] || die "--key $key: no such readable file"
case "$registry" in
  */*) ;;
  *) die "--registry $registry: give a host and a path, e.g. ghcr.io/personio-sync" ;;
esac
host=${registry%%/*}
if [ "$plain_http" = 1 ]; then
  case "$host" in
    127.0.0.1:*|localhost:*) ;;
    *) die "--plain-http is for a registry on the loopback address, not $host" ;;
  esac
fi

image="$registry/personio-sync"
charts="$registry/charts"
source_url=$(sed -n 's/^home:[[:space:]]*//p' "$chart_src/Chart.yaml")
revision=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
cosign=$("$root/hack/tool.sh" cosign)
syft=$("$root/hack/tool.sh" syft)
helm="$(PERSONIO_SYNC_BIN_DIR='' "$root/hack/controlplane/build.sh" helm)/helm"
podman_() { podman --cgroup-manager=cgroupfs "$@"; }

sign=(--yes)
podman_tls=() helm_http=() helm_auth=()
if [ -n "$key" ]; then
  sign+=(--key "$key" --tlog-upload=false)
fi
if [ "$plain_http" = 1 ]; then
  sign+=(--allow-http-registry)
  podman_tls=(--tls-verify=false)
  helm_http=(--plain-http)
  export SYFT_REGISTRY_INSECURE_USE_HTTP=true
fi
if [ -n "${REGISTRY_AUTH_FILE:-}" ]; then
  helm_auth=(--registry-config "$REGISTRY_AUTH_FILE")
  export DOCKER_CONFIG=${DOCKER_CONFIG:-$(mktemp -d)}
  [ -e "$DOCKER_CONFIG/config.json" ] || ln -s "$REGISTRY_AUTH_FILE" "$DOCKER_CONFIG/config.json"
fi

rm -rf "$out"
mkdir -p "$out"
started=$(date +%s)
step_start=$started
step() {
  local now
  now=$(date +%s)
  log "$1 ($(( now - step_start ))s)"
  step_start=$now
}

# 2. Both architectures, one index; signed recursively (the index and each image).
local_index="localhost/personio-sync:$version"
for arch in amd64 arm64; do
  PERSONIO_SYNC_IMAGE="$local_index-$arch" PERSONIO_SYNC_IMAGE_ARCH=$arch \
    "$root/hack/image/build.sh" \
    --label "org.opencontainers.image.version=$version" \
    --label "org.opencontainers.image.source=$source_url" \
    --label "org.opencontainers.image.revision=$revision" >/dev/null
done
step "built $local_index for amd64 and arm64"
if podman_ manifest exists "$local_index"; then
  podman_ manifest rm "$local_index" >/dev/null
fi
podman_ manifest create "$local_index" >/dev/null
for arch in amd64 arm64; do
  podman_ manifest add "$local_index" "containers-storage:$local_index-$arch" >/dev/null
done
podman_ manifest push --quiet --all --format oci "${podman_tls[@]}" \
  --digestfile "$out/image.digest" "$local_index" "docker://$image:$version"
image_digest=$(cat "$out/image.digest")
step "pushed $image:$version (index $image_digest)"
"$cosign" sign "${sign[@]}" --recursive "$image@$image_digest" 2>"$out/cosign.log" ||
  { cat "$out/cosign.log" >&2; die "signing $image@$image_digest failed"; }
step "signed the index and both images"

# 3. An SBOM per architecture, each a signed attestation on the index.
for arch in amd64 arm64; do
  sbom="$out/sbom-linux-$arch.spdx.json"
  "$syft" scan --quiet --platform "linux/$arch" -o "spdx-json=$sbom" "registry:$image@$image_digest"
  "$cosign" attest "${sign[@]}" --type spdxjson --predicate "$sbom" "$image@$image_digest" \
    2>"$out/cosign.log" || { cat "$out/cosign.log" >&2; die "attesting $sbom failed"; }
done
step "attested an SPDX SBOM per architecture"

# 4. The chart, pinned to what was just pushed: the registry and the index digest.
cp -r "$chart_src" "$out/chart"
sed -i -e '/^image:/,/^[^ #]/{' \
  -e "s|^  registry: .*|  registry: $registry|" \
  -e "s|^  tag: .*|  tag: \"$version\"|" \
  -e "s|^  digest: .*|  digest: \"$image_digest\"|" -e '}' "$out/chart/values.yaml"
"$helm" lint --strict --quiet "$out/chart" >&2
rendered=$("$helm" template personio-sync "$out/chart" --show-only templates/deployment.yaml)
grep -qF "image: \"$image@$image_digest\"" <<<"$rendered" ||
  die "the packaged chart does not render $image@$image_digest"
"$helm" package "$out/chart" --destination "$out" >/dev/null
package="$out/personio-sync-$version.tgz"
"$helm" push "$package" "oci://$charts" "${helm_http[@]}" "${helm_auth[@]}" >"$out/push.log" 2>&1 ||
  { cat "$out/push.log" >&2; die "pushing the chart to oci://$charts failed"; }
chart_digest=$(awk '/^Digest:/ {print $2}' "$out/push.log")
[ -n "$chart_digest" ] || { cat "$out/push.log" >&2; die "helm push printed no digest"; }
"$cosign" sign "${sign[@]}" "$charts/personio-sync@$chart_digest" 2>"$out/cosign.log" ||
  { cat "$out/cosign.log" >&2; die "signing the chart failed"; }
step "pushed and signed oci://$charts/personio-sync:$version"

cat >"$out/release.env" <<EOF
VERSION=$version
IMAGE=$image
IMAGE_DIGEST=$image_digest
CHART=oci://$charts/personio-sync
CHART_DIGEST=$chart_digest
CHART_PACKAGE=$package
EOF
log "released $version in $(( $(date +%s) - started ))s"
cat "$out/release.env"
