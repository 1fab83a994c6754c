#!/bin/bash
# bench/guile/run.sh <builddir>: programs built for bdwgc, unmodified, on bdwgc and on Shade's
# libgc.so.1 (LD_LIBRARY_PATH=<builddir>/compat/bdwgc/lib), side by side:
#   guile-bt     Guile 3.0 running bench/guile/binary_trees.scm (depth GUILE_BT_DEPTH, 18)
#   guile-weak   Guile 3.0 running bench/guile/weak_table.scm (GUILE_WEAK_OPS, 2000000)
#   guile-bt-inc guile-bt with GC_ENABLE_INCREMENTAL=1 on both: bdwgc's incremental mode (page
#                protection) against Shade's generations (the kernel's written pages)
#   w3m          w3m -dump of a generated page (tests/compat/make_page.py, W3M_PAGE_COPIES x)
# BENCH_RUNS (5) interleaved runs of each; every run is listed with its wall time and peak RSS
# (GNU time), then the median and worst of each and the ratios Shade / bdwgc. Outputs are checked:
# the Scheme scripts check themselves, and w3m's output on Shade must equal bdwgc's.
# Results also go to GUILE_RESULTS (bench/results/bdwgc_programs.md; "" for nowhere).
# GUILE_WORKLOADS chooses among the workloads above (all by default).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
[ $# -eq 1 ] || { echo "usage: $0 <builddir>" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/bench/common.sh"
LIB=$BUILD/compat/bdwgc/lib
RUNS=${BENCH_RUNS:-5}
RESULTS=${GUILE_RESULTS-$ROOT/bench/results/bdwgc_programs.md}
WORK=$BUILD/bench-guile
mkdir -p "$WORK"
[ -e "$LIB/libgc.so.1" ] || { echo "no $LIB/libgc.so.1: build first" >&2; exit 2; }
for tool in guile-3.0 w3m /usr/bin/time; do
  command -v "$tool" >/dev/null || apt-get install -y -qq guile-3.0 w3m time >/dev/null 2>&1
done
export XDG_CACHE_HOME=$WORK/cache GUILE_AUTO_COMPILE=1 # compiled once, below, for both
BT_DEPTH=${GUILE_BT_DEPTH:-18}
WEAK_OPS=${GUILE_WEAK_OPS:-2000000}
page=$WORK/page.html
[ -s "$page" ] || for _ in $(seq "${W3M_PAGE_COPIES:-4}"); do python3 "$ROOT/tests/compat/make_page.py"; done > "$page"

declare -A command
command[guile-bt]="guile-3.0 $ROOT/bench/guile/binary_trees.scm $BT_DEPTH"
command[guile-weak]="guile-3.0 $ROOT/bench/guile/weak_table.scm $WEAK_OPS"
command[guile-bt-inc]="env GC_ENABLE_INCREMENTAL=1 guile-3.0 $ROOT/bench/guile/binary_trees.scm $BT_DEPTH"
command[w3m]="w3m -dump -T text/html $page"
workloads=${GUILE_WORKLOADS:-guile-bt guile-bt-inc guile-weak w3m}
guile-3.0 -c '(display "")' >/dev/null 2>&1
for w in guile-bt guile-weak; do ${command[$w]/$BT_DEPTH/4} >/dev/null 2>&1; done # compile

declare -A wall rss
failed=0
every_run=""
run_one() { # workload collector run
  local env=() out="$WORK/$1.$2.out"
  [ "$2" = shade ] && env=(env "LD_LIBRARY_PATH=$LIB")
  if ! "${env[@]}" /usr/bin/time -f 'TIME %e %M' -o "$WORK/time" ${command[$1]} >"$out" 2>"$WORK/err"; then
    echo "  $1 on $2: FAILED ($(tail -1 "$WORK/err"))"
    failed=1
    return
  fi
  if [ "$1" = w3m ] && [ "$2" = shade ] && ! cmp -s "$out" "$WORK/w3m.bdwgc.out"; then
    echo "  w3m on shade: output differs from bdwgc's"
    failed=1
  fi
  read -r _ seconds kib < "$WORK/time"
  wall[$1.$2]+="$seconds "
  rss[$1.$2]+="$(awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }') "
  local line
  line=$(printf '  %-12s %-6s run %d: %6.2f s  %7.1f MB' "$1" "$2" "$3" "$seconds" "$(awk -v k="$kib" 'BEGIN { print k / 1024 }')")
  echo "$line"
  every_run+="$line
"
}

echo "Programs built for bdwgc, on bdwgc and on Shade's libgc.so.1 ($RUNS interleaved runs, load $(load_average))"
for r in $(seq "$RUNS"); do
  for w in $workloads; do
    run_one "$w" bdwgc "$r"
    run_one "$w" shade "$r"
  done
done

table="| workload | bdwgc wall s (median, worst) | Shade wall s (median, worst) | Shade / bdwgc | bdwgc RSS MB | Shade RSS MB | Shade / bdwgc |
|---|---:|---:|---:|---:|---:|---:|"
for w in $workloads; do
  bw=$(echo "${wall[$w.bdwgc]:-}" | median_of_runs); sw=$(echo "${wall[$w.shade]:-}" | median_of_runs)
  br=$(echo "${rss[$w.bdwgc]:-}" | median_of_runs); sr=$(echo "${rss[$w.shade]:-}" | median_of_runs)
  table+="
| $w | $bw, $(echo "${wall[$w.bdwgc]:-}" | worst_of_runs) | $sw, $(echo "${wall[$w.shade]:-}" | worst_of_runs) | $(ratio "$sw" "$bw") | $br | $sr | $(ratio "$sr" "$br") |"
done
echo
echo "$table"
write_results "$RESULTS" "$BUILD" "$ROOT" "Programs built for bdwgc on Shade's libgc.so.1" \
  "\`bash bench/guile/run.sh $1\`,
$RUNS interleaved runs; Guile 3.0 binary-trees depth $BT_DEPTH (guile-bt-inc: with GC_ENABLE_INCREMENTAL=1, bdwgc's incremental mode against Shade's generations), weak table $WEAK_OPS operations, w3m -dump of a $(du -k "$page" | cut -f1) KiB page." \
  "$table

Every run:

\`\`\`
$every_run\`\`\`"
exit $failed
