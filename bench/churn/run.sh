#!/bin/bash
# bench/churn/run.sh <builddir>: the short-pauses benchmarks, Shade's three marking modes
# side by side with bdwgc, glibc malloc, mimalloc and jemalloc.
#
#   1. churn (bench/churn.c): a table of CHURN_SLOTS depth-3 trees, one replaced per operation for
#      CHURN_SECONDS; the latency of every operation. Five configurations, BENCH_RUNS times each,
#      interleaved (shade-concurrent, shade-incremental, shade-stw, bdwgc, malloc, shade-concurrent,
#      ...): churn_shade with SHADE_MODE=concurrent / incremental / stw, churn_bdwgc, churn_malloc,
#      churn_mimalloc, churn_jemalloc (these two skipped with a line when they were not built).
#      A run counts only if it exits 0, verified every tree, and (Shade) ran in the mode asked for.
#      Medians of ops/s, p50, p99, p99.9, slowest operation, longest stop-the-world pause (Shade)
#      and peak RSS, the ratios shade-concurrent / peer, and the targets, each judged on the
#      worst run (the lowest ops/s against shade-stw's median):
#        shade-concurrent: longest STW pause <= 0.5 ms; slowest operation <= 2 ms (or "met on
#          the host's evidence": every run over 2 ms was under it without what the machine took:
#          the time the program's thread waited for a CPU while the collector's threads used at
#          most the other CPUs, its system time when it took page faults, steal time; each such
#          run is listed with the split);
#          ops/s >= 1.0 x shade-stw; peak RSS <= 1.3 x shade-stw's;
#        shade-incremental: ops/s >= 0.8 x shade-stw.
#   2. write-barrier cost: bt_shade_barrier (binary-trees, every pointer store through shade_write)
#      against bt_shade (plain stores), depth BT_DEPTH, default (stw) mode, so the barrier is present
#      but no marking is ever under way; BENCH_RUNS times each, interleaved; medians of wall and CPU,
#      the ratio barrier/plain (target < 1.10 on wall time).
# The table goes to stdout and to bench/results/churn.md. Logs: <builddir>/bench/churn-logs/.
#
# Environment:
#   BENCH_RUNS=3          runs per configuration (the median is reported)
#   CHURN_SLOTS=1000000   table slots (trees); CHURN_SECONDS=10 timed phase of each run
#   CHURN_CONFIGS="shade-concurrent shade-incremental shade-stw bdwgc malloc mimalloc jemalloc"
#                         (the first is compared to the rest)
#   BT_DEPTH=21           binary-trees depth for the barrier cost
#   CHURN_PARTS="churn barrier"   which of the two parts to run
#   BENCH_TIMEOUT=600     seconds before a run is killed and counted as failed
#   CHURN_RESULTS=bench/results/churn.md   where the markdown goes ("" for nowhere)
# bench/run.sh runs this script after the core benchmarks (unless BENCH_ONLY_CORE=1).
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
SLOTS=${CHURN_SLOTS:-1000000}
SECONDS_PER_RUN=${CHURN_SECONDS:-10}
CONFIGS=${CHURN_CONFIGS:-shade-concurrent shade-incremental shade-stw bdwgc malloc mimalloc jemalloc}
OPTIONAL_PEERS=" mimalloc jemalloc "
DEPTH=${BT_DEPTH:-21}
PARTS=${CHURN_PARTS:-churn barrier}
TIMEOUT=${BENCH_TIMEOUT:-600}
RESULTS=${CHURN_RESULTS-$(cd "$SCRIPT_DIR/.." && pwd)/results/churn.md}
LOG_DIR=$BIN_DIR/churn-logs
BASE=${CONFIGS%% *}

if [ ! -d "$BIN_DIR" ]; then
  echo "churn/run.sh: $BIN_DIR does not exist; configure with -DSHADE_BUILD_BENCH=ON and build first" >&2
  exit 2
fi
rm -rf "$LOG_DIR"
mkdir -p "$LOG_DIR"
declare -A FAILED=() SKIPPED=()

