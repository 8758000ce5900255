#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the browser tests (placeholder; see tests/test_browser.py).
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
[ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || { echo "chromium: missing; install Debian's chromium" >&2; exit 1; }
echo "chromium: installing Debian's chromium with apt-get"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
