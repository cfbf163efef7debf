#!/usr/bin/env bash
# Runs promtool (Prometheus's rule checker and rule unit tester) for the chart's alerts,
# built once from the Prometheus Go module into the cache (hack/gotool.sh), like the
# control-plane binaries. The module's v0.3xx.y tags are Prometheus 3.xx.y.
#   hack/promtool.sh check rules FILE | test rules FILE     hack/promtool.sh --path
set -euo pipefail

VERSION=${PROMTOOL_VERSION:-v0.316.0}
here=$(cd "$(dirname "$0")" && pwd)
# remove_all_sd: without the service discoveries (cloud SDKs) promtool does not use for
# rules, the cold build is a fraction of the full one.
promtool=$("$here/gotool.sh" promtool "github.com/prometheus/prometheus/cmd/promtool@$VERSION" "" remove_all_sd)
if [ "${1:-}" = "--path" ]; then
  echo "$promtool"
  exit 0
fi
exec "$promtool" "$@"
