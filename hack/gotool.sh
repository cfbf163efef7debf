#!/usr/bin/env bash
# Builds one Go program from its module, once, into the cache outside the work tree, and
# prints the binary's path on stdout (progress on stderr). Every tool the project builds
# from the Go module proxy (actionlint, and release and chart tools) goes through here,
# so each is cached the same way, keyed by its version and link flags, and two sessions
# starting cold build it once.
#
#   hack/gotool.sh NAME MODULE/PATH/TO/CMD@VERSION [LDFLAGS [TAGS]]
#
# NAME is the binary's name (what `go install` names it). LDFLAGS are added to `-s -w`;
# TAGS are Go build tags (e.g. promtool without Prometheus's service discoveries).
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 NAME MODULE/CMD@VERSION [LDFLAGS]" >&2
  exit 2
fi
name=$1 target=$2 ldflags=${3:-} tags=${4:-}
version=${target##*@}
cache=${PERSONIO_SYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/personio-sync}
# Link flags change the binary (helm's Kubernetes version, say): they are part of the key.
key=$version
if [ -n "$ldflags$tags" ]; then
  key="$version-$(printf '%s%s' "$ldflags" "${tags:+|tags=$tags}" | sha256sum | cut -c1-8)"
fi
bin="$cache/bin/$name-$key"
if [ ! -x "$bin/$name" ]; then
  mkdir -p "$cache/bin"
  exec 9>"$cache/bin/.$name.lock"
  flock 9
  if [ ! -x "$bin/$name" ]; then
    printf '[%s] building %s from its Go module (once)\n' "$name" "$version" >&2
    start=$(date +%s)
    rm -rf "$bin.tmp"
    GOBIN="$bin.tmp" CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
      go install -trimpath -tags "$tags" -ldflags "-s -w $ldflags" "$target" >&2
    rm -rf "$bin" && mv "$bin.tmp" "$bin"
    printf '[%s] built in %ss into %s\n' "$name" "$(( $(date +%s) - start ))" "$bin" >&2
  fi
fi
echo "$bin/$name"
