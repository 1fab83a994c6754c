#!/bin/bash
# bench/run.sh <builddir>: run the core-collector benchmarks and print Shade's ratios to its peers.
#
# Every workload runs BENCH_RUNS times for each allocator, interleaved (shade, bdwgc, malloc,
# mimalloc, jemalloc, go, shade, ...) so that a slow phase of the machine hits all of them alike.
# The optional peers (mimalloc, jemalloc, go) are skipped with a line when they were not built
# (bench/install-deps.sh could not install them), and for a workload they have no version of
# (there is no Go GCBench). Each run's output is checked
# against the expected checksum lines; a wrong output, a crash or a timeout marks that allocator as
# FAILED for the workload, the others go on, and the script exits 1 at the end. The medians of
# wall time, user+sys CPU and peak RSS (from each program's BENCH line on stderr) go into a table on
# stdout and into bench/results/latest.md.
#
# Environment:
#   BENCH_RUNS=3            runs per allocator and workload (the median is reported)
#   BT_DEPTH=21             binary-trees depth
#   BENCH_ALLOCATORS="shade bdwgc malloc mimalloc jemalloc go"   which builds to run (the first is
#                           compared to the rest)
#   BENCH_WORKLOADS="bt gcbench"
#   BENCH_TIMEOUT=600       seconds before a run is killed and counted as failed
#   BENCH_RESULTS=bench/results/latest.md   where the markdown table goes ("" for nowhere)
#   BENCH_ONLY_CORE=1       only these; otherwise the rc, memory, churn and cache benchmarks follow
#   BENCH_SKIP_CACHE=1      all but the cache benchmark (bench/cache/run.sh)
#   BENCH_SMOKE=1           everything with tiny sizes, to prove it works end to end (2-3 minutes;
#                           the figures mean nothing): BENCH_RUNS=2, BT_DEPTH=12, CHURN_SLOTS=20000,
#                           CHURN_SECONDS=1, CACHE_ENTRIES=20000, CACHE_SECONDS=1, BENCH_MEMORY_MIB=64,
#                           RC_BENCH_RUNS=1 (each unless set), and every results file under
#                           <builddir>/bench/smoke-results/ instead of bench/results/
# The Makefile runs `sh bench/run.sh`; the script needs bash (associative arrays).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u