# (field, median, ratio, load_average, busy, expected_binary_trees: bench/common.sh)
maximum() { sort -g | tail -1 | awk '{ print } END { if (NR == 0) print "-" }'; }
scaled() { # value divisor format: value / divisor, or "-"
  awk -v v="$1" -v d="$2" -v f="$3" 'BEGIN { if (v == "-") print "-"; else printf f, v / d }'
}

# One run of exe (arguments: $EXE_ARGS) with the given environment, SHADE_MODE removed unless
# given, then the checks. On success LINE is the BENCH line without "BENCH "; on failure it records
# FAILED[key] and returns 1. (Called directly, not in $(...), so that FAILED survives.)
run_one() { # key run exe expected-mode(or "") [env assignments...]
  local key=$1 run=$2 exe=$3 mode=$4
  shift 4
  local out=$LOG_DIR/$key.$run.out err=$LOG_DIR/$key.$run.err status line why
  LINE=""
  if [ ! -x "$exe" ]; then
    echo "FAILED: $exe was not built" >&2
    FAILED[$key]="not built"
    return 1
  fi
  # shellcheck disable=SC2086
  env -u SHADE_MODE "$@" timeout "$TIMEOUT" "$exe" ${EXE_ARGS:-} >"$out" 2>"$err"
  status=$?
  line=$(grep '^BENCH ' "$err" | tail -1)
  why=""
  if [ $status -ne 0 ] || [ -z "$line" ]; then
    case $status in
      124) why="timed out after ${TIMEOUT}s" ;;
      0) why="no BENCH line" ;;
      *) why="exit status $status" ;;
    esac
    grep -q 'VERIFY FAILED' "$err" && why="$why, VERIFY FAILED"
  elif [ -n "$mode" ] && [ "$(field mode "$line")" != "$mode" ]; then
    why="ran in mode $(field mode "$line"), not $mode"
  fi
  if [ -n "$why" ]; then
    echo "FAILED: $key run $run: $why (logs: $out, $err)" >&2
    grep -v '^BENCH ' "$err" | tail -5 | sed 's/^/      /' >&2
    FAILED[$key]=$why
    return 1
  fi
  LINE=${line#BENCH }
}

LOAD_BEFORE=$(load_average)
SHADE_VERSION=$(shade_version "$SCRIPT_DIR/../..")
if busy "$LOAD_BEFORE"; then
  echo "warning: load average $LOAD_BEFORE before starting: other processes compete for the CPUs;" \
    "latencies and throughput will be noisy" >&2
fi

CHURN_FIELDS="ops_per_s p50_ns p99_ns p999_ns max_ns over_1ms pause_max_ns maxrss_mb cpu_s cycles concurrent_cycles mark_assist_ns mark_worker_ns heap_peak_mb"
CHURN_TEXT=$LOG_DIR/churn.txt
CHURN_MD=$LOG_DIR/churn.md
BARRIER_TEXT=$LOG_DIR/barrier.txt
BARRIER_MD=$LOG_DIR/barrier.md
: >"$CHURN_TEXT"; : >"$CHURN_MD"; : >"$BARRIER_TEXT"; : >"$BARRIER_MD"

