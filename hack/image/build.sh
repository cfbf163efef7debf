#!/usr/bin/env bash
# Builds the operator image from the repository's Dockerfile with podman, on a machine
# without Docker and without a reachable image registry:
#   1. installs podman, runc and debootstrap from the Debian archive if they are missing;
#   2. makes a local stand-in for the production base (python:3.11-slim): a debootstrap
#      bookworm minbase with Python 3.11, cached as a tarball under the cache directory
#      and imported into podman's image store once;
#   3. builds the Dockerfile with BASE pointing at it (the production base stays the
#      Dockerfile's default, pinned by digest).
# Prints the image reference on stdout (last line); progress on stderr.
# PERSONIO_SYNC_IMAGE_BASE=dockerfile builds on the Dockerfile's own (production) base
# instead, for machines that reach its registry (GitHub's CI runners).
# PERSONIO_SYNC_IMAGE_ARCH=arm64 builds for that architecture (the release builds amd64
# and arm64): the base comes from `debootstrap --foreign`, finished, and the build's RUN
# steps run, under qemu-user-static through binfmt_misc (installed and registered here).
# Arguments are passed on to `podman build` (the release adds its labels).
#
# The podman flags are the ones this machine kind needs (docs/image.md): cgroupfs and
# runc (crun refuses hybrid cgroups), host networking, rlimits within the hard limits.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${PERSONIO_SYNC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/personio-sync}
image=${PERSONIO_SYNC_IMAGE:-localhost/personio-sync:dev}
host_arch=$(dpkg --print-architecture)
arch=${PERSONIO_SYNC_IMAGE_ARCH:-$host_arch}
suite=bookworm
include=python3,python3-venv,ca-certificates
# The base's name carries what it is made of: change either and a new base is made.
base_key=$(printf '%s %s minbase v1' "$suite" "$include" | sha256sum | cut -c1-12)
base_image="localhost/personio-sync-base:$suite-$arch-$base_key"
base_tar="$cache/image/base-$suite-$arch-$base_key.tar"
mkdir -p "$cache/image"
log() { printf '[image] %s\n' "$*" >&2; }
# Long, chatty steps log to a file; its tail is shown only when they fail.
quietly() {
  local out="$cache/image/last-step.log"
  "$@" >"$out" 2>&1 </dev/null || { tail -n 40 "$out" >&2; log "failed: $*"; exit 1; }
}
podman_() { podman --cgroup-manager=cgroupfs "$@"; }
RUN_FLAGS=(--runtime runc --network host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

# Arguments are commands, or COMMAND=PACKAGE where the package is named otherwise.
install_tools() {
  local missing=() tool
  for tool in "$@"; do
    command -v "${tool%%=*}" >/dev/null || missing+=("${tool#*=}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || { log "missing ${missing[*]}: apt-get install them, or run as root"; exit 1; }
  log "installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  quietly apt-get update
  quietly apt-get install -y "${missing[@]}"
}

# The first archive URI of the machine's apt sources (deb822 or one-line format):
# the base comes from the same archive the machine already trusts and reaches.
mirror() {
  local uri
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $2 !~ /^\[/ {print $2; exit} $1 == "deb" {print $3; exit}' \
                         /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
  [ -n "$uri" ] || { log "no archive URI found in /etc/apt/sources.list*"; exit 1; }
  echo "$uri"
}

# Foreign binaries run through binfmt_misc: the kernel has it, but it may not be mounted,
# and Debian's qemu-user-static entry (flag F: the interpreter is opened once, so it
# works inside containers and chroots) is registered only where systemd did it.
enable_qemu() {
  local qemu_arch
  case "$arch" in
    arm64) qemu_arch=aarch64 ;;
    *) log "no qemu mapping for architecture $arch (known: arm64)"; exit 1 ;;
  esac
  install_tools "qemu-$qemu_arch-static=qemu-user-static"
  local fs=/proc/sys/fs/binfmt_misc conf
  [ -e "$fs/register" ] || mount -t binfmt_misc binfmt_misc "$fs"
  compgen -G "$fs/qemu-$qemu_arch*" >/dev/null && return 0
  conf=$(compgen -G "/usr/lib/binfmt.d/qemu-$qemu_arch*.conf" | head -n 1) ||
    { log "qemu-user-static ships no binfmt entry for $qemu_arch"; exit 1; }
  log "registering $conf with binfmt_misc"
  cat "$conf" >"$fs/register"
}

make_base() {
  podman_ image exists "$base_image" && return 0
  if [ ! -s "$base_tar" ]; then
    local dir="$cache/image/rootfs-$arch.tmp" url
    url=$(mirror)
    rm -rf "$dir"; mkdir -p "$dir"
    if [ "$arch" = "$host_arch" ]; then
      log "debootstrap $suite minbase with $include (cold: about a minute)"
      quietly debootstrap --variant=minbase --include="$include" "$suite" "$dir" "$url"
    else
      log "debootstrap $suite minbase for $arch under qemu (cold: about 5 minutes)"
      quietly debootstrap --arch="$arch" --foreign --variant=minbase --include="$include" \
        "$suite" "$dir" "$url"
      quietly chroot "$dir" /debootstrap/debootstrap --second-stage
    fi
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
    tar --numeric-owner -C "$dir" -cf "$base_tar.tmp" .
    mv "$base_tar.tmp" "$base_tar"
    rm -rf "$dir"
  fi
  log "importing $base_tar as $base_image"
  podman_ import --quiet --os linux --arch "$arch" "$base_tar" "$base_image" >&2
}

# Parallel test sessions build one after the other, never the same base twice at once.
exec 9>"$cache/image/build.lock"
flock -n 9 || { log "another image build is running; waiting for it"; flock 9; }

start=$(date +%s)
[ "$arch" = "$host_arch" ] || enable_qemu
if [ "${PERSONIO_SYNC_IMAGE_BASE:-}" = dockerfile ]; then
  install_tools podman runc
  base_args=(--pull=missing)
  log "building $image ($arch) from $root/Dockerfile on its production base"
else
  install_tools podman runc debootstrap
  make_base
  base_args=(--pull=never --build-arg "BASE=$base_image")
  log "building $image ($arch) from $root/Dockerfile on $base_image"
fi
# The CA bundle lets the build's pip verify the package index on this machine.
quietly podman_ build "${RUN_FLAGS[@]}" "${base_args[@]}" --platform "linux/$arch" --layers \
  -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
  "$@" -t "$image" "$root"
# Each rebuild leaves the previous image untagged; older ones go (a day keeps the layer
# cache of recent builds).
podman_ image prune --force --filter until=24h >/dev/null
took=$(( $(date +%s) - start ))
[ "$took" -gt 5 ] && log "ready in ${took}s: $image"
echo "$image"
