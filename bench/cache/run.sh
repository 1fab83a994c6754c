#!/bin/bash
# bench/cache/run.sh <builddir>: the generational benchmark, the cache workload (bench/cache.c,
# cache.go, cache.cs): about 1 GB of long-lived entries served by requests whose temporaries die
# young, one request in CACHE_UPDATE_EVERY replacing an entry. Shade side by side with bdwgc,
# glibc malloc, mimalloc, jemalloc, Go and Mono's generational SGen.
#
# Each configuration of CONFIG_TABLE runs BENCH_RUNS times, interleaved (shade-stw,
# shade-concurrent, bdwgc, ..., shade-stw, ...). A run counts only if it exits 0, verified every
# entry, and (Shade) ran in the mode asked for; a wrong output marks the configuration FAILED. A
# peer that was not built (bench/install-deps.sh could not install it) is skipped with a line.
# Printed: every run; then per configuration the median and the worst run of requests/s, p50, p99,
# p99.9, slowest request, longest stop-the-world pause (Shade, Go), peak RSS and RSS / live cache;
# the ratios of each Shade configuration to each peer; and the targets of Shade's generational
# mode (measured today on the non-generational configurations, see below).
# The tables go to stdout and to bench/results/cache.md. Logs: <builddir>/bench/cache-logs/.
#
# Environment:
#   BENCH_RUNS=5            runs per configuration
#   CACHE_ENTRIES=1800000   cache entries (about 1 GB live; the programs print live_mb)
#   CACHE_SECONDS=10        timed phase of each run, after the build phase
#   CACHE_UPDATE_EVERY=100  one request in this many replaces the entry it served
#   CACHE_CONFIGS="..."     which rows of CONFIG_TABLE to run, in this order (default: all)
#   BENCH_TIMEOUT=600       seconds before a run is killed and counted as failed
#   CACHE_RESULTS=bench/results/cache.md   where the markdown goes ("" for nowhere)
# bench/run.sh runs this script after churn (unless BENCH_ONLY_CORE=1 or BENCH_SKIP_CACHE=1).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u

# The configurations: name, required (a missing program is a failure) or optional (skipped),
# program in <builddir>/bench, environment. SHADE_MODE=x also makes the run check the BENCH line's
# mode. shade-gen-stw turns generations on (SHADE_GENERATIONAL, off by default); shade-stw is the
# default, non-generational.
# Concurrent mode is not generational yet: a shade-gen-concurrent line, when it is, is
#   shade-gen-concurrent  required  cache_shade  SHADE_MODE=concurrent SHADE_GENERATIONAL=on
# and the targets below then measure it instead of shade-concurrent.
CONFIG_TABLE='
shade-gen-stw         required  cache_shade     SHADE_MODE=stw SHADE_GENERATIONAL=on
shade-stw             required  cache_shade     SHADE_MODE=stw SHADE_GENERATIONAL=off
shade-concurrent      required  cache_shade     SHADE_MODE=concurrent
bdwgc                 required  cache_bdwgc
malloc                required  cache_malloc
mimalloc              optional  cache_mimalloc
jemalloc              optional  cache_jemalloc
go                    optional  cache_go
mono                  optional  cache_mono
'

if [ $# -ne 1 ]; then
  echo "usage: $0 <builddir>   (configured with -DSHADE_BUILD_BENCH=ON and built)" >&2
  exit 2
fi
BUILD_DIR=$1
BIN_DIR=$BUILD_DIR/bench
SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/common.sh
. "$SCRIPT_DIR/../common.sh"
RUNS=${BENCH_RUNS:-5}
ENTRIES=${CACHE_ENTRIES:-1800000}
SECONDS_PER_RUN=${CACHE_SECONDS:-10}
UPDATE_EVERY=${CACHE_UPDATE_EVERY:-100}
ALL_CONFIGS=$(awk 'NF { printf "%s ", $1 }' <<<"$CONFIG_TABLE")
CONFIGS=${CACHE_CONFIGS:-${ALL_CONFIGS% }}
TIMEOUT=${BENCH_TIMEOUT:-600}
RESULTS=${CACHE_RESULTS-$(cd "$SCRIPT_DIR/.." && pwd)/results/cache.md}
LOG_DIR=$BIN_DIR/cache-logs

if [ ! -d "$BIN_DIR" ]; then
  echo "cache/run.sh: $BIN_DIR does not exist; configure with -DSHADE_BUILD_BENCH=ON and build first" >&2
  exit 2
fi
rm -rf "$LOG_DIR"
mkdir -p "$LOG_DIR"
declare -A FAILED=() SKIPPED=() KIND=() EXE=() ENVS=()
for config in $CONFIGS; do
  row=$(awk -v c="$config" '$1 == c' <<<"$CONFIG_TABLE")
  if [ -z "$row" ]; then
    echo "cache/run.sh: no configuration named $config (CACHE_CONFIGS); known: $ALL_CONFIGS" >&2
    exit 2
  fi
  read -r _ kind exe envs <<<"$row"
  KIND[$config]=$kind EXE[$config]=$BIN_DIR/$exe ENVS[$config]=${envs:-}
done

maximum() { sort -g | tail -1 | awk '{ print } END { if (NR == 0) print "-" }'; }
minimum() { sort -g | head -1 | awk '{ print } END { if (NR == 0) print "-" }'; }
scaled() { # value divisor format: value / divisor, or "-"
  awk -v v="$1" -v d="$2" -v f="$3" 'BEGIN { if (v == "-" || v == "") print "-"; else printf f, v / d }'
}
verdict() { # value op limit -> met / MISSED / no data
  awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
    if (v == "-" || v == "") print "no data"
    else if ((op == "<" && v + 0 < l + 0) || (op == ">=" && v + 0 >= l + 0) ||
             (op == "<=" && v + 0 <= l + 0)) print "met"
    else print "MISSED" }'
}

