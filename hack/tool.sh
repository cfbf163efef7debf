#!/usr/bin/env bash
# The release's tools at one pinned version each, for the release script, the release
# tests and the release workflow alike (a signature made by one cosign major is not
# verified by another by default: one version everywhere). Built once from their Go
# modules into the cache (hack/gotool.sh) and printed as a path.
#
#   hack/tool.sh cosign|syft|registry
set -euo pipefail

COSIGN_VERSION=v2.6.5
SYFT_VERSION=v1.57.1
REGISTRY_VERSION=v3.1.2
here=$(cd "$(dirname "$0")" && pwd)

case "${1:-}" in
  cosign)
    exec "$here/gotool.sh" cosign "github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_VERSION" \
      "-X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION" ;;
  syft)
    exec "$here/gotool.sh" syft "github.com/anchore/syft/cmd/syft@$SYFT_VERSION" ;;
  registry)
    exec "$here/gotool.sh" registry \
      "github.com/distribution/distribution/v3/cmd/registry@$REGISTRY_VERSION" ;;
  *)
    echo "usage: $0 cosign|syft|registry" >&2
    exit 2 ;;
esac
