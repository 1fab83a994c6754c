#!/bin/bash
# bench/threads/run.sh <builddir>: many threads, few CPUs. threads_shade (bench/threads.c: N
# registered threads building and dropping lists, every store through the barrier) in Shade's
# stw and concurrent modes side by side with threads_bdwgc, for each N of THREADS_COUNTS,
# BENCH_RUNS runs each, interleaved (for each run: every N, then shade-concurrent, shade-stw,
# bdwgc). A run counts only if it exits 0 (every list checked) and (Shade) ran in the mode asked.
# Every run is printed; then per N the medians of lists/s, slowest operation, longest
# stop-the-world pause (Shade), world stops, handshakes and peak RSS, the ratios shade/peer, and
# the target, checked on every run: shade-concurrent's longest pause at most 1 ms.
# (An operation's latency includes the time its thread waited for a CPU: with 64 threads on 2 CPUs
# that is most of it. The pause is what the collector adds: from its stop request to the release.)
# The table goes to stdout and to bench/results/threads.md. Logs: <builddir>/bench/threads-logs/.
#
# Environment:
#   BENCH_RUNS=3                runs per configuration and thread count
#   THREADS_COUNTS="64 256"     registered threads
#   THREADS_SECONDS=5           timed phase of each run
#   THREADS_CONFIGS="shade-concurrent shade-stop shade-stw bdwgc"  (the first is compared
#                               to the rest; shade-stop: concurrent, SHADE_TERMINATION=stop)
#   BENCH_TIMEOUT=600           seconds before a run is killed and counted as failed
#   THREADS_RESULTS=bench/results/threads.md   where the markdown goes ("" for nowhere)
# bench/run.sh runs this script after the churn benchmark (unless BENCH_ONLY_CORE=1).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u

