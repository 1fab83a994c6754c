#!/bin/sh
# run_snapshot_test.sh <snapshot_graph> <check_snapshot.js> <work dir>
# Installs v8-heapsnapshot from the npm registry into <work dir>/npm (once), has snapshot_graph
# write snapshots (shade_write_heap_snapshot; SHADE_HEAP_SNAPSHOT at exit and on SIGUSR2), and
# checks each with check_snapshot.js. Without node, npm or the package: says so, exits 77 (skip).
set -u
graph=$1 checker=$2 work=$3
mkdir -p "$work"
for tool in node npm; do
  if ! command -v $tool >/dev/null 2>&1; then
    echo "SKIPPED: $tool is not installed (the snapshot test reads snapshots with node)"; exit 77
  fi
done
modules="$work/npm/node_modules"
if [ ! -f "$modules/v8-heapsnapshot/package.json" ]; then
  if ! npm install --prefix "$work/npm" --no-audit --no-fund v8-heapsnapshot@1 \
      >"$work/npm-install.log" 2>&1; then
    echo "SKIPPED: 'npm install v8-heapsnapshot' failed (no registry?), see $work/npm-install.log"
    exit 77
  fi
fi
status=0
rm -f "$work"/*.heapsnapshot*
"$graph" api "$work/api.heapsnapshot" "$work/api-facts.json" || exit 1
node "$checker" "$modules" "$work/api.heapsnapshot" "$work/api-facts.json" || status=1
SHADE_HEAP_SNAPSHOT="$work/env.heapsnapshot" SHADE_HEAP_SNAPSHOT_SIGNAL=SIGUSR2 \
  "$graph" env "$work/env-facts.json" || exit 1
for f in "$work/env.heapsnapshot.1" "$work/env.heapsnapshot"; do
  when=running
  [ "$f" = "$work/env.heapsnapshot" ] && when=at-exit
  if [ -f "$f" ]; then
    node "$checker" "$modules" "$f" "$work/env-facts.json" $when || status=1
  else
    echo "FAIL: $f was not written"; status=1
  fi
done
exit $status
