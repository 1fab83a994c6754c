#!/bin/bash
# bench/compare_builds.sh <old-builddir> <new-builddir>: Shade against itself, before and after a
# change, on the core and churn workloads, interleaved so that a slow phase of the machine hits
# both builds alike (run k runs old then new for odd k, new then old for even k).
#
# Every run is listed, then per build the median and the worst run, and new/old of the medians.
# Workloads: binary-trees (wall, CPU, peak RSS, longest pause), GCBench (in-program ms, peak RSS),
# churn in stw, concurrent and incremental mode (ops/s, slowest operation, longest pause, RSS).
# Both builds must be configured with -DSHADE_BUILD_BENCH=ON and built.
#
# Environment: BENCH_RUNS=5, BT_DEPTH=21, CHURN_SECONDS=10, CHURN_SLOTS=1000000,
#              COMPARE_WORKLOADS="bt gcbench churn-stw churn-concurrent churn-incremental"
#              (also "cache", with CACHE_ENTRIES and CACHE_SECONDS: requests/s, slowest request,
#              longest pause, longest young pause (0 without generations), RSS, CPU; and "bt-barrier":
#              binary-trees storing every pointer through shade_write),
#              OLD_ENV / NEW_ENV: variables for each side, e.g. to compare one build with itself:
#              OLD_ENV=SHADE_GENERATIONAL=off NEW_ENV=SHADE_GENERATIONAL=on ... build-bench build-bench
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
if [ $# -ne 2 ]; then
  echo "usage: $0 <old-builddir> <new-builddir>" >&2
  exit 2
fi
OLD=$1/bench NEW=$2/bench
SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/common.sh
. "$SCRIPT_DIR/common.sh"
RUNS=${BENCH_RUNS:-5}
DEPTH=${BT_DEPTH:-21}
WORKLOADS=${COMPARE_WORKLOADS:-bt gcbench churn-stw churn-concurrent churn-incremental}
LOG=$(mktemp -d)
trap 'rm -rf "$LOG"' EXIT

# One run: prints "metric=value ..." for the workload, or "FAILED".
run_one() { # dir workload side-environment
  local dir=$1 workload=$2 side_env=$3 out err line
  out=$LOG/out err=$LOG/err
  # shellcheck disable=SC2086
  case $workload in
    bt) env -u SHADE_MODE $side_env "$dir/bt_shade" "$DEPTH" >"$out" 2>"$err" ;;
    bt-barrier) env -u SHADE_MODE $side_env "$dir/bt_shade_barrier" "$DEPTH" >"$out" 2>"$err" ;;
    gcbench) env -u SHADE_MODE $side_env "$dir/gcbench_shade" >"$out" 2>"$err" ;;
    cache) env -u SHADE_MODE $side_env "$dir/cache_shade" >"$out" 2>"$err" ;;
    churn-*) env SHADE_MODE=${workload#churn-} $side_env "$dir/churn_shade" >"$out" 2>"$err" ;;
  esac || { echo FAILED; return; }
  line=$(grep '^BENCH' "$err" | tail -1)
  case $workload in
    bt | bt-barrier) echo "wall_s=$(field wall_s "$line") cpu_s=$(field cpu_s "$line")" \
             "rss_mb=$(field maxrss_mb "$line") pause_ms=$(awk -v n="$(field pause_max_ns "$line")" 'BEGIN{printf "%.2f", n/1e6}')" ;;
    gcbench) echo "program_ms=$(sed -n 's/.*Completed in \([0-9]*\) msec.*/\1/p' "$out")" \
                  "rss_mb=$(field maxrss_mb "$line")" ;;
    cache) echo "requests_per_s=$(field requests_per_s "$line")" \
                "slowest_ms=$(awk -v n="$(field max_ns "$line")" 'BEGIN{printf "%.2f", n/1e6}')" \
                "pause_ms=$(awk -v n="$(field pause_max_ns "$line")" 'BEGIN{printf "%.3f", n/1e6}')" \
                "young_ms=$(awk -v n="$(field young_pause_max_ns "$line")" 'BEGIN{printf "%.3f", n/1e6}')" \
                "rss_mb=$(field maxrss_mb "$line") cpu_s=$(field cpu_s "$line")" ;;
    churn-*) echo "ops_per_s=$(field ops_per_s "$line")" \
                  "slowest_ms=$(awk -v n="$(field max_ns "$line")" 'BEGIN{printf "%.2f", n/1e6}')" \
                  "pause_ms=$(awk -v n="$(field pause_max_ns "$line")" 'BEGIN{printf "%.3f", n/1e6}')" \
                  "rss_mb=$(field maxrss_mb "$line") mode=$(field mode "$line")" ;;
  esac
}

declare -A results
echo "# Shade before/after: old=$1 ${OLD_ENV:-} new=$2 ${NEW_ENV:-}, $RUNS interleaved runs, load $(load_average) at start"
for ((k = 1; k <= RUNS; k++)); do
  for workload in $WORKLOADS; do
    order="old new"
    ((k % 2 == 0)) && order="new old"
    for build in $order; do
      dir=$OLD side_env=${OLD_ENV:-}
      [ "$build" = new ] && dir=$NEW side_env=${NEW_ENV:-}
      r=$(run_one "$dir" "$workload" "$side_env")
      results[$workload,$build,$k]=$r
      printf 'run %d %-18s %-3s %s  (load %s)\n' "$k" "$workload" "$build" "$r" "$(load_average)"
    done
  done
done

# Whether larger is better for a metric.
higher_is_better() { [ "$1" = ops_per_s ] || [ "$1" = requests_per_s ]; }

echo
echo "| workload | metric | old median | old worst | new median | new worst | new/old (medians) |"
echo "|---|---|---:|---:|---:|---:|---:|"
for workload in $WORKLOADS; do
  metrics=$(printf '%s\n' "${results[$workload,old,1]}" | tr ' ' '\n' | sed -n 's/=.*//p' | grep -v '^mode$')
  for metric in $metrics; do
    declare -A median worst
    for build in old new; do
      values=$(for ((k = 1; k <= RUNS; k++)); do field "$metric" " ${results[$workload,$build,$k]}"; done | grep -v '^-$')
      median[$build]=$(printf '%s\n' "$values" | median)
      if higher_is_better "$metric"; then
        worst[$build]=$(printf '%s\n' "$values" | sort -g | head -1)
      else
        worst[$build]=$(printf '%s\n' "$values" | sort -g | tail -1)
      fi
    done
    echo "| $workload | $metric | ${median[old]} | ${worst[old]} | ${median[new]} | ${worst[new]} | $(ratio "${median[new]}" "${median[old]}") |"
  done
done
