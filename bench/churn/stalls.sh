#!/bin/bash
# bench/churn/stalls.sh <builddir> [runs]: where churn's slow operations go, for a reader who must
# tell Shade's delays from the machine's. Runs churn_shade in concurrent mode (SHADE_MODE and
# CHURN_SECONDS may be set) under `perf record -F 10000 -e cpu-clock -g`, logging every
# operation of 2 ms or more (CHURN_SLOW_LOG_MS), then bench/churn/stalls.py lists the gaps of
# over 2 ms in the program thread's samples (time it did not run), what the process's other
# threads did meanwhile (none sampled: the whole VM stopped), and for each slow operation how
# much of it was such a gap and what the thread ran in the rest. perf's sampling costs the run
# some speed, so its figures are not the benchmark's; the benchmark (run.sh) records the host
# around its slowest operation without it.
# Needs perf (Debian: linux-perf) and python3; build the bench with frame pointers
# (-DCMAKE_C_FLAGS=-fno-omit-frame-pointer) for whole stacks.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
if [ $# -lt 1 ]; then
  echo "usage: $0 <builddir> [runs]" >&2
  exit 2
fi
EXE=$1/bench/churn_shade
RUNS=${2:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
[ -x "$EXE" ] || { echo "stalls.sh: no $EXE: build with -DSHADE_BUILD_BENCH=ON" >&2; exit 2; }
command -v perf >/dev/null || { echo "stalls.sh: needs perf (apt-get install linux-perf)" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
for run in $(seq "$RUNS"); do
  echo "== run $run: SHADE_MODE=${SHADE_MODE:-concurrent}"
  SHADE_MODE=${SHADE_MODE:-concurrent} CHURN_SLOW_LOG_MS=2 \
    perf record -q -F 10000 -e cpu-clock -g -o "$WORK/perf.data" "$EXE" \
    >/dev/null 2>"$WORK/churn.err" || { echo "run failed:"; tail -3 "$WORK/churn.err"; continue; }
  grep -o 'ops_per_s=[0-9]*\|max_ns=[0-9]*' "$WORK/churn.err" | head -2 | tr '\n' ' '
  echo
  perf script -i "$WORK/perf.data" -F comm,tid,time,ip,sym >"$WORK/perf.txt" 2>/dev/null
  python3 "$HERE/stalls.py" "$WORK/perf.txt" "$WORK/churn.err"
done
