#!/usr/bin/env bash
# make browser: make sure Debian's Chromium is installed for tests/test_browser.py, which drives
# /usr/bin/chromium with Playwright (Playwright's own browser downloads are never used), with the
# fonts the screenshots need. Installs them as root with apt-get when missing; otherwise silent.
set -euo pipefail
cd "$(dirname "$0")"

CHROMIUM=/usr/bin/chromium
runs() { "$CHROMIUM" --headless --no-sandbox --version >/dev/null 2>&1; }

bash debian-packages.sh chromium chromium fonts-liberation fonts-dejavu-core
runs && exit 0
REINSTALL=1 bash debian-packages.sh chromium chromium # installed, but does not start: reinstall it
runs || { echo "chromium: installed, but $CHROMIUM --headless --version does not run" >&2; exit 1; }
