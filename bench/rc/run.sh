#!/bin/sh
# bench/rc/run.sh <builddir>: Shade's RC cycle collector against CPython's gc, side by side.
#
# Runs <builddir>/bench/rc/rc_cycles and bench/rc/rc_cycles.py (same structures, same generator)
# RC_BENCH_RUNS times each (default 3), interleaved, for two workloads:
#   mixed:     LIVE=500000 kept + GARBAGE=500000 dropped before each collection
#   live-only: 1000000 kept, nothing to free (the pure cost of finding that nothing is garbage)
# and prints, per workload, the median ns per tracked object of a full collection for each and the
# ratio Shade/CPython (target: at most 0.5). PYTHON selects the interpreter (default python3).
set -u
if [ $# -ne 1 ]; then
  echo "usage: $0 <builddir>" >&2
  exit 2
fi
BIN=$1/bench/rc/rc_cycles
SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python3}
RUNS=${RC_BENCH_RUNS:-3}
if [ ! -x "$BIN" ]; then
  echo "run.sh: $BIN not built (configure with -DSHADE_BUILD_BENCH=ON)" >&2
  exit 2
fi

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
figure() { sed -n 's/.*ns_per_object=\([0-9.]*\).*/\1/p'; }

status=0
echo "RC cycle collection, ns per tracked object (median of $RUNS runs; $($PY --version 2>&1))"
for workload in "mixed 500000 500000" "live-only 1000000 0"; do
  set -- $workload
  name=$1; live=$2; garbage=$3
  shade_file=$(mktemp); py_file=$(mktemp)
  for run in $(seq 1 "$RUNS"); do
    "$BIN" "$live" "$garbage" 5 2>/dev/null | figure >>"$shade_file" || status=1
    "$PY" "$SCRIPT_DIR/rc_cycles.py" "$live" "$garbage" 5 2>/dev/null | figure >>"$py_file" || status=1
  done
  s=$(median <"$shade_file"); p=$(median <"$py_file")
  rm -f "$shade_file" "$py_file"
  awk -v n="$name" -v s="$s" -v p="$p" 'BEGIN {
    r = (p > 0) ? s / p : 0
    printf "  %-10s shade %7.2f ns   cpython %7.2f ns   shade/cpython %.2f  %s\n", n, s, p, r,
           (r <= 0.5) ? "(target <= 0.50 met)" : "(target <= 0.50 MISSED)" }'
done
exit $status
