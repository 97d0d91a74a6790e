#!/usr/bin/env bash
# Build the container image with podman on a machine that has no Docker engine and reaches no image
# registry (see docs/container.md). Steps, each skipped when already done:
#   1. podman + runc (+ debootstrap) from Debian packages;
#   2. a local base image: a Debian root filesystem from debootstrap with python3 + python3-venv, imported
#      once with `podman import` and cached (the tarball under ~/.cache, the image in podman's store);
#   3. `podman build` of the Dockerfile on that base, with the machine's CA bundle handed to pip as a build
#      secret (never stored in a layer).
# Usage: deploy/podman/build-image.sh [IMAGE]   (default localhost/kafka-connect-healthcheck:dev)
# Env: BASE_IMAGE=python:3.11-slim to build on the official base where a registry is reachable;
#      PODMAN_RUNTIME (default /usr/sbin/runc: crun fails here with `setrlimit RLIMIT_NPROC`).
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE=${1:-localhost/kafka-connect-healthcheck:dev}
SUITE=bookworm  # Debian 12: python3 is 3.11, like the python:3.11-slim default
LOCAL_BASE=localhost/kafka-connect-healthcheck-base:$SUITE
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/kafka-connect-healthcheck
RUNTIME=${PODMAN_RUNTIME:-/usr/sbin/runc}

say() { echo "build-image: $*" >&2; }

install_tools() {
  local missing=()
  command -v podman >/dev/null || missing+=(podman)
  [ -x "$RUNTIME" ] || missing+=(runc)
  if [ -z "${BASE_IMAGE:-}" ] && ! command -v debootstrap >/dev/null; then missing+=(debootstrap); fi
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]} from Debian packages"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  fi
}

# The Debian mirror apt already uses (deb822 .sources or a one-line sources.list), else the default one.
debian_mirror() {
  local mirror
  mirror=$(grep -hsE '^URIs:.*/debian/?$' /etc/apt/sources.list.d/*.sources | head -n1 | awk '{print $2}')
  [ -n "$mirror" ] || mirror=$(grep -hsE '^deb .*/debian/? ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
    | head -n1 | awk '{print $2}')
  echo "${mirror:-http://deb.debian.org/debian}"
}

make_local_base() {
  if podman image exists "$LOCAL_BASE"; then return; fi
  local tarball=$CACHE/base-$SUITE.tar
  if [ ! -s "$tarball" ]; then
    local mirror root
    mirror=$(debian_mirror)
    root=$(mktemp -d "${TMPDIR:-/tmp}/kch-rootfs.XXXXXX")
    # shellcheck disable=SC2064  # expand $root now: the trap must remove this very directory
    trap "rm -rf '$root'" EXIT
    say "debootstrap $SUITE from $mirror (once; cached in $tarball)"
    debootstrap --variant=minbase --include=python3,python3-venv "$SUITE" "$root" "$mirror" >&2
    # What a slim image leaves out: package lists, caches, docs, man pages, locales.
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
      "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
      "$root"/var/log/*.log "$root"/var/log/apt/*
    mkdir -p "$CACHE"
    tar --numeric-owner -C "$root" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
    trap - EXIT
  fi
  say "importing $tarball as $LOCAL_BASE"
  podman import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' "$tarball" "$LOCAL_BASE" >/dev/null
}

# The CA bundle pip trusts on this machine (pip config or PIP_CERT): handed to the build as a secret.
pip_cert() {
  local cert=${PIP_CERT:-}
  [ -n "$cert" ] || cert=$(python3 -m pip config get global.cert 2>/dev/null || true)
  [ -n "$cert" ] || cert=/etc/ssl/certs/ca-certificates.crt
  [ -s "$cert" ] && echo "$cert"
  return 0
}

pip_index_url() {
  local url=${PIP_INDEX_URL:-}
  [ -n "$url" ] || url=$(python3 -m pip config get global.index-url 2>/dev/null || true)
  echo "$url"
}

install_tools
base=${BASE_IMAGE:-}
if [ -z "$base" ]; then
  make_local_base
  base=$LOCAL_BASE
fi

args=(--runtime "$RUNTIME" build
  --format docker  # HEALTHCHECK exists only in the docker image format; OCI drops it
  --network host   # reach the package index through the host's network (no bridge needed)
  --build-arg "BASE_IMAGE=$base"
  # what it was built from, so the image tests run only against an image of the current sources
  --label "io.kafka-connect-healthcheck.source-digest=$(python3 deploy/podman/source_digest.py)"
  --tag "$IMAGE")
cert=$(pip_cert)
if [ -n "$cert" ]; then args+=(--secret "id=pipcert,src=$cert"); fi
index=$(pip_index_url)
if [[ "$index" == *@* ]]; then
  # A build argument is printed here and kept in the image history: never one with credentials.
  say "not passing pip's index URL: it holds credentials (the build uses https://pypi.org/simple)"
elif [ -n "$index" ]; then
  args+=(--build-arg "PIP_INDEX_URL=$index")
fi

say "podman ${args[*]} ."
start=$(date +%s)
podman "${args[@]}" .
say "built $IMAGE on $base in $(( $(date +%s) - start )) s; size $(podman image inspect --format '{{.Size}}' "$IMAGE" \
  | awk '{printf "%.1f MB", $1 / 1e6}')"
