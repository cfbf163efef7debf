#!/usr/bin/env bash
# Writes charts/personio-sync/README.md from Chart.yaml, values.yaml's `# --` comments and
# README.md.gotmpl, with helm-docs built once from its Go module (hack/gotool.sh).
# A test (tests/unit/test_chart_readme.py) fails when the README is not what this writes.
#   hack/helm-docs.sh            regenerate the chart's README (`make chart-readme`)
#   hack/helm-docs.sh --path     print the binary's path (building it if needed)
# CHART_DIR names another copy of the chart (the test writes into a copy).
set -euo pipefail

VERSION=${HELM_DOCS_VERSION:-v1.14.2}
here=$(cd "$(dirname "$0")" && pwd)
helm_docs=$("$here/gotool.sh" helm-docs "github.com/norwoodj/helm-docs/cmd/helm-docs@$VERSION")
if [ "${1:-}" = "--path" ]; then
  echo "$helm_docs"
  exit 0
fi
cd "${CHART_DIR:-$here/../charts/personio-sync}"
exec "$helm_docs" --chart-search-root . --skip-version-footer --sort-values-order file "$@"
