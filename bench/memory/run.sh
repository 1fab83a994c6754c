#!/bin/bash
# bench/memory/run.sh <builddir> [buffer-MiB=1024]: the memory-return benchmark.
#
#   1. rss_curve for shade, malloc and bdwgc: allocate/fill/checksum/drop a buffer four times with
#      3 s pauses, RSS sampled every 100 ms; the curves go into one PNG (gnuplot),
#      bench/results/memory_rss.png, and the per-round figures into bench/results/memory.md;
#   2. the ctypes demo: Python calls a C library built on Shade, RSS after the call returns;
#   3. (BENCH_SCAVENGER_COST=1) the scavenger's cost on binary-trees: bt_shade with
#      SHADE_SCAVENGE=on and off, BENCH_RUNS times each, interleaved, medians of wall and CPU.
# <builddir> must be configured with -DSHADE_BUILD_BENCH=ON and built.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
if [ $# -lt 1 ]; then
  echo "usage: $0 <builddir> [buffer-MiB]" >&2
  exit 2
fi
BUILD_DIR=$1
MIB=${2:-1024}
SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
BIN=$BUILD_DIR/bench/memory
RESULTS=${BENCH_RESULTS_DIR:-$SCRIPT_DIR/../results}
LOGS=$BIN/logs
mkdir -p "$LOGS" "$RESULTS"
status=0

echo "rss_curve: ${MIB} MiB buffer, 4 rounds, 3 s pauses, RSS every 100 ms"
ran=""
for allocator in shade malloc bdwgc; do
  exe=$BIN/rss_curve_$allocator
  if [ ! -x "$exe" ]; then
    echo "  $allocator: not built ($exe)" >&2
    continue
  fi
  if ! "$exe" "$MIB" 4 3 >"$LOGS/rss_$allocator.dat" 2>"$LOGS/rss_$allocator.err"; then
    echo "  $allocator: FAILED (see $LOGS/rss_$allocator.err)" >&2
    status=1
    continue
  fi
  ran="$ran $allocator"
  grep '^ROUND' "$LOGS/rss_$allocator.err" | sed 's/^/  /'
done

{
  echo "# Memory returned to the OS (bench/memory/run.sh $BUILD_DIR $MIB)"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg). RSS in MiB."
  echo
  echo "| allocator | round | RSS before | peak | RSS 2 s after the drop | back within 10% after |"
  echo "|---|---|---|---|---|---|"
  for allocator in $ran; do
    grep '^ROUND' "$LOGS/rss_$allocator.err" | awk -v a="$allocator" '{
      for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      back = v["back_within_10pct_s"] < 0 ? "never (3 s pause)" : v["back_within_10pct_s"] " s"
      printf "| %s | %s | %s | %s | %s | %s |\n", a, $2, v["before_mib"], v["peak_mib"], v["after2s_mib"], back
    }'
  done
} >"$RESULTS/memory.md"

if command -v gnuplot >/dev/null 2>&1 && [ -n "$ran" ]; then
  plot=""
  for allocator in $ran; do
    [ -n "$plot" ] && plot="$plot, "
    plot="$plot'$LOGS/rss_$allocator.dat' using 1:2 with lines lw 2 title '$allocator'"
  done
  gnuplot <<GNUPLOT
set terminal pngcairo size 1000,500 noenhanced
set output '$RESULTS/memory_rss.png'
set title 'RSS while a ${MIB} MiB buffer is allocated, filled, checksummed and dropped, 4 times'
set xlabel 'seconds'
set ylabel 'RSS (MiB)'
set key top right
set grid
plot $plot
GNUPLOT
  if [ -s "$RESULTS/memory_rss.png" ]; then
    echo "  curves: $RESULTS/memory_rss.png"
    printf '\n![RSS over time](memory_rss.png)\n' >>"$RESULTS/memory.md"
  fi
else
  echo "  gnuplot not found: no PNG (sh bench/install-deps.sh installs gnuplot-nox)" >&2
fi

if [ -e "$BIN/libshade_ctypes_demo.so" ] && command -v python3 >/dev/null 2>&1; then
  echo "ctypes demo:"
  {
    echo
    echo "## ctypes demo (python3 bench/memory/ctypes_demo.py libshade_ctypes_demo.so 512)"
    echo
    echo '```'
    python3 "$SCRIPT_DIR/ctypes_demo.py" "$BIN/libshade_ctypes_demo.so" 512
    echo '```'
  } | tee -a "$RESULTS/memory.md" | sed -n '/^ctypes demo/,$p' | sed 's/^/  /'
fi

if [ "${BENCH_SCAVENGER_COST:-0}" = 1 ]; then
  runs=${BENCH_RUNS:-3}
  depth=${BT_DEPTH:-21}
  bt=$BUILD_DIR/bench/bt_shade
  echo "scavenger cost: $bt $depth, SHADE_SCAVENGE=on/off, $runs runs each"
  if [ ! -x "$bt" ]; then
    echo "  FAILED: $bt was not built" >&2
    exit 1
  fi
  rm -f "$LOGS"/bt_on.*.err "$LOGS"/bt_off.*.err
  for run in $(seq 1 "$runs"); do
    for mode in on off; do
      SHADE_SCAVENGE=$mode "$bt" "$depth" >/dev/null 2>"$LOGS/bt_$mode.$run.err" || status=1
      grep '^BENCH' "$LOGS/bt_$mode.$run.err" | sed "s/^/  $mode: /"
    done
  done
  median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
  {
    echo
    echo "## Scavenger cost on binary-trees $depth (median of $runs, interleaved)"
    echo
    echo "| SHADE_SCAVENGE | wall s | cpu s | max RSS MB |"
    echo "|---|---|---|---|"
    for mode in on off; do
      w=$(cat "$LOGS"/bt_$mode.*.err | sed -n 's/.* wall_s=\([^ ]*\).*/\1/p' | median)
      c=$(cat "$LOGS"/bt_$mode.*.err | sed -n 's/.* cpu_s=\([^ ]*\).*/\1/p' | median)
      m=$(cat "$LOGS"/bt_$mode.*.err | sed -n 's/.* maxrss_mb=\([^ ]*\).*/\1/p' | median)
      echo "| $mode | $w | $c | $m |"
    done
  } | tee -a "$RESULTS/memory.md"
fi
echo "results: $RESULTS/memory.md"
exit $status