if [ $# -ne 1 ]; then
  echo "usage: $0 <builddir>   (e.g. build-bench, configured with -DSHADE_BUILD_BENCH=ON)" >&2
  exit 2
fi
BUILD_DIR=$1
BIN_DIR=$BUILD_DIR/bench
SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/common.sh
. "$SCRIPT_DIR/common.sh"
if [ "${BENCH_SMOKE:-0}" = 1 ]; then
  SMOKE_RESULTS=$(mkdir -p "$BIN_DIR/smoke-results" && cd "$BIN_DIR/smoke-results" && pwd)
  export BENCH_RUNS=${BENCH_RUNS:-2} BT_DEPTH=${BT_DEPTH:-12}
  export CHURN_SLOTS=${CHURN_SLOTS:-20000} CHURN_SECONDS=${CHURN_SECONDS:-1}
  export CACHE_ENTRIES=${CACHE_ENTRIES:-20000} CACHE_SECONDS=${CACHE_SECONDS:-1}
  export BENCH_MEMORY_MIB=${BENCH_MEMORY_MIB:-64} RC_BENCH_RUNS=${RC_BENCH_RUNS:-1}
  export FIN_NODES=${FIN_NODES:-20000} WEAK_OPS=${WEAK_OPS:-50000} WEAK_SLOTS=${WEAK_SLOTS:-20000}
  export WEAK_KEPT=${WEAK_KEPT:-2000} GUILE_BT_DEPTH=${GUILE_BT_DEPTH:-12}
  export GUILE_WEAK_OPS=${GUILE_WEAK_OPS:-50000} W3M_PAGE_COPIES=${W3M_PAGE_COPIES:-1}
  export FIN_RESULTS=${FIN_RESULTS-$SMOKE_RESULTS/finalization.md}
  export GUILE_RESULTS=${GUILE_RESULTS-$SMOKE_RESULTS/bdwgc_programs.md}
  export BENCH_RESULTS=${BENCH_RESULTS-$SMOKE_RESULTS/latest.md}
  export CHURN_RESULTS=${CHURN_RESULTS-$SMOKE_RESULTS/churn.md}
  export CACHE_RESULTS=${CACHE_RESULTS-$SMOKE_RESULTS/cache.md}
  export THREADS_RESULTS=${THREADS_RESULTS-$SMOKE_RESULTS/threads.md} THREADS_SECONDS=${THREADS_SECONDS:-1}
  export THREADS_COUNTS=${THREADS_COUNTS:-16}
  export BENCH_RESULTS_DIR=${BENCH_RESULTS_DIR:-$SMOKE_RESULTS}
  echo "BENCH_SMOKE=1: tiny sizes, results in $SMOKE_RESULTS (the figures mean nothing)"
fi
RUNS=${BENCH_RUNS:-3}
DEPTH=${BT_DEPTH:-21}
ALLOCATORS=${BENCH_ALLOCATORS:-shade bdwgc malloc mimalloc jemalloc go}
OPTIONAL_PEERS=" mimalloc jemalloc go "
WORKLOADS=${BENCH_WORKLOADS:-bt gcbench}
TIMEOUT=${BENCH_TIMEOUT:-600}
RESULTS=${BENCH_RESULTS-$SCRIPT_DIR/results/latest.md}
LOG_DIR=$BIN_DIR/logs
GCBENCH_CHECKSUM='temp_nodes=15202791 long_lived_nodes=131071 array[1000]=0.001000'

if [ ! -d "$BIN_DIR" ]; then
  echo "run.sh: $BIN_DIR does not exist; configure with -DSHADE_BUILD_BENCH=ON and build first" >&2
  exit 2
fi
rm -rf "$LOG_DIR"
mkdir -p "$LOG_DIR"
BASE=${ALLOCATORS%% *}


workload_title() {
  case $1 in
    bt) echo "binary-trees $DEPTH" ;;
    gcbench) echo "gcbench" ;;
    *) echo "$1" ;;
  esac
}

workload_args() {
  case $1 in
    bt) echo "$DEPTH" ;;
    *) echo "" ;;
  esac
}

# Check the stdout of one run; prints what is wrong and returns 1.
check_output() { # workload stdout-file
  case $1 in
    bt)
      if ! diff -u "$LOG_DIR/bt.expected" "$2" >"$2.diff"; then
        echo "    output differs from the expected binary-trees output:"
        sed 's/^/      /' "$2.diff" | head -30
        return 1
      fi ;;
    gcbench)
      if ! grep -qxF "$GCBENCH_CHECKSUM" "$2"; then
        echo "    checksum line missing; expected: $GCBENCH_CHECKSUM"
        echo "    got: $(grep '^temp_nodes=' "$2" || echo '(no checksum line)')"
        return 1
      fi ;;
  esac
  return 0
}

# Value of key=value in a BENCH line, or "-".


# (max - min) / median of the numbers on stdin, in percent ("-" when fewer than two).
spread() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR < 2) { print "-"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    if (m == 0) print "-"; else printf "%.0f%%", 100 * (v[NR] - v[1]) / m
  }'
}


expected_binary_trees "$DEPTH" >"$LOG_DIR/bt.expected"
declare -A FAILED=() SKIPPED=()
FIELDS="wall_s cpu_s maxrss_mb inprog_ms cycles pause_max_ns pause_total_ns markers"

echo "Shade benchmarks: $RUNS run(s) each, binary-trees depth $DEPTH, allocators: $ALLOCATORS"
LOAD_BEFORE=$(load_average)
SHADE_VERSION=$(shade_version "$SCRIPT_DIR/..")
if busy "$LOAD_BEFORE"; then
  echo "warning: load average $LOAD_BEFORE before starting: other processes compete for the CPUs," \
    "wall times will be noisy (compare cpu_s, and the spread column)" >&2
