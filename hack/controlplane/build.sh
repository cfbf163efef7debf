#!/usr/bin/env bash
# Builds kube-apiserver, etcd and helm from the Go module proxy into a cache
# outside the work tree, keyed by version, and rebuilds only what is missing.
# Prints where the binaries are (one directory) on stdout; progress on stderr.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.6.13}
HELM_VERSION=${HELM_VERSION:-v3.22.0}
cache=${PERSONIO_SYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/personio-sync}
bin="$cache/bin/kube-$KUBE_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION"
mkdir -p "$bin"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
log() { printf '[control-plane] %s\n' "$*" >&2; }

build_kube_apiserver() {
  [ -x "$bin/kube-apiserver" ] && return 0
  log "building kube-apiserver $KUBE_VERSION (cold: about 5 minutes on 2 cores, more on a fresh Go module cache)"
  local minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
  local pkgs="k8s.io/component-base/version k8s.io/client-go/pkg/version"
  local flags="" p
  for p in $pkgs; do
    flags+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    flags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  (cd "$here/kube-apiserver" && go build -trimpath -ldflags "-s -w $flags" \
     -o "$bin/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
  mv "$bin/kube-apiserver.tmp" "$bin/kube-apiserver"
}

build_etcd() {
  [ -x "$bin/etcd" ] && return 0
  log "building etcd $ETCD_VERSION (cold: about 1 minute)"
  (cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$bin/etcd.tmp" "$bin/etcd"
}

build_helm() {
  [ -x "$bin/helm" ] && return 0
  log "building helm $HELM_VERSION (cold: about 1.5 minutes)"
  GOBIN="$bin/.gobin" go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mv "$bin/.gobin/helm" "$bin/helm"
}

# Two test sessions (or a session and `make demo`) may start cold at the same time:
# one builds, the other waits for it instead of compiling the same thing twice.
exec 9>"$cache/build.lock"
if ! flock -n 9; then
  log "another build is running; waiting for it (lock: $cache/build.lock)"
  flock 9
fi

start=$(date +%s)
build_etcd
build_helm
build_kube_apiserver
took=$(( $(date +%s) - start ))
[ "$took" -gt 5 ] && log "built in ${took}s into $bin"
echo "$bin"
