#!/bin/sh
# run_trace_test.sh EXE MODE WORKDIR SRCDIR CHECKER
# Runs the trace-file test program in MODE, then checks the trace with CHECKER:
#   python  check_trace.py (json module + content checks written here)
#   model   check_trace_model.js with @tracerbench/trace-model, an independent Trace Event
#           parser installed with `npm install --prefix WORKDIR/npm`; exit 77 (skipped) when
#           node, npm or the package cannot be had.
set -u
exe=$1 mode=$2 work=$3 src=$4 checker=$5
mkdir -p "$work"
trace="$work/trace-$mode-$checker.json" stats="$work/stats-$mode-$checker.json"
rm -f "$trace" "$stats"
if [ "$checker" = model ]; then
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "skipped: node or npm not installed"; exit 77
  fi
  if [ ! -d "$work/npm/node_modules/@tracerbench/trace-model" ]; then
    if ! npm install --silent --no-audit --no-fund --prefix "$work/npm" @tracerbench/trace-model@8 >"$work/npm-install.log" 2>&1; then
      echo "skipped: npm install @tracerbench/trace-model failed (see $work/npm-install.log)"; exit 77
    fi
  fi
fi
if [ "$mode" = stw ]; then # the environment variable's path
  SHADE_TRACE_FILE="$trace" "$exe" "$mode" env "$stats" || exit 1
else
  "$exe" "$mode" "$trace" "$stats" || exit 1
fi
case $checker in
  python) python3 "$src/check_trace.py" "$trace" "$stats" ;;
  model) node "$src/check_trace_model.js" "$trace" "$stats" "$work/npm" ;;
esac