fi
for workload in $WORKLOADS; do
  for run in $(seq 1 "$RUNS"); do
    for allocator in $ALLOCATORS; do
      key=$workload.$allocator
      [ -n "${FAILED[$key]:-}${SKIPPED[$key]:-}" ] && continue
      exe=$BIN_DIR/${workload}_$allocator
      out=$LOG_DIR/$key.$run.out
      err=$LOG_DIR/$key.$run.err
      if [ ! -x "$exe" ] && [[ $OPTIONAL_PEERS == *" $allocator "* ]]; then
        if [ "$allocator.$workload" = go.gcbench ]; then
          SKIPPED[$key]="no Go version"
        else
          SKIPPED[$key]="not built"
        fi
        if [ "${SKIPPED[$key]}" = "not built" ]; then
          echo "skipped: $(workload_title "$workload") / $allocator: not built ($exe;" \
            "bench/install-deps.sh installs the peers)" >&2
        fi
        continue
      fi
      if [ ! -x "$exe" ]; then
        echo "FAILED: $exe was not built" >&2
        FAILED[$key]="not built"
        continue
      fi
      # shellcheck disable=SC2046
      timeout "$TIMEOUT" "$exe" $(workload_args "$workload") >"$out" 2>"$err"
      status=$?
      line=$(grep '^BENCH ' "$err" | tail -1)
      if [ $status -ne 0 ] || [ -z "$line" ]; then
        [ $status -eq 124 ] && why="timed out after ${TIMEOUT}s" || why="exit status $status"
        echo "FAILED: $(workload_title "$workload") / $allocator run $run: $why (logs: $out, $err)" >&2
        tail -5 "$err" | sed 's/^/      /' >&2
        FAILED[$key]=$why
        continue
      fi
      if ! check_output "$workload" "$out" >&2; then
        echo "FAILED: $(workload_title "$workload") / $allocator run $run: WRONG OUTPUT (log: $out)" >&2
        FAILED[$key]="wrong output"
        continue
      fi
      printf '  %-16s %-8s run %d: %s\n' "$(workload_title "$workload")" "$allocator" "$run" \
        "${line#BENCH }"
      for f in $FIELDS; do
        value=$(field "$f" "$line")
        [ "$value" != "-" ] && echo "$value" >>"$LOG_DIR/$key.$f"
      done
    done
  done
done

# Medians, as MED[workload.allocator.field].
declare -A MED=()
for workload in $WORKLOADS; do
  for allocator in $ALLOCATORS; do
    for f in $FIELDS; do
      file=$LOG_DIR/$workload.$allocator.$f
      if [ -z "${FAILED[$workload.$allocator]:-}${SKIPPED[$workload.$allocator]:-}" ] && [ -s "$file" ]; then
        MED[$workload.$allocator.$f]=$(median <"$file")
        [ "$f" = wall_s ] && MED[$workload.$allocator.spread]=$(spread <"$file")
      else
        MED[$workload.$allocator.$f]=-
      fi
    done
  done
done

num() { # value format
  awk -v v="$1" -v f="$2" 'BEGIN { if (v == "-") print "-"; else printf f, v }'
}

