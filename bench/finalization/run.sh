#!/bin/bash
# bench/finalization/run.sh <builddir>: the finalizer-heavy and weak-table workloads
# (bench/finalizers.c, bench/weak_table.c) for Shade and bdwgc, BENCH_RUNS (5) interleaved runs.
# Every run is listed (wall s, peak RSS MB, collections, longest pause), then medians and worst
# runs and the ratios Shade / bdwgc. A run whose program exits non-zero (a finalizer that saw a
# broken object, one that ran while its list was kept, a weak-table value lost) is a failure.
# Results also go to FIN_RESULTS (bench/results/finalization.md; "" for nowhere).
#   FIN_NODES (1000000) FIN_ROUNDS (4): finalizers; WEAK_OPS (4000000) WEAK_SLOTS (1000000)
#   WEAK_KEPT (100000): weak_table.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
[ $# -eq 1 ] || { echo "usage: $0 <builddir>   (configured with -DSHADE_BUILD_BENCH=ON)" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/bench/common.sh"
RUNS=${BENCH_RUNS:-5}
RESULTS=${FIN_RESULTS-$ROOT/bench/results/finalization.md}
declare -A args
args[finalizers]="${FIN_NODES:-1000000} ${FIN_ROUNDS:-4}"
args[weak_table]="${WEAK_OPS:-4000000} ${WEAK_SLOTS:-1000000} ${WEAK_KEPT:-100000}"
declare -A wall rss cycles pause
failed=0
echo "Finalizers and weak tables, Shade and bdwgc ($RUNS interleaved runs, load $(load_average))"
for r in $(seq "$RUNS"); do
  for w in finalizers weak_table; do
    for a in shade bdwgc; do
      exe=$BUILD/bench/${w}_$a
      [ -x "$exe" ] || { echo "  $w $a: not built"; continue; }
      # shellcheck disable=SC2086
      line=$("$exe" ${args[$w]} 2>&1 >/dev/null | grep '^BENCH') || { echo "  $w $a run $r: FAILED"; failed=1; continue; }
      wall[$w.$a]+="$(field wall_s "$line") "; rss[$w.$a]+="$(field maxrss_mb "$line") "
      cycles[$w.$a]+="$(field cycles "$line") "
      p=$(field pause_max_ns "$line"); [ "$p" != - ] && p=$(awk -v n="$p" 'BEGIN { printf "%.1f", n / 1e6 }')
      pause[$w.$a]+="$p "
      printf '  %-10s %-5s run %d: %7.2f s %8.1f MB %5s collections, longest pause %s ms%s\n' "$w" "$a" "$r" \
        "$(field wall_s "$line")" "$(field maxrss_mb "$line")" "$(field cycles "$line")" "$p" \
        "$( [ "$w" = weak_table ] && echo ", $(field ops_per_s "$line") ops/s" || echo ", finalized $(field finalized "$line") of $(field of "$line")")"
    done
  done
done
table="| workload | bdwgc wall s (median, worst) | Shade wall s (median, worst) | Shade / bdwgc | bdwgc RSS MB | Shade RSS MB | Shade / bdwgc | collections bdwgc / Shade |
|---|---:|---:|---:|---:|---:|---:|---:|"
for w in finalizers weak_table; do
  bw=$(echo "${wall[$w.bdwgc]:-}" | median_of_runs); sw=$(echo "${wall[$w.shade]:-}" | median_of_runs)
  br=$(echo "${rss[$w.bdwgc]:-}" | median_of_runs); sr=$(echo "${rss[$w.shade]:-}" | median_of_runs)
  table+="
| $w | $bw, $(echo "${wall[$w.bdwgc]:-}" | worst_of_runs) | $sw, $(echo "${wall[$w.shade]:-}" | worst_of_runs) | $(ratio "$sw" "$bw") | $br | $sr | $(ratio "$sr" "$br") | $(echo "${cycles[$w.bdwgc]:-}" | median_of_runs) / $(echo "${cycles[$w.shade]:-}" | median_of_runs) |"
done
echo; echo "$table"
write_results "$RESULTS" "$BUILD" "$ROOT" "Finalizers and weak tables: Shade and bdwgc" \
  "\`bash bench/finalization/run.sh $1\`, $RUNS interleaved runs." "$table"
exit $failed
