#!/usr/bin/env bash
# Regenerates the wrapper modules' go.mod/go.sum. k8s.io/kubernetes replaces
# its staging modules with local directories, so `go install` refuses it; the
# wrapper replaces each with its published v0.x release instead. Run this only
# when bumping a version; the result is committed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.6.13}
staging_version="v0.${KUBE_VERSION#v1.}"

mod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
cd "$here/kube-apiserver"
rm -f go.mod go.sum
{
  echo "module personio-sync.dev/controlplane/kube-apiserver"
  echo
  grep -E '^go ' "$mod"
  grep -E '^godebug ' "$mod" || true
  echo
  echo "require k8s.io/kubernetes $KUBE_VERSION"
  echo
  echo "replace ("
  grep -E '=> \./staging/src/k8s.io/' "$mod" | awk -v v="$staging_version" '{print "\t" $1 " => " $1 " " v}'
  echo ")"
} > go.mod
cat > tools.go <<'GO'
//go:build tools

// Package tools pins kube-apiserver so that `go mod tidy` keeps its deps.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
GO
go mod tidy

cd "$here/etcd"
rm -f go.mod go.sum
printf 'module personio-sync.dev/controlplane/etcd\n\ngo 1.25\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" > go.mod
cat > tools.go <<'GO'
//go:build tools

// Package tools pins etcd so that `go mod tidy` keeps its deps.
package tools

import _ "go.etcd.io/etcd/server/v3"
GO
go mod tidy