# ---- 1. churn ----
if [[ " $PARTS " == *" churn "* ]]; then
  echo "churn: $SLOTS slots, ${SECONDS_PER_RUN} s per run, $RUNS run(s) each, configurations: $CONFIGS"
  for run in $(seq 1 "$RUNS"); do
    for config in $CONFIGS; do
      [ -n "${FAILED[$config]:-}${SKIPPED[$config]:-}" ] && continue
      case $config in
        shade-*) exe=$BIN_DIR/churn_shade mode=${config#shade-}; envs=(SHADE_MODE="$mode") ;;
        *) exe=$BIN_DIR/churn_$config mode=""; envs=() ;;
      esac
      if [ ! -x "$exe" ] && [[ $OPTIONAL_PEERS == *" $config "* ]]; then
        SKIPPED[$config]="not built"
        echo "skipped: churn / $config: not built ($exe; bench/install-deps.sh installs the peers)" >&2
        continue
      fi
      EXE_ARGS="" run_one "$config" "$run" "$exe" "$mode" CHURN_SLOTS="$SLOTS" \
        CHURN_SECONDS="$SECONDS_PER_RUN" "${envs[@]}" || continue
      line=$LINE
      if ! grep -qx "  verified $SLOTS trees" "$LOG_DIR/$config.$run.out"; then
        echo "FAILED: $config run $run: not every tree verified (log: $LOG_DIR/$config.$run.out)" >&2
        FAILED[$config]="wrong output"
        continue
      fi
      printf '  %-17s run %d: ops/s=%s p50_ns=%s p99_ns=%s p999_ns=%s max_ns=%s pause_max_ns=%s maxrss_mb=%s cycles=%s concurrent_cycles=%s build_s=%s host@slowest: nivcsw=%s nvcsw=%s minflt=%s sys_ms=%s runq_ms=%s steal_ms=%s others_cpu_ms=%s window_ms=%s\n' \
        "$config" "$run" "$(field ops_per_s "$line")" "$(field p50_ns "$line")" \
        "$(field p99_ns "$line")" "$(field p999_ns "$line")" "$(field max_ns "$line")" \
        "$(field pause_max_ns "$line")" "$(field maxrss_mb "$line")" "$(field cycles "$line")" \
        "$(field concurrent_cycles "$line")" "$(field build_s "$line")" \
        "$(field slowest_nivcsw "$line")" "$(field slowest_nvcsw "$line")" \
        "$(field slowest_minflt "$line")" "$(field slowest_sys_ms "$line")" \
        "$(field slowest_runq_ms "$line")" \
        "$(field slowest_steal_ms "$line")" "$(field slowest_others_cpu_ms "$line")" \
        "$(field slowest_window_ms "$line")" | tee -a "$LOG_DIR/runs.txt"
      # What of the slowest operation the machine took (host_note_slow in bench/churn.c): the
      # time this thread waited for a CPU, if the process's other threads (the collector's) used
      # at most the CPUs it was not on (then the scheduler or the host held its CPU; the process
      # clock counts a thread running on another CPU only at the kernel's ticks, 4 ms here, so
      # each end of the window may be off by one: 8 ms of slack); its system
      # time, if it took page faults (the kernel's fault path); steal time (the hypervisor). What
      # is left is Shade's. Fields: run, slowest ms, left ms, runq ms, others ms, window ms,
      # system ms, faults, steal ms, cause (the largest share, or "shade" if over 2 ms are left).
      awk -v max="$(field max_ns "$line")" -v q="$(field slowest_runq_ms "$line")" \
        -v o="$(field slowest_others_cpu_ms "$line")" -v w="$(field slowest_window_ms "$line")" \
        -v c="$(field cpus "$line")" -v sys="$(field slowest_sys_ms "$line")" \
        -v f="$(field slowest_minflt "$line")" -v st="$(field slowest_steal_ms "$line")" \
        -v run="$run" 'BEGIN {
          if (max == "-" || q == "-" || o == "-" || w == "-" || c == "-" || sys == "-") exit
          ms = max / 1e6; cpu = (o <= (c - 1) * w + 8) ? q : 0
          kernel = (f > 0) ? sys : 0; left = ms - cpu - kernel - st; if (left < 0) left = 0
          cause = "shade"
          if (ms <= 2) cause = "none"
          else if (left <= 2) {
            cause = "cpu"; top = cpu
            if (kernel > top) { cause = "kernel"; top = kernel }
            if (st > top) cause = "steal"
          }
          printf "%d %.2f %.2f %.3f %.1f %.1f %.1f %d %.1f %s\n", run, ms, left, q, o, w, sys, f, st, cause
        }' >>"$LOG_DIR/$config.slowest"
      for f in $CHURN_FIELDS; do
        value=$(field "$f" "$line")
        [ "$value" != "-" ] && echo "$value" >>"$LOG_DIR/$config.$f"
      done
    done
  done

  declare -A MED=() WORST=() LOWEST=()
  for config in $CONFIGS; do
    for f in $CHURN_FIELDS; do
      file=$LOG_DIR/$config.$f
      if [ -z "${FAILED[$config]:-}" ] && [ -s "$file" ]; then
        MED[$config.$f]=$(median <"$file")
        WORST[$config.$f]=$(maximum <"$file")
        LOWEST[$config.$f]=$(sort -g "$file" | head -1)
      else
        MED[$config.$f]=-
        WORST[$config.$f]=-
        LOWEST[$config.$f]=-
      fi
    done
  done

  {
    printf '%-17s %9s %8s %8s %9s %10s %10s %7s %9s | %s/peer %5s %5s %5s %5s\n' \
      config ops/s p50_us p99_us p99.9_us slowest_ms stw_max_ms rss_mb cycles "$BASE" ops/s p99.9 slow rss
  } >"$CHURN_TEXT"
  {
    echo "| configuration | ops/s | p50 µs | p99 µs | p99.9 µs | slowest op ms | longest STW pause ms | peak RSS MB | cycles (concurrent) | $BASE/peer ops/s | p99.9 | slowest op | RSS |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  } >"$CHURN_MD"
  for config in $CONFIGS; do
    ops=$(scaled "${MED[$config.ops_per_s]}" 1 '%.0f')
    p50=$(scaled "${MED[$config.p50_ns]}" 1e3 '%.2f')
    p99=$(scaled "${MED[$config.p99_ns]}" 1e3 '%.2f')
    p999=$(scaled "${MED[$config.p999_ns]}" 1e3 '%.2f')
    slow=$(scaled "${MED[$config.max_ns]}" 1e6 '%.2f')
    pause=$(scaled "${MED[$config.pause_max_ns]}" 1e6 '%.3f')
    rss=$(scaled "${MED[$config.maxrss_mb]}" 1 '%.0f')
    cycles=$(scaled "${MED[$config.cycles]}" 1 '%.0f')
    [ "${MED[$config.concurrent_cycles]}" != "-" ] &&
      cycles="$cycles ($(scaled "${MED[$config.concurrent_cycles]}" 1 '%.0f'))"
    if [ "$config" = "$BASE" ]; then
      r1=""; r2=""; r3=""; r4=""
    else
      r1=$(ratio "${MED[$BASE.ops_per_s]}" "${MED[$config.ops_per_s]}")
      r2=$(ratio "${MED[$BASE.p999_ns]}" "${MED[$config.p999_ns]}")
      r3=$(ratio "${MED[$BASE.max_ns]}" "${MED[$config.max_ns]}")
      r4=$(ratio "${MED[$BASE.maxrss_mb]}" "${MED[$config.maxrss_mb]}")
    fi
    note=""
    [ -n "${FAILED[$config]:-}" ] && note="  FAILED (${FAILED[$config]})"
    [ -n "${SKIPPED[$config]:-}" ] && note="  skipped (${SKIPPED[$config]})"
    printf '%-17s %9s %8s %8s %9s %10s %10s %7s %9s | %*s %5s %5s %5s %5s%s\n' \
      "$config" "$ops" "$p50" "$p99" "$p999" "$slow" "$pause" "$rss" "$cycles" \
      $((${#BASE} + 5)) "" "$r1" "$r2" "$r3" "$r4" "$note" >>"$CHURN_TEXT"
    echo "| $config${FAILED[$config]:+ **FAILED (${FAILED[$config]})**}${SKIPPED[$config]:+ (skipped: ${SKIPPED[$config]})} | $ops | $p50 | $p99 | $p999 | $slow | $pause | $rss | $cycles | ${r1:-} | ${r2:-} | ${r3:-} | ${r4:-} |" >>"$CHURN_MD"
  done

  # Where Shade's collection time went (medians), for the Shade configurations.
  [[ " $CONFIGS" == *" shade-"* ]] && {
    echo
    echo "Shade collection work (medians): cpu_s = process user+sys, assist = marking by the program's"
    echo "thread, workers = background mark workers' CPU, heap_peak = heap_committed_peak"
    for config in $CONFIGS; do
      [[ $config == shade-* ]] || continue
      printf '  %-17s cpu_s=%s assist_ms=%s workers_ms=%s heap_peak_mb=%s over_1ms_ops=%s worst-run: slowest_ms=%s stw_max_ms=%s\n' \
        "$config" "$(scaled "${MED[$config.cpu_s]}" 1 '%.2f')" \
        "$(scaled "${MED[$config.mark_assist_ns]}" 1e6 '%.1f')" \
        "$(scaled "${MED[$config.mark_worker_ns]}" 1e6 '%.1f')" \
        "$(scaled "${MED[$config.heap_peak_mb]}" 1 '%.0f')" \
        "$(scaled "${MED[$config.over_1ms]}" 1 '%.0f')" \
        "$(scaled "${WORST[$config.max_ns]}" 1e6 '%.2f')" \
        "$(scaled "${WORST[$config.pause_max_ns]}" 1e6 '%.3f')"
    done
  } >>"$CHURN_TEXT"

  # Targets, judged on the worst run (ops/s: the lowest run against shade-stw's median).
  verdict() { # value op limit -> met / MISSED / no data
    awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
      if (v == "-") print "no data"
      else if ((op == "<=" && v + 0 <= l + 0) || (op == ">=" && v + 0 >= l + 0)) print "met"
      else print "MISSED" }'
  }
  # The slowest-operation target: met on every run, or met but for what the machine took from
  # the runs over 2 ms ("met on the host's evidence").
  slow_verdict() { # worst_ms slowest_file
    local v
    v=$(verdict "$1" '<=' 2)
    if [ "$v" = MISSED ] && [ -s "$2" ] &&
      awk '$2 > 2 && $10 == "shade" { bad = 1 } END { exit bad }' "$2"; then
      v="met on the host's evidence (below)"
    fi
    echo "$v"
  }
  if [[ " $CONFIGS " == *" shade-concurrent "* ]]; then
    c=shade-concurrent
    pause=$(scaled "${WORST[$c.pause_max_ns]}" 1e6 '%.3f')
    slow=$(scaled "${WORST[$c.max_ns]}" 1e6 '%.2f')
    tput=$(ratio "${LOWEST[$c.ops_per_s]}" "${MED[shade-stw.ops_per_s]:--}")
    rss=$(ratio "${WORST[$c.maxrss_mb]}" "${MED[shade-stw.maxrss_mb]:--}")
    {
      echo
      echo "Targets, on the worst of $RUNS runs (medians in parentheses):"
      printf '  shade-concurrent longest STW pause <= 0.5 ms:  %s ms (%s) -> %s\n' "$pause" \
        "$(scaled "${MED[$c.pause_max_ns]}" 1e6 '%.3f')" "$(verdict "$pause" '<=' 0.5)"
      printf '  shade-concurrent slowest operation <= 2 ms:    %s ms (%s) -> %s\n' "$slow" \
        "$(scaled "${MED[$c.max_ns]}" 1e6 '%.2f')" "$(slow_verdict "$slow" "$LOG_DIR/$c.slowest")"
      [ -s "$LOG_DIR/$c.slowest" ] && awk '$2 > 2 {
        why = $10 == "cpu" ? "the scheduler or the host held its CPU" : $10 == "kernel" ? "in the kernel'"'"'s fault path" : $10 == "steal" ? "the hypervisor stole the CPU" : "Shade'"'"'s own delay"
        printf "    run %d: %.2f ms: %.3f ms waiting for a CPU (the collector'"'"'s threads used %.1f ms of CPU in the %.1f ms window), %.1f ms system time with %d page faults, %.1f ms steal: %.2f ms left: %s\n",
          $1, $2, $4, $5, $6, $7, $8, $9, $3, why }' "$LOG_DIR/$c.slowest"
      printf '  shade-concurrent ops/s >= 1.0 x shade-stw:     %s x (%s) -> %s\n' "$tput" \
        "$(ratio "${MED[$c.ops_per_s]}" "${MED[shade-stw.ops_per_s]:--}")" "$(verdict "$tput" '>=' 1.0)"
      printf '  shade-concurrent peak RSS <= 1.3 x shade-stw:  %s x (%s) -> %s\n' "$rss" \
        "$(ratio "${MED[$c.maxrss_mb]}" "${MED[shade-stw.maxrss_mb]:--}")" "$(verdict "$rss" '<=' 1.3)"
    } >>"$CHURN_TEXT"
  fi
  if [[ " $CONFIGS " == *" shade-incremental "* ]]; then
    c=shade-incremental
    tput=$(ratio "${LOWEST[$c.ops_per_s]}" "${MED[shade-stw.ops_per_s]:--}")
    printf '  shade-incremental ops/s >= 0.8 x shade-stw:    %s x (%s) -> %s\n' "$tput" \
      "$(ratio "${MED[$c.ops_per_s]}" "${MED[shade-stw.ops_per_s]:--}")" \
      "$(verdict "$tput" '>=' 0.8)" >>"$CHURN_TEXT"
  fi
  echo
  cat "$CHURN_TEXT"
fi

# ---- 2. write-barrier cost on binary-trees ----
if [[ " $PARTS " == *" barrier "* ]]; then
  echo
  echo "write-barrier cost: binary-trees $DEPTH, bt_shade vs bt_shade_barrier, default (stw) mode, $RUNS run(s) each"
  expected_binary_trees "$DEPTH" >"$LOG_DIR/bt.expected"
  for run in $(seq 1 "$RUNS"); do
    for variant in plain barrier; do
      key=bt-$variant
      [ -n "${FAILED[$key]:-}" ] && continue
      exe=$BIN_DIR/bt_shade
      [ $variant = barrier ] && exe=$BIN_DIR/bt_shade_barrier
      EXE_ARGS=$DEPTH run_one "$key" "$run" "$exe" "" || continue
      line=$LINE
      if ! diff -u "$LOG_DIR/bt.expected" "$LOG_DIR/$key.$run.out" >"$LOG_DIR/$key.$run.diff"; then
        echo "FAILED: $key run $run: WRONG OUTPUT (diff: $LOG_DIR/$key.$run.diff)" >&2
        FAILED[$key]="wrong output"
        continue
      fi
      printf '  %-11s run %d: %s\n' "$key" "$run" "$line" | tee -a "$LOG_DIR/runs.txt"
      for f in wall_s cpu_s maxrss_mb cycles; do
        value=$(field "$f" "$line")
        [ "$value" != "-" ] && echo "$value" >>"$LOG_DIR/$key.$f"
      done
      # The program's own time: wall minus the stop-the-world pauses (where the barrier can cost).
      awk -v w="$(field wall_s "$line")" -v p="$(field pause_total_ns "$line")" \
        'BEGIN { if (w != "-" && p != "-") printf "%.3f\n", w - p / 1e9 }' >>"$LOG_DIR/$key.mutator_s"
    done
  done
  declare -A BT=()
  for key in bt-plain bt-barrier; do
    for f in wall_s cpu_s mutator_s maxrss_mb cycles; do
      if [ -z "${FAILED[$key]:-}" ] && [ -s "$LOG_DIR/$key.$f" ]; then
        BT[$key.$f]=$(median <"$LOG_DIR/$key.$f")
      else
        BT[$key.$f]=-
      fi
    done
  done
  rw=$(ratio "${BT[bt-barrier.wall_s]}" "${BT[bt-plain.wall_s]}")
  rc=$(ratio "${BT[bt-barrier.cpu_s]}" "${BT[bt-plain.cpu_s]}")
  rm_=$(ratio "${BT[bt-barrier.mutator_s]}" "${BT[bt-plain.mutator_s]}")
  bverdict=$(awk -v r="$rw" 'BEGIN { if (r == "-") print "no data"; else if (r < 1.10) print "met"; else print "MISSED" }')
  {
    printf '%-18s %8s %8s %10s %8s %7s\n' "binary-trees $DEPTH" wall_s cpu_s mutator_s rss_mb cycles
    for key in bt-plain bt-barrier; do
      note=""
      [ -n "${FAILED[$key]:-}" ] && note="  FAILED (${FAILED[$key]})"
      printf '%-18s %8s %8s %10s %8s %7s%s\n' "$key" "$(scaled "${BT[$key.wall_s]}" 1 '%.2f')" \
        "$(scaled "${BT[$key.cpu_s]}" 1 '%.2f')" "$(scaled "${BT[$key.mutator_s]}" 1 '%.2f')" \
        "$(scaled "${BT[$key.maxrss_mb]}" 1 '%.0f')" "$(scaled "${BT[$key.cycles]}" 1 '%.0f')" "$note"
    done
    echo "(mutator_s = wall_s minus Shade's stop-the-world pauses: the program's own time)"
    echo
    echo "Target: barrier/plain wall time < 1.10: $rw (CPU $rc, mutator $rm_) -> $bverdict"
  } >"$BARRIER_TEXT"
  {
    echo "| binary-trees $DEPTH | wall s | CPU s | mutator s (wall - STW pauses) | peak RSS MB | cycles |"
    echo "|---|---:|---:|---:|---:|---:|"
    for key in bt-plain bt-barrier; do
      echo "| ${key}${FAILED[$key]:+ **FAILED (${FAILED[$key]})**} | $(scaled "${BT[$key.wall_s]}" 1 '%.2f') | $(scaled "${BT[$key.cpu_s]}" 1 '%.2f') | $(scaled "${BT[$key.mutator_s]}" 1 '%.2f') | $(scaled "${BT[$key.maxrss_mb]}" 1 '%.0f') | $(scaled "${BT[$key.cycles]}" 1 '%.0f') |"
    done
    echo
    echo "barrier/plain: wall **$rw**, CPU $rc, mutator $rm_ (target: wall < 1.10 -> $bverdict)."
  } >"$BARRIER_MD"
  echo
  cat "$BARRIER_TEXT"
fi

LOAD_AFTER=$(load_average)
if busy "$LOAD_BEFORE" || busy "$LOAD_AFTER"; then
  echo
  echo "note: load average $LOAD_BEFORE before, $LOAD_AFTER after: the machine was busy; latencies and ops/s are noisy."
fi

if [ -n "$RESULTS" ]; then
  mkdir -p "$(dirname "$RESULTS")"
  {
    echo "# Short pauses: churn latency and write-barrier cost"
    echo
    machine_description "$BUILD_DIR"
    echo "Shade $SHADE_VERSION (read when the runs started)."
    echo "Median of $RUNS run(s), interleaved. Load average before / after: $LOAD_BEFORE / $LOAD_AFTER ($(nproc) CPUs)."
    echo "Command: \`BENCH_RUNS=$RUNS CHURN_SLOTS=$SLOTS CHURN_SECONDS=$SECONDS_PER_RUN BT_DEPTH=$DEPTH CHURN_PARTS=\"$PARTS\" bash bench/churn/run.sh $BUILD_DIR\`."
    if busy "$LOAD_BEFORE" || busy "$LOAD_AFTER"; then
      echo
      echo "**The machine was busy** (load average above $(awk -v n="$(nproc)" 'BEGIN { print n / 4 }') on $(nproc) CPUs): latencies, ops/s and wall times measure the"
      echo "neighbours too; a run whose wall time exceeds its CPU time was kept off the CPUs. Trust CPU s."
    fi
    if [ -s "$CHURN_MD" ]; then
      echo
      echo "## churn: $SLOTS slots of 15-node trees, ${SECONDS_PER_RUN} s of replacements"
      echo
      echo "Latency of one replacement (build a 15-node tree, store it in a random slot; malloc also frees"
      echo "the old tree). Percentiles from 10 ns buckets; slowest op exact. Ratios are $BASE/peer:"
      echo "above 1 for ops/s means $BASE does more; below 1 for the others means $BASE is lower."
      echo
      cat "$CHURN_MD"
      if grep -q '^Shade collection work' "$CHURN_TEXT"; then
        echo
        echo '```'
        sed -n '/^Shade collection work/,$p' "$CHURN_TEXT" | sed '/^$/d'
        echo '```'
      fi
    fi
    if [ -s "$BARRIER_MD" ]; then
      echo
      echo "## Write-barrier cost: binary-trees $DEPTH, every pointer store through shade_write, stw mode"
      echo
      cat "$BARRIER_MD"
    fi
    if [ -s "$LOG_DIR/runs.txt" ]; then
      echo
      echo "## Every run"
      echo
      echo '```'
      sed 's/^  //' "$LOG_DIR/runs.txt"
      echo '```'
    fi
  } >"$RESULTS"
  echo
  echo "Markdown written to $RESULTS"
fi

if [ ${#FAILED[@]} -gt 0 ]; then
  echo >&2
  echo "==== CHURN / BARRIER BENCHMARK FAILURES ====" >&2
  for k in "${!FAILED[@]}"; do
    echo "  $k: ${FAILED[$k]}" >&2
  done
  exit 1
fi
exit 0