# One run of a configuration, then the checks. On success LINE is the BENCH line without "BENCH ";
# on failure FAILED[config] says why and it returns 1. (Not in $(...), so that FAILED survives.)
run_one() { # config run
  local config=$1 run=$2 exe=${EXE[$1]} out=$LOG_DIR/$1.$2.out err=$LOG_DIR/$1.$2.err
  local status line why="" mode=""
  LINE=""
  [[ " ${ENVS[$config]} " =~ \ SHADE_MODE=([a-z]+)\  ]] && mode=${BASH_REMATCH[1]}
  # shellcheck disable=SC2086
  env -u SHADE_MODE CACHE_ENTRIES="$ENTRIES" CACHE_SECONDS="$SECONDS_PER_RUN" \
    CACHE_UPDATE_EVERY="$UPDATE_EVERY" ${ENVS[$config]} timeout "$TIMEOUT" "$exe" >"$out" 2>"$err"
  status=$?
  line=$(grep '^BENCH ' "$err" | tail -1)
  if [ $status -ne 0 ] || [ -z "$line" ]; then
    case $status in
      124) why="timed out after ${TIMEOUT}s" ;;
      0) why="no BENCH line" ;;
      *) why="exit status $status" ;;
    esac
    grep -q 'VERIFY FAILED' "$err" && why="$why, VERIFY FAILED"
  elif [ -n "$mode" ] && [ "$(field mode "$line")" != "$mode" ]; then
    why="ran in mode $(field mode "$line"), not $mode"
  elif ! grep -qx "  verified $ENTRIES entries" "$out" || [ "$(field verified "$line")" != "$ENTRIES" ]; then
    why="wrong output: not every entry verified"
  fi
  if [ -n "$why" ]; then
    echo "FAILED: cache / $config run $run: $why (logs: $out, $err)" >&2
    grep -v '^BENCH ' "$err" | tail -5 | sed 's/^/      /' >&2
    FAILED[$config]=$why
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

FIELDS="requests_per_s p50_ns p99_ns p999_ns max_ns over_1ms pause_max_ns maxrss_mb cpu_s cycles live_mb build_s heap_peak_mb heap_live_mb mark_assist_ns mark_worker_ns young_pause_max_ns"
echo "cache: $ENTRIES entries, ${SECONDS_PER_RUN} s per run, one update in $UPDATE_EVERY, $RUNS run(s) each, configurations: $CONFIGS"
: >"$LOG_DIR/runs.txt"
for run in $(seq 1 "$RUNS"); do
  for config in $CONFIGS; do
    [ -n "${FAILED[$config]:-}${SKIPPED[$config]:-}" ] && continue
    if [ ! -x "${EXE[$config]}" ]; then
      if [ "${KIND[$config]}" = optional ]; then
        SKIPPED[$config]="not built"
        echo "skipped: cache / $config: ${EXE[$config]} not built (its package is missing;" \
          "bench/install-deps.sh installs it)" >&2
      else
        FAILED[$config]="not built"
        echo "FAILED: cache / $config: ${EXE[$config]} was not built" >&2
      fi
      continue
    fi
    run_one "$config" "$run" || continue
    line=$LINE
    printf '  %-21s run %d: req/s=%s p50_ns=%s p99_ns=%s p999_ns=%s max_ns=%s pause_max_ns=%s maxrss_mb=%s live_mb=%s cycles=%s cpu_s=%s build_s=%s\n' \
      "$config" "$run" "$(field requests_per_s "$line")" "$(field p50_ns "$line")" \
      "$(field p99_ns "$line")" "$(field p999_ns "$line")" "$(field max_ns "$line")" \
      "$(field pause_max_ns "$line")" "$(field maxrss_mb "$line")" "$(field live_mb "$line")" \
      "$(field cycles "$line")" "$(field cpu_s "$line")" "$(field build_s "$line")" |
      tee -a "$LOG_DIR/runs.txt"
    for f in $FIELDS; do
      value=$(field "$f" "$line")
      [ "$value" != "-" ] && echo "$value" >>"$LOG_DIR/$config.$f"
    done
  done