if [ $# -ne 1 ]; then
  echo "usage: $0 <builddir>   (configured with -DSHADE_BUILD_BENCH=ON and built)" >&2
  exit 2
fi
BUILD_DIR=$1
BIN_DIR=$BUILD_DIR/bench
SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/common.sh
. "$SCRIPT_DIR/../common.sh"
RUNS=${BENCH_RUNS:-3}
COUNTS=${THREADS_COUNTS:-64 256}
SECONDS_PER_RUN=${THREADS_SECONDS:-5}
CONFIGS=${THREADS_CONFIGS:-shade-concurrent shade-stop shade-stw bdwgc}
TIMEOUT=${BENCH_TIMEOUT:-600}
RESULTS=${THREADS_RESULTS-$(cd "$SCRIPT_DIR/.." && pwd)/results/threads.md}
LOG_DIR=$BIN_DIR/threads-logs
BASE=${CONFIGS%% *}
FIELDS="ops_per_s max_ns pause_max_ns world_stops handshakes handshake_max_ns maxrss_mb cpu_s"

if [ ! -d "$BIN_DIR" ]; then
  echo "threads/run.sh: $BIN_DIR does not exist; configure with -DSHADE_BUILD_BENCH=ON and build first" >&2
  exit 2
fi
rm -rf "$LOG_DIR"
mkdir -p "$LOG_DIR"
declare -A FAILED=() MED=() MISSED=()

maximum() { sort -g | tail -1 | awk '{ print } END { if (NR == 0) print "-" }'; }
scaled() { awk -v v="$1" -v d="$2" -v f="$3" 'BEGIN { if (v == "-" || v == "") print "-"; else printf f, v / d }'; }

LOAD_BEFORE=$(load_average)
if busy "$LOAD_BEFORE"; then
  echo "warning: load average $LOAD_BEFORE before starting: other processes compete for the CPUs;" \
    "latencies, pauses and throughput will be noisy" >&2
fi

echo "threads: $COUNTS threads, ${SECONDS_PER_RUN} s per run, $RUNS run(s) each, configurations: $CONFIGS"
: >"$LOG_DIR/runs.txt"
for run in $(seq 1 "$RUNS"); do
  for count in $COUNTS; do
    for config in $CONFIGS; do
      key=$config.$count
      [ -n "${FAILED[$key]:-}" ] && continue
      case $config in
        shade-stop) exe=$BIN_DIR/threads_shade mode=concurrent
          envs=(SHADE_MODE=concurrent SHADE_TERMINATION=stop) ;;
        shade-*) exe=$BIN_DIR/threads_shade mode=${config#shade-}; envs=(SHADE_MODE="$mode") ;;
        *) exe=$BIN_DIR/threads_$config mode=""; envs=() ;;
      esac
      if [ ! -x "$exe" ]; then
        echo "FAILED: $exe was not built" >&2
        FAILED[$key]="not built"
        continue
      fi
      out=$LOG_DIR/$key.$run.out err=$LOG_DIR/$key.$run.err
      env -u SHADE_MODE -u SHADE_TERMINATION THREADS_COUNT="$count" THREADS_SECONDS="$SECONDS_PER_RUN" "${envs[@]}" \
        timeout "$TIMEOUT" "$exe" >"$out" 2>"$err"
      status=$?
      line=$(grep '^BENCH ' "$err" | tail -1)
      line=${line#BENCH }
      why=""
      if [ $status -ne 0 ] || [ -z "$line" ]; then
        why="exit status $status"
        grep -q 'VERIFY FAILED' "$err" && why="$why, VERIFY FAILED"
      elif [ -n "$mode" ] && [ "$(field mode "$line")" != "$mode" ]; then
        why="ran in mode $(field mode "$line"), not $mode"
      fi
      if [ -n "$why" ]; then
        echo "FAILED: $key run $run: $why (logs: $out, $err)" >&2
        FAILED[$key]=$why
        continue
      fi
      printf '  %-17s %4s threads run %d: lists/s=%s slowest_ms=%s pause_max_ms=%s world_stops=%s handshakes=%s handshake_max_ms=%s rss_mb=%s cycles=%s\n' \
        "$config" "$count" "$run" "$(field ops_per_s "$line")" "$(scaled "$(field max_ns "$line")" 1e6 '%.2f')" \
        "$(scaled "$(field pause_max_ns "$line")" 1e6 '%.3f')" "$(field world_stops "$line")" \
        "$(field handshakes "$line")" "$(scaled "$(field handshake_max_ns "$line")" 1e6 '%.3f')" \
        "$(field maxrss_mb "$line")" "$(field cycles "$line")" | tee -a "$LOG_DIR/runs.txt"
      for f in $FIELDS; do
        value=$(field "$f" "$line")
        [ "$value" != "-" ] && echo "$value" >>"$LOG_DIR/$key.$f"
      done
      if [ "$config" = shade-concurrent ] &&
        awk -v p="$(field pause_max_ns "$line")" 'BEGIN { exit !(p > 1e6) }'; then
        MISSED[$key]="${MISSED[$key]:-} run $run"
      fi
    done
  done
done

TEXT=$LOG_DIR/threads.txt
MD=$LOG_DIR/threads.md
{
  printf '%-17s %7s %10s %10s %11s %8s %10s %7s | %s/peer %6s %5s\n' config threads lists/s \
    slowest_ms stw_max_ms stops handshakes rss_mb "$BASE" lists/s rss
} >"$TEXT"
{
  echo "| configuration | threads | lists/s | slowest op ms | longest STW pause ms (worst run) | world stops | handshakes | peak RSS MB | $BASE/peer lists/s | RSS |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} >"$MD"
for count in $COUNTS; do
  for config in $CONFIGS; do
    key=$config.$count
    for f in $FIELDS; do
      file=$LOG_DIR/$key.$f
      if [ -z "${FAILED[$key]:-}" ] && [ -s "$file" ]; then MED[$key.$f]=$(median <"$file"); else MED[$key.$f]=-; fi
    done
    worst=-
    [ -s "$LOG_DIR/$key.pause_max_ns" ] && worst=$(maximum <"$LOG_DIR/$key.pause_max_ns")
    r1=""; r2=""
    if [ "$config" != "$BASE" ]; then
      r1=$(ratio "${MED[$BASE.$count.ops_per_s]}" "${MED[$key.ops_per_s]}")
      r2=$(ratio "${MED[$BASE.$count.maxrss_mb]}" "${MED[$key.maxrss_mb]}")
    fi
    note=""
    [ -n "${FAILED[$key]:-}" ] && note="  FAILED (${FAILED[$key]})"
    printf '%-17s %7s %10s %10s %11s %8s %10s %7s | %*s %6s %5s%s\n' "$config" "$count" \
      "$(scaled "${MED[$key.ops_per_s]}" 1 '%.0f')" "$(scaled "${MED[$key.max_ns]}" 1e6 '%.2f')" \
      "$(scaled "${MED[$key.pause_max_ns]}" 1e6 '%.3f')" "${MED[$key.world_stops]}" \
      "${MED[$key.handshakes]}" "$(scaled "${MED[$key.maxrss_mb]}" 1 '%.0f')" \
      $((${#BASE} + 5)) "" "$r1" "$r2" "$note" >>"$TEXT"
    echo "| $config${FAILED[$key]:+ **FAILED (${FAILED[$key]})**} | $count | $(scaled "${MED[$key.ops_per_s]}" 1 '%.0f') | $(scaled "${MED[$key.max_ns]}" 1e6 '%.2f') | $(scaled "${MED[$key.pause_max_ns]}" 1e6 '%.3f') ($(scaled "$worst" 1e6 '%.3f')) | ${MED[$key.world_stops]} | ${MED[$key.handshakes]} | $(scaled "${MED[$key.maxrss_mb]}" 1 '%.0f') | $r1 | $r2 |" >>"$MD"
  done
done
{
  for config in shade-concurrent; do
    [[ " $CONFIGS " == *" $config "* ]] || continue
    echo
    echo "Target: $config's longest stop-the-world pause at most 1 ms on every run:"
    for count in $COUNTS; do
      if [ -n "${FAILED[$config.$count]:-}" ]; then
        echo "  $count threads: no data (failed)"
      elif [ -n "${MISSED[$config.$count]:-}" ]; then
        echo "  $count threads: MISSED on${MISSED[$config.$count]}"
      else
        echo "  $count threads: met on all $RUNS runs"
      fi
    done
  done
} | tee -a "$MD" >>"$TEXT"
echo
cat "$TEXT"

LOAD_AFTER=$(load_average)
if [ -n "$RESULTS" ]; then
  mkdir -p "$(dirname "$RESULTS")"
  {
    echo "# Many threads, few CPUs: pauses and throughput"
    echo
    machine_description "$BUILD_DIR"
    echo "Median of $RUNS run(s), interleaved. Load average before / after: $LOAD_BEFORE / $LOAD_AFTER ($(nproc) CPUs)."
    echo "Command: \`BENCH_RUNS=$RUNS THREADS_COUNTS=\"$COUNTS\" THREADS_SECONDS=$SECONDS_PER_RUN bash bench/threads/run.sh $BUILD_DIR\`."
    echo
    cat "$MD"
    echo
    echo "## Every run"
    echo
    echo '```'
    sed 's/^  //' "$LOG_DIR/runs.txt"
    echo '```'
  } >"$RESULTS"
  echo
  echo "Markdown written to $RESULTS"
fi

if [ ${#FAILED[@]} -gt 0 ]; then
  echo >&2
  echo "==== THREADS BENCHMARK FAILURES ====" >&2
  for k in "${!FAILED[@]}"; do echo "  $k: ${FAILED[$k]}" >&2; done
  exit 1
fi
exit 0
