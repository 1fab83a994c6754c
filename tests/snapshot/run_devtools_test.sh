#!/bin/sh
# run_devtools_test.sh <snapshot_graph> <devtools_check.js> <work dir>
# The heap snapshot opened in Chrome DevTools itself: Chromium's bundled DevTools, headless,
# driven by puppeteer-core (installed from the npm registry into <work dir>/npm once). Installs
# Debian's chromium when it is missing and the test runs as root. Without node, npm, chromium or
# the package: says so and exits 77 (skipped).
set -u
graph=$1 checker=$2 work=$3
mkdir -p "$work"
for tool in node npm; do
  if ! command -v $tool >/dev/null 2>&1; then
    echo "SKIPPED: $tool is not installed (the DevTools test drives Chromium from node)"; exit 77
  fi
done
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium (once)"
  { timeout 600 apt-get install -y -qq chromium || { apt-get update -qq &&
      timeout 600 apt-get install -y -qq chromium; }; } >"$work/apt.log" 2>&1
fi
if [ ! -x "$CHROMIUM" ]; then
  echo "SKIPPED: no Chromium at $CHROMIUM (apt-get install chromium), see $work/apt.log"; exit 77
fi
modules="$work/npm/node_modules"
if [ ! -f "$modules/puppeteer-core/package.json" ]; then
  if ! PUPPETEER_SKIP_DOWNLOAD=1 npm install --prefix "$work/npm" --no-audit --no-fund \
      puppeteer-core >"$work/npm-install.log" 2>&1; then
    echo "SKIPPED: 'npm install puppeteer-core' failed (no registry?), see $work/npm-install.log"
    exit 77
  fi
fi
rm -f "$work/devtools.heapsnapshot"
"$graph" api "$work/devtools.heapsnapshot" "$work/devtools-facts.json" || exit 1
CHROMIUM=$CHROMIUM node "$checker" "$modules" "$work/devtools.heapsnapshot" "$work/devtools-facts.json"
