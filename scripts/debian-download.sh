#!/usr/bin/env bash
# Download Debian packages of the system's own suites, for any architecture, without
# changing the system: scripts/debian-download.sh ARCH DIR PACKAGE...
#
# The apt configuration is private (a copy of the system's sources, lists and cache in a
# temporary directory, `-o APT::Architecture=ARCH`): the system's sources, lists and dpkg
# state (its architectures included: never `dpkg --add-architecture`) are not touched.
# A package whose .deb for ARCH is already in DIR is not downloaded again. Prints, one a
# line, the .deb of each package (the newest in DIR); one line on stderr and exit 1 on failure.
set -euo pipefail

arch=${1:?usage: scripts/debian-download.sh ARCH DIR PACKAGE...}
dir=${2:?usage: scripts/debian-download.sh ARCH DIR PACKAGE...}
shift 2
[ $# -gt 0 ] || { echo "usage: scripts/debian-download.sh ARCH DIR PACKAGE..." >&2; exit 2; }

die() { echo "debian-download: $*" >&2; exit 1; }

# shellcheck source=scripts/deb-of.sh
. "$(dirname "$0")/deb-of.sh"

deb_of() {  # the newest .deb of a package for $arch in $dir
  newest_deb "$dir" "$1" "$arch"
}

missing=()
for package in "$@"; do deb_of "$package" >/dev/null || missing+=("$package"); done

if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "no apt-get: cannot download ${missing[*]} (Debian only)"
  sources=()
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -s "$file" ] && sources+=("$file")
  done
  [ ${#sources[@]} -gt 0 ] || die "no apt sources under /etc/apt: cannot download ${missing[*]}"
  mkdir -p "$dir" || die "cannot create $dir"
  work=$(mktemp -d "$dir/.fetch.XXXXXX") || die "cannot write in $dir"
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/parts" "$work/debs"
  cp "${sources[@]}" "$work/parts/"
  # sources.list itself is read as a part: the name must end in .list
  [ -e "$work/parts/sources.list" ] && mv "$work/parts/sources.list" "$work/parts/system.list"
  apt=(apt-get -q -o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$work/parts"
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
    -o "APT::Architecture=$arch" -o "APT::Architectures=$arch")
  [ "$(id -u)" = 0 ] && apt+=(-o APT::Sandbox::User=root)
  log=$work/apt.log
  "${apt[@]}" update >"$log" 2>&1 \
    || die "apt-get update ($arch) failed: $(grep -E '^(E|Err):' "$log" | head -n 1 || tail -n 1 "$log")"
  (cd "$work/debs" && "${apt[@]}" download "${missing[@]}") >"$log" 2>&1 \
    || die "apt-get download ${missing[*]} ($arch) failed: $(grep -E '^(E|Err):' "$log" | head -n 1 || tail -n 1 "$log")"
  mv -f "$work/debs/"*.deb "$dir/"
fi

for package in "$@"; do
  deb_of "$package" || die "no $package .deb for $arch in $dir"
done