done

# Medians and worst runs: the worst of requests/s is the lowest, of everything else the highest.
declare -A MED=() WORST=()
for config in $CONFIGS; do
  for f in $FIELDS; do
    file=$LOG_DIR/$config.$f
    if [ -z "${FAILED[$config]:-}${SKIPPED[$config]:-}" ] && [ -s "$file" ]; then
      MED[$config.$f]=$(median <"$file")
      if [ "$f" = requests_per_s ]; then
        WORST[$config.$f]=$(minimum <"$file")
      else
        WORST[$config.$f]=$(maximum <"$file")
      fi
    else
      MED[$config.$f]=-
      WORST[$config.$f]=-
    fi
  done
done

# The live cache: the nominal size every program computes the same way (entries, keys, values,
# an 8-byte table slot per power-of-two bucket).
LIVE_MB=-
for config in $CONFIGS; do
  [ "${MED[$config.live_mb]}" != "-" ] && { LIVE_MB=${MED[$config.live_mb]}; break; }
done

TEXT=$LOG_DIR/cache.txt
MD=$LOG_DIR/cache.md
: >"$TEXT"
: >"$MD"
table() { # which (MED or WORST) title
  local -n values=$1
  printf '%s\n' "$2" >>"$TEXT"
  printf '%-21s %9s %8s %8s %9s %10s %10s %7s %8s %9s\n' \
    config req/s p50_us p99_us p99.9_us slowest_ms stw_max_ms rss_mb rss/live cycles >>"$TEXT"
  {
    echo "| configuration | requests/s | p50 µs | p99 µs | p99.9 µs | slowest request ms | longest STW pause ms | peak RSS MB | RSS / live | cycles |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  } >>"$MD"
  for config in $CONFIGS; do
    local rps p50 p99 p999 slow pause rss rl cycles note=""
    rps=$(scaled "${values[$config.requests_per_s]}" 1 '%.0f')
    p50=$(scaled "${values[$config.p50_ns]}" 1e3 '%.2f')
    p99=$(scaled "${values[$config.p99_ns]}" 1e3 '%.2f')
    p999=$(scaled "${values[$config.p999_ns]}" 1e3 '%.2f')
    slow=$(scaled "${values[$config.max_ns]}" 1e6 '%.2f')
    pause=$(scaled "${values[$config.pause_max_ns]}" 1e6 '%.3f')
    rss=$(scaled "${values[$config.maxrss_mb]}" 1 '%.0f')
    rl=$(ratio "${values[$config.maxrss_mb]}" "$LIVE_MB")
    cycles=$(scaled "${values[$config.cycles]}" 1 '%.0f')
    [ -n "${FAILED[$config]:-}" ] && note="  FAILED (${FAILED[$config]})"
    [ -n "${SKIPPED[$config]:-}" ] && note="  skipped (${SKIPPED[$config]})"
    printf '%-21s %9s %8s %8s %9s %10s %10s %7s %8s %9s%s\n' "$config" "$rps" "$p50" "$p99" \
      "$p999" "$slow" "$pause" "$rss" "$rl" "$cycles" "$note" >>"$TEXT"
    echo "| $config${FAILED[$config]:+ **FAILED (${FAILED[$config]})**}${SKIPPED[$config]:+ (skipped: ${SKIPPED[$config]})} | $rps | $p50 | $p99 | $p999 | $slow | $pause | $rss | $rl | $cycles |" >>"$MD"
  done
}
{
  echo "live cache: $(scaled "$LIVE_MB" 1 '%.1f') MB nominal ($ENTRIES entries: 40-byte entry + 15-byte key + 256..768-byte value each, and the table); RSS / live = peak RSS / that"
  echo
} >>"$TEXT"
table MED "Medians of $RUNS run(s):"
echo >>"$TEXT"
echo >>"$MD"
table WORST "Worst run of each (lowest requests/s, highest of the others):"
{
  echo
  echo "(stw_max_ms: the longest stop-the-world pause the runtime reports: Shade's pause_max_ns, Go's"
  echo " PauseNs; bdwgc, malloc, Mono report none. The slowest request includes every pause.)"
} >>"$TEXT"

# Shade / peer ratios, for every Shade configuration against every other configuration.
RATIO_TEXT=$LOG_DIR/ratios.txt
RATIO_MD=$LOG_DIR/ratios.md
{
  printf '%-40s %7s %7s %10s %7s\n' "Shade / peer (medians)" req/s p99.9 slowest rss
} >"$RATIO_TEXT"
{
  echo "| Shade / peer (medians) | requests/s | p99.9 | slowest request | peak RSS |"
  echo "|---|---:|---:|---:|---:|"
} >"$RATIO_MD"
for shade in $CONFIGS; do
  [[ $shade == shade-* ]] || continue
  for peer in $CONFIGS; do
    [[ $peer == shade-* ]] && continue
    r1=$(ratio "${MED[$shade.requests_per_s]:--}" "${MED[$peer.requests_per_s]:--}")
    r2=$(ratio "${MED[$shade.p999_ns]:--}" "${MED[$peer.p999_ns]:--}")
    r3=$(ratio "${MED[$shade.max_ns]:--}" "${MED[$peer.max_ns]:--}")
    r4=$(ratio "${MED[$shade.maxrss_mb]:--}" "${MED[$peer.maxrss_mb]:--}")
    printf '%-40s %7s %7s %10s %7s\n' "$shade / $peer" "$r1" "$r2" "$r3" "$r4" >>"$RATIO_TEXT"
    echo "| $shade / $peer | $r1 | $r2 | $r3 | $r4 |" >>"$RATIO_MD"
  done
done
echo "(requests/s above 1: Shade serves more; the others below 1: Shade is lower)" >>"$RATIO_TEXT"

# Targets of the generational mode. Until the configurations shade-gen-stw and
# shade-gen-concurrent exist, they are measured on shade-stw and shade-concurrent, so that the
# columns are there and show where Shade stands today.
GEN_STW="shade-gen-stw" GEN_CONC="shade-gen-concurrent"
[[ " $CONFIGS " == *" $GEN_STW "* ]] || GEN_STW="shade-stw"
[[ " $CONFIGS " == *" $GEN_CONC "* ]] || GEN_CONC="shade-concurrent"
TARGET_TEXT=$LOG_DIR/targets.txt
{
  echo "Targets of Shade's generational mode (median and worst run):"
  [ "$GEN_STW" = shade-stw ] &&
    echo "  (no shade-gen-stw configuration yet: measured on shade-stw, which is not generational)"
  [ "$GEN_CONC" = shade-concurrent ] &&
    echo "  (no shade-gen-concurrent configuration yet: measured on shade-concurrent, not generational)"
  printf '  %-58s %-18s %12s %12s  %s\n' target measured-on median worst verdict
  t=$(ratio "${MED[$GEN_STW.requests_per_s]:--}" "${MED[shade-stw.requests_per_s]:--}")
  tw=$(ratio "${WORST[$GEN_STW.requests_per_s]:--}" "${MED[shade-stw.requests_per_s]:--}")
  printf '  %-58s %-18s %12s %12s  %s\n' "gen stw: requests/s >= 2 x shade-stw (non-generational)" \
    "$GEN_STW" "${t}x" "${tw}x" "$(verdict "$t" '>=' 2)"
  # Young pauses: young_pause_max_ns when the collector reports it, else its longest pause.
  young=young_pause_max_ns
  [ "${MED[$GEN_STW.$young]:--}" = "-" ] && young=pause_max_ns
  p=$(scaled "${MED[$GEN_STW.$young]:--}" 1e6 '%.3f')
  pw=$(scaled "${WORST[$GEN_STW.$young]:--}" 1e6 '%.3f')
  printf '  %-58s %-18s %12s %12s  %s\n' "gen stw: young pauses < 2 ms ($young)" "$GEN_STW" \
    "$p ms" "$pw ms" "$(verdict "$p" '<' 2)"
  p=$(scaled "${MED[$GEN_CONC.pause_max_ns]:--}" 1e6 '%.3f')
  pw=$(scaled "${WORST[$GEN_CONC.pause_max_ns]:--}" 1e6 '%.3f')
  printf '  %-58s %-18s %12s %12s  %s\n' "gen concurrent: every pause < 1 ms (pause_max_ns)" \
    "$GEN_CONC" "$p ms" "$pw ms" "$(verdict "$p" '<' 1)"
  t=$(ratio "${MED[$GEN_CONC.requests_per_s]:--}" "${MED[go.requests_per_s]:--}")
  tw=$(ratio "${WORST[$GEN_CONC.requests_per_s]:--}" "${MED[go.requests_per_s]:--}")
  printf '  %-58s %-18s %12s %12s  %s\n' "gen concurrent: requests/s >= Go's" "$GEN_CONC" \
    "${t}x" "${tw}x" "$(verdict "$t" '>=' 1)"
  t=$(ratio "${MED[$GEN_CONC.maxrss_mb]:--}" "$LIVE_MB")
  tw=$(ratio "${WORST[$GEN_CONC.maxrss_mb]:--}" "$LIVE_MB")
  printf '  %-58s %-18s %12s %12s  %s\n' "gen concurrent: peak RSS <= 1.3 x live cache ($(scaled "$LIVE_MB" 1 '%.0f') MB)" \
    "$GEN_CONC" "${t}x" "${tw}x" "$(verdict "$t" '<=' 1.3)"
} >"$TARGET_TEXT"

echo
cat "$TEXT"
echo
cat "$RATIO_TEXT"
echo
cat "$TARGET_TEXT"

LOAD_AFTER=$(load_average)
if busy "$LOAD_BEFORE" || busy "$LOAD_AFTER"; then
  echo
  echo "note: load average $LOAD_BEFORE before, $LOAD_AFTER after: the machine was busy; latencies and requests/s are noisy."
fi

if [ -n "$RESULTS" ]; then
  mkdir -p "$(dirname "$RESULTS")"
  {
    echo "# Generational: the cache workload"
    echo
    machine_description "$BUILD_DIR"
    echo "mimalloc $(dpkg-query -W -f '${Version}' libmimalloc-dev 2>/dev/null || echo '?'), jemalloc $(dpkg-query -W -f '${Version}' libjemalloc-dev 2>/dev/null || echo '?'), $(go version 2>/dev/null | cut -d' ' -f3 || echo 'go ?'), Mono $(dpkg-query -W -f '${Version}' mono-runtime 2>/dev/null || echo '?') (SGen),"
    echo "Shade $SHADE_VERSION (read when the runs started)."
    echo "$RUNS run(s) per configuration, interleaved. Load average before / after: $LOAD_BEFORE / $LOAD_AFTER ($(nproc) CPUs)."
    echo "Command: \`BENCH_RUNS=$RUNS CACHE_ENTRIES=$ENTRIES CACHE_SECONDS=$SECONDS_PER_RUN CACHE_UPDATE_EVERY=$UPDATE_EVERY bash bench/cache/run.sh $BUILD_DIR\`."
    if busy "$LOAD_BEFORE" || busy "$LOAD_AFTER"; then
      echo
      echo "**The machine was busy** (load average above $(awk -v n="$(nproc)" 'BEGIN { print n / 4 }') on $(nproc) CPUs): latencies and requests/s measure the neighbours too."
    fi
    echo
    echo "Live cache: **$(scaled "$LIVE_MB" 1 '%.1f') MB** nominal ($ENTRIES entries of a 40-byte entry, a 15-byte key and a 256..768-byte value, and the table). A request allocates its text, a parse (12 small objects in C) and a response buffer; one in $UPDATE_EVERY replaces the entry it served. Percentiles from 10 ns buckets; slowest request exact."
    echo
    echo "## Medians"
    echo
    sed -n '1,/^$/p' "$MD" | sed '/^$/d'
    echo
    echo "## Worst run of each"
    echo
    sed -n '/^$/,$p' "$MD" | sed '/^$/d'
    echo
    echo "## Shade / peer"
    echo
    cat "$RATIO_MD"
    echo
    echo "## Targets (generational mode)"
    echo
    echo '```'
    cat "$TARGET_TEXT"
    echo '```'
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

for config in "${!SKIPPED[@]}"; do
  echo "note: cache / $config skipped (${SKIPPED[$config]})"
done
if [ ${#FAILED[@]} -gt 0 ]; then
  echo >&2
  echo "==== CACHE BENCHMARK FAILURES ====" >&2
  for k in "${!FAILED[@]}"; do
    echo "  $k: ${FAILED[$k]}" >&2
  done
  exit 1
fi
exit 0
