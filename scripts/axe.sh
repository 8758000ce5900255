#!/usr/bin/env bash
# make browser: make sure node_modules/axe-core/axe.min.js is the axe-core package-lock.json pins,
# which tests/test_browser.py injects into every page. Runs `npm ci` when the file is missing or
# another version is installed; otherwise says nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

AXE=node_modules/axe-core

locked() { node -p 'require("./package-lock.json").packages["node_modules/axe-core"].version' 2>/dev/null; }
installed() { node -p "require('./$AXE/package.json').version" 2>/dev/null; }

if [ -f "$AXE/axe.min.js" ] && command -v node >/dev/null 2>&1 && [ "$(installed)" = "$(locked)" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  echo "axe-core: npm (and node) missing; install Node.js 20 with npm (Debian: apt-get install npm), then make browser" >&2
  exit 1
fi

echo "axe-core: installing $(locked) from package-lock.json with npm ci"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! npm ci --no-audit --no-fund >"$log" 2>&1; then
  echo "axe-core: npm ci failed: $(grep -m 1 'npm error' "$log" || tail -n 1 "$log")" >&2
  exit 1
fi
[ -f "$AXE/axe.min.js" ] || { echo "axe-core: npm ci ran, but $AXE/axe.min.js is missing" >&2; exit 1; }
