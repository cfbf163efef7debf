#!/usr/bin/env bash
# Builds kube-apiserver, etcd and helm from the Go module proxy into a cache
# outside the work tree, keyed by version, and rebuilds only what is missing.
# Prints where the binaries are (one directory) on stdout; progress on stderr.
#   hack/controlplane/build.sh            all three
#   hack/controlplane/build.sh helm       only helm (the release needs no API server)
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

# helm's release builds link in the Kubernetes version of its client-go (v0.37 →
# 1.37, helm's Makefile: K8S_MODULES_MAJOR_VER/MINOR_VER); without them helm renders as
# Kubernetes v1.20 (.Capabilities.KubeVersion) and refuses a chart's kubeVersion. The
# binary comes from hack/gotool.sh, keyed by version and these flags, so changing them
# builds a new helm, which replaces the one in this directory.
HELM_KUBE_MINOR=${HELM_KUBE_MINOR:-37}
build_helm() {
  local flags="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" pkg built
  for pkg in pkg/chartutil pkg/lint/rules; do
    flags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1"
    flags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$HELM_KUBE_MINOR"
  done
  built=$("$here/../gotool.sh" helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" "$flags")
  cmp -s "$built" "$bin/helm" && return 0
  cp "$built" "$bin/helm.tmp"
  mv "$bin/helm.tmp" "$bin/helm"
}

# Two test sessions (or a session and `make demo`) may start cold at the same time:
# one builds, the other waits for it instead of compiling the same thing twice.
exec 9>"$cache/build.lock"
if ! flock -n 9; then
  log "another build is running; waiting for it (lock: $cache/build.lock)"
  flock 9
fi

start=$(date +%s)
if [ "${1:-}" = helm ]; then
  build_helm
else
  build_etcd
  build_helm
  build_kube_apiserver
fi
took=$(( $(date +%s) - start ))
[ "$took" -gt 5 ] && log "built in ${took}s into $bin"
echo "$bin"
