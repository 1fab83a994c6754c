#!/bin/bash
# bench/mark/run.sh <builddir>: the marking rate (bench/mark_rate.c) of Shade and bdwgc, side by
# side: the time of one full collection of a live heap of MARK_NODES (2000000) two-pointer nodes,
# laid out as a tree allocated parents first, the same allocated children first (a Lisp's cons
# order), and a random graph (bench/mark_rate.c says why each), BENCH_RUNS (5) interleaved runs, each
# once with one marking thread (SHADE_MARKERS=1, GC_MARKERS=1) and once with the defaults
# (every core). Every run is listed, then the median and worst of the runs' medians, and the
# ratios Shade / bdwgc. Results also go to MARK_RESULTS (bench/results/mark_rate.md; "" for none).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
[ $# -eq 1 ] || { echo "usage: $0 <builddir>   (configured with -DSHADE_BUILD_BENCH=ON)" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/bench/common.sh"
RUNS=${BENCH_RUNS:-5}
NODES=${MARK_NODES:-2000000}
RESULTS=${MARK_RESULTS-$ROOT/bench/results/mark_rate.md}
declare -A ms
failed=0
echo "Marking rate, Shade and bdwgc ($RUNS interleaved runs, $NODES nodes, load $(load_average))"
for r in $(seq "$RUNS"); do
  for markers in 1 default; do
    for a in shade bdwgc; do
      exe=$BUILD/bench/mark_rate_$a
      [ -x "$exe" ] || { echo "  $a: not built"; failed=1; continue; }
      env=()
      [ "$markers" = 1 ] && env=(SHADE_MARKERS=1 GC_MARKERS=1)
      line=$(env "${env[@]}" "$exe" "$NODES" 2>&1 >/dev/null | grep '^BENCH') ||
        { echo "  $a markers=$markers run $r: FAILED"; failed=1; continue; }
      for heap in tree post random; do
        ms[$heap.$markers.$a]+="$(field ${heap}_median_ms "$line") "
      done
      printf '  %-5s markers=%-7s run %d: tree %7.2f ms, post %7.2f ms, random %7.2f ms\n' \
        "$a" "$markers" "$r" "$(field tree_median_ms "$line")" "$(field post_median_ms "$line")" \
        "$(field random_median_ms "$line")"
    done
  done
done
table="| heap | markers | bdwgc ms (median, worst) | Shade ms (median, worst) | Shade / bdwgc (median) | Shade / bdwgc (worst) |
|---|---|---:|---:|---:|---:|"
for heap in tree post random; do
  for markers in 1 default; do
    b=${ms[$heap.$markers.bdwgc]:-}; s=${ms[$heap.$markers.shade]:-}
    bm=$(echo "$b" | median_of_runs); bw=$(echo "$b" | worst_of_runs)
    sm=$(echo "$s" | median_of_runs); sw=$(echo "$s" | worst_of_runs)
    table+="
| $heap | $markers | $bm, $bw | $sm, $sw | $(ratio "$sm" "$bm") | $(ratio "$sw" "$bw") |"
  done
done
echo; echo "$table"
write_results "$RESULTS" "$BUILD" "$ROOT" "Marking rate: Shade and bdwgc" \
  "\`bash bench/mark/run.sh $1\`, $RUNS interleaved runs, $NODES nodes; each run's figure is the median of 15 collections." \
  "$table"
exit $failed