TEXT=$LOG_DIR/table.txt
MD=$LOG_DIR/table.md
{
  printf '%-16s %-8s %8s %6s %8s %8s %9s | %s/peer %5s %5s %5s %5s\n' \
    workload peer wall_s spread cpu_s rss_mb prog_ms "$BASE" wall cpu rss prog
} >"$TEXT"
{
  echo "| workload | allocator | wall s | wall spread | CPU s | peak RSS MB | in-program ms | $BASE/peer wall | CPU | RSS | in-program |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} >"$MD"
for workload in $WORKLOADS; do
  title=$(workload_title "$workload")
  for allocator in $ALLOCATORS; do
    k=$workload.$allocator
    b=$workload.$BASE
    wall=$(num "${MED[$k.wall_s]}" '%.2f')
    spread=${MED[$k.spread]:--}
    cpu=$(num "${MED[$k.cpu_s]}" '%.2f')
    rss=$(num "${MED[$k.maxrss_mb]}" '%.0f')
    prog=$(num "${MED[$k.inprog_ms]}" '%.0f')
    if [ "$allocator" = "$BASE" ]; then
      rw=""; rc=""; rr=""; rp=""
    else
      rw=$(ratio "${MED[$b.wall_s]}" "${MED[$k.wall_s]}")
      rc=$(ratio "${MED[$b.cpu_s]}" "${MED[$k.cpu_s]}")
      rr=$(ratio "${MED[$b.maxrss_mb]}" "${MED[$k.maxrss_mb]}")
      rp=$(ratio "${MED[$b.inprog_ms]}" "${MED[$k.inprog_ms]}")
    fi
    note=""
    [ -n "${FAILED[$k]:-}" ] && note="  FAILED (${FAILED[$k]})"
    [ -n "${SKIPPED[$k]:-}" ] && note="  skipped (${SKIPPED[$k]})"
    [ "${SKIPPED[$k]:-}" = "no Go version" ] && continue
    printf '%-16s %-8s %8s %6s %8s %8s %9s | %10s %5s %5s %5s %5s%s\n' \
      "$title" "$allocator" "$wall" "$spread" "$cpu" "$rss" "$prog" "" "$rw" "$rc" "$rr" "$rp" "$note" >>"$TEXT"
    echo "| $title | $allocator${FAILED[$k]:+ **FAILED (${FAILED[$k]})**}${SKIPPED[$k]:+ (skipped: ${SKIPPED[$k]})} | $wall | $spread | $cpu | $rss | $prog | ${rw:-} | ${rc:-} | ${rr:-} | ${rp:-} |" >>"$MD"
  done
done

# Shade's own view of its collections (medians).
STATS_TEXT=$LOG_DIR/stats.txt
: >"$STATS_TEXT"
if [[ " $ALLOCATORS " == *" shade "* ]]; then
  {
    echo
    echo "Shade collections (medians): workload, cycles, longest pause ms, total pause ms, markers"
    for workload in $WORKLOADS; do
      k=$workload.shade
      printf '  %-16s cycles=%s pause_max_ms=%s pause_total_ms=%s markers=%s\n' \
        "$(workload_title "$workload")" "$(num "${MED[$k.cycles]}" '%.0f')" \
        "$(awk -v v="${MED[$k.pause_max_ns]}" 'BEGIN { if (v == "-") print "-"; else printf "%.2f", v / 1e6 }')" \
        "$(awk -v v="${MED[$k.pause_total_ns]}" 'BEGIN { if (v == "-") print "-"; else printf "%.1f", v / 1e6 }')" \
        "$(num "${MED[$k.markers]}" '%.0f')"
    done
  } >"$STATS_TEXT"
fi

# Targets: Shade at most 1.0x bdwgc on time and 1.2x on peak RSS.
TARGETS_TEXT=$LOG_DIR/targets.txt
: >"$TARGETS_TEXT"
if [[ " $ALLOCATORS " == *" shade "* && " $ALLOCATORS " == *" bdwgc "* ]]; then
  {
    echo
    echo "Targets (shade/bdwgc: time <= 1.00, peak RSS <= 1.20):"
    for workload in $WORKLOADS; do
      time_field=wall_s
      [ "$workload" = gcbench ] && time_field=inprog_ms
      t=$(ratio "${MED[$workload.shade.$time_field]}" "${MED[$workload.bdwgc.$time_field]}")
      r=$(ratio "${MED[$workload.shade.maxrss_mb]}" "${MED[$workload.bdwgc.maxrss_mb]}")
      verdict=$(awk -v t="$t" -v r="$r" 'BEGIN {
        if (t == "-" || r == "-") print "no data"
        else if (t <= 1.0 && r <= 1.2) print "met"
        else print "MISSED" }')
      printf '  %-16s time (%s) %s  RSS %s  -> %s\n' "$(workload_title "$workload")" \
        "$time_field" "$t" "$r" "$verdict"
    done
  } >"$TARGETS_TEXT"
fi

LOAD_AFTER=$(load_average)
echo
cat "$TEXT" "$STATS_TEXT" "$TARGETS_TEXT"
if busy "$LOAD_BEFORE" || busy "$LOAD_AFTER"; then
  echo
  echo "note: load average $LOAD_BEFORE before, $LOAD_AFTER after: the machine was busy; trust cpu_s over wall_s."
fi

if [ -n "$RESULTS" ]; then
  mkdir -p "$(dirname "$RESULTS")"
  {
    echo "# Shade benchmark results"
    echo
    machine_description "$BUILD_DIR"
    echo "Shade $SHADE_VERSION (read when the runs started)."
    echo "Median of $RUNS run(s), interleaved; binary-trees depth $DEPTH. Ratios are $BASE/peer: below 1 means $BASE uses less."
    echo "Load average before / after: $LOAD_BEFORE / $LOAD_AFTER ($(nproc) CPUs); wall spread = (max - min) / median."
    echo "Command: \`BENCH_RUNS=$RUNS BT_DEPTH=$DEPTH sh bench/run.sh $BUILD_DIR\` (or \`make bench\`)."
    echo
    cat "$MD"
    if [ -s "$STATS_TEXT" ] || [ -s "$TARGETS_TEXT" ]; then
      echo
      echo '```'
      sed '/^$/d' "$STATS_TEXT" "$TARGETS_TEXT"
      echo '```'
    fi
  } >"$RESULTS"
  echo
  echo "Markdown table written to $RESULTS"
fi

# The other subsystems' benchmarks, unless BENCH_ONLY_CORE=1: reference counting (vs CPython),
# memory returned to the OS (RSS over time vs malloc and bdwgc), and short pauses (churn latency
# in Shade's three marking modes vs bdwgc and malloc; the write barrier's cost on binary-trees).
if [ "${BENCH_ONLY_CORE:-0}" != 1 ]; then
  echo
  echo "==== reference counting: full collection cost per tracked object, Shade vs CPython ===="
  bash "$SCRIPT_DIR/rc/run.sh" "$BUILD_DIR" || FAILED[rc]="bench/rc/run.sh failed"
  echo
  echo "==== memory returned to the OS: RSS over time, Shade vs malloc vs bdwgc ===="
  bash "$SCRIPT_DIR/memory/run.sh" "$BUILD_DIR" "${BENCH_MEMORY_MIB:-1024}" ||
    FAILED[memory]="bench/memory/run.sh failed"
  echo
  echo "==== short pauses: churn latency (Shade concurrent/incremental/stw vs bdwgc, malloc, mimalloc, jemalloc), write-barrier cost ===="
  bash "$SCRIPT_DIR/churn/run.sh" "$BUILD_DIR" || FAILED[churn]="bench/churn/run.sh failed"
  echo
  echo "==== finalizers and weak tables: Shade vs bdwgc ===="
  bash "$SCRIPT_DIR/finalization/run.sh" "$BUILD_DIR" || FAILED[finalization]="bench/finalization/run.sh failed"
  echo
  echo "==== programs built for bdwgc (Guile 3.0, w3m) on bdwgc and on Shade's libgc.so.1 ===="
  bash "$SCRIPT_DIR/guile/run.sh" "$BUILD_DIR" || FAILED[guile]="bench/guile/run.sh failed"
  echo
  echo "==== many threads, few CPUs: 64 and 256 threads, Shade concurrent/stw vs bdwgc ===="
  bash "$SCRIPT_DIR/threads/run.sh" "$BUILD_DIR" || FAILED[threads]="bench/threads/run.sh failed"
  if [ "${BENCH_SKIP_CACHE:-0}" != 1 ]; then
    echo
    echo "==== generational: cache (1 GB long-lived, short-lived requests), Shade vs bdwgc, malloc, mimalloc, jemalloc, Go, Mono SGen ===="
    bash "$SCRIPT_DIR/cache/run.sh" "$BUILD_DIR" || FAILED[cache]="bench/cache/run.sh failed"
  fi
fi

if [ ${#FAILED[@]} -gt 0 ]; then
  echo >&2
  echo "==== BENCHMARK FAILURES ====" >&2
  for k in "${!FAILED[@]}"; do
    echo "  $k: ${FAILED[$k]}" >&2
  done
  exit 1
fi
exit 0
