#!/usr/bin/env bash
# Make sure Debian packages are installed: scripts/debian-packages.sh WHAT PACKAGE...
# (WHAT names the need in messages: `chromium`, `faketime`.) Says nothing when all are there;
# as root on Debian installs the missing ones with apt-get (the system's own sources);
# otherwise says what to run and fails. REINSTALL=1 reinstalls them even when installed.
set -euo pipefail

what=$1
shift
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

missing=()
for package in "$@"; do
  [ "${REINSTALL:-0}" = 1 ] || ! installed "$package" && missing+=("$package")
done
[ ${#missing[@]} -gt 0 ] || exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "$what: ${missing[*]} missing; as root on Debian: apt-get install ${missing[*]}" >&2
  exit 1
fi

echo "$what: installing Debian's ${missing[*]} with apt-get"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends --reinstall "${missing[@]}"; } >"$log" 2>&1; then
  echo "$what: apt-get could not install ${missing[*]}: $(grep -E '^(E|Err):' "$log" | head -n 1 || tail -n 1 "$log")" >&2
  exit 1
fi
