#!/usr/bin/env bash
# make browser: make sure Debian's Chromium is installed for tests/test_browser.py, which drives
# /usr/bin/chromium with Playwright (Playwright's own browser downloads are never used), with the
# fonts the screenshots need. Installs them as root with apt-get when missing; otherwise one line.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
PACKAGES=(chromium fonts-liberation fonts-dejavu-core)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
runs() { "$CHROMIUM" --headless --no-sandbox --version >/dev/null 2>&1; }

missing=()
for package in "${PACKAGES[@]}"; do
  installed "$package" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ] && runs; then
  exit 0
fi
[ ${#missing[@]} -gt 0 ] || missing=(chromium) # installed, but does not start: reinstall it

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium: ${missing[*]} missing; as root on Debian: apt-get install ${missing[*]}" >&2
  exit 1
fi

echo "chromium: installing Debian's ${missing[*]} with apt-get"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends --reinstall "${missing[@]}"; } >"$log" 2>&1; then
  echo "chromium: apt-get could not install ${missing[*]}: $(grep -E '^(E|Err):' "$log" | head -n 1 || tail -n 1 "$log")" >&2
  exit 1
fi
runs || { echo "chromium: installed, but $CHROMIUM --headless --version does not run" >&2; exit 1; }
