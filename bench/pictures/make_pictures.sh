#!/bin/bash
# bench/pictures/make_pictures.sh [builddir]: the pictures of docs/images/, remade. Run by hand
# (not part of the tests: it needs Chromium and npm packages, and a minute or two).
#
#   1. builds Shade with the benchmarks in <builddir> (default build-pictures): libshade.a and
#      churn_shade;
#   2. trace: churn_shade in concurrent mode for 0.5 s (100,000 slots, SHADE_GC_CPU=100 so that a
#      shade-gc-worker thread runs beside shade-gc, SHADE_GC_PERCENT=50 for more cycles) writes
#      SHADE_TRACE_FILE; Chrome DevTools' Performance panel loads it ->
#      docs/images/trace-overview.png (the whole run) and docs/images/trace-cycle.png (the end
#      of one cycle: the final pause, mark chunks, the background sweep);
#   3. heap snapshot: bench/pictures/snapshot_example.c, compiled with cc against libshade.a,
#      writes one; DevTools' Memory panel loads it -> docs/images/heap-snapshot.png (Summary,
#      and the Retainers of one "User" object down to (GC roots));
#   4. the memory plot is bench/results/memory_rss.png, made by bench/memory/run.sh (the docs
#      show it from there); PICTURES_MEMORY=1 reruns that benchmark (a minute, 1 GiB buffers).
#
# The viewer is the DevTools frontend built into Debian's chromium package
# (devtools://devtools/bundled/devtools_app.html), driven headless by bench/pictures/shoot.js
# through puppeteer-core (npm, installed into <builddir>/pictures-npm). It installs chromium with
# apt-get when it is missing and the script runs as root; what it cannot get, it names and skips.
# chrome://tracing is not used: Debian's Chromium 156 answers ERR_FAILED for it, even with the
# internal debugging pages enabled.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
BUILD_DIR=${1:-$ROOT/build-pictures}
mkdir -p "$BUILD_DIR"
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
IMAGES=$ROOT/docs/images
WORK=$BUILD_DIR/pictures
NPM_DIR=$BUILD_DIR/pictures-npm
mkdir -p "$IMAGES" "$WORK"
status=0

skip() { echo "make_pictures: SKIPPED: $*" >&2; status=1; }

# --- tools ---------------------------------------------------------------------------------------
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing chromium (apt-get)"
    apt-get update -qq >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1
  fi
fi
have_browser=1
if [ ! -x "$CHROMIUM" ]; then
  skip "no Chromium at $CHROMIUM (apt-get install chromium, or CHROMIUM=path): no screenshots"
  have_browser=0
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  skip "node and npm are needed to drive Chromium (apt-get install nodejs npm): no screenshots"
  have_browser=0
fi
if [ $have_browser = 1 ] && [ ! -d "$NPM_DIR/node_modules/puppeteer-core" ]; then
  echo "installing puppeteer-core into $NPM_DIR (npm)"
  if ! npm install --prefix "$NPM_DIR" --no-audit --no-fund --silent puppeteer-core >/dev/null 2>&1; then
    skip "npm install puppeteer-core failed: no screenshots"
    have_browser=0
  fi
fi
export NODE_PATH=$NPM_DIR/node_modules
export CHROMIUM

# --- build ---------------------------------------------------------------------------------------
echo "building Shade in $BUILD_DIR"
if ! cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHADE_BUILD_BENCH=ON \
    >"$WORK/cmake.log" 2>&1 ||
   ! cmake --build "$BUILD_DIR" -j2 --target shade_static churn_shade >>"$WORK/cmake.log" 2>&1; then
  echo "make_pictures: the build failed, see $WORK/cmake.log" >&2
  exit 1
fi
LIB=$(find "$BUILD_DIR" -maxdepth 1 -name 'libshade.a' | head -1)
CHURN=$BUILD_DIR/bench/churn_shade

# --- the trace -----------------------------------------------------------------------------------
TRACE=$WORK/churn-trace.json
rm -f "$TRACE"
echo "trace: churn_shade, concurrent, 0.5 s -> $TRACE"
if SHADE_MODE=concurrent SHADE_GC_CPU=100 SHADE_GC_PERCENT=50 CHURN_SLOTS=100000 CHURN_SECONDS=0.5 \
    SHADE_TRACE_FILE=$TRACE "$CHURN" >"$WORK/churn.log" 2>&1 && [ -s "$TRACE" ]; then
  if [ $have_browser = 1 ]; then
    echo "  DevTools Performance panel -> docs/images/trace-overview.png, trace-cycle.png"
    node "$SCRIPT_DIR/shoot.js" trace "$TRACE" "$IMAGES/trace-overview.png" "$IMAGES/trace-cycle.png" ||
      skip "the trace screenshots failed"
  fi
else
  echo "make_pictures: churn_shade failed, see $WORK/churn.log" >&2
  status=1
fi

# --- the heap snapshot ---------------------------------------------------------------------------
SNAPSHOT=$WORK/example.heapsnapshot
rm -f "$SNAPSHOT"
echo "heap snapshot: snapshot_example -> $SNAPSHOT"
if cc -std=c11 -O1 -g -Wall -Wextra -I "$ROOT/include" "$SCRIPT_DIR/snapshot_example.c" "$LIB" \
    -lpthread -ldl -lm -o "$WORK/snapshot_example" 2>"$WORK/cc.log" &&
   "$WORK/snapshot_example" "$SNAPSHOT" >"$WORK/snapshot.log" 2>&1 && [ -s "$SNAPSHOT" ]; then
  if [ $have_browser = 1 ]; then
    echo "  DevTools Memory panel -> docs/images/heap-snapshot.png"
    node "$SCRIPT_DIR/shoot.js" heap "$SNAPSHOT" "$IMAGES/heap-snapshot.png" User ||
      skip "the heap snapshot screenshot failed"
  fi
else
  echo "make_pictures: snapshot_example failed, see $WORK/cc.log and $WORK/snapshot.log" >&2
  status=1
fi

# --- the memory plot -----------------------------------------------------------------------------
if [ "${PICTURES_MEMORY:-0}" = 1 ]; then
  echo "memory plot: bench/memory/run.sh $BUILD_DIR"
  cmake --build "$BUILD_DIR" -j2 >>"$WORK/cmake.log" 2>&1 &&
    bash "$ROOT/bench/memory/run.sh" "$BUILD_DIR" || skip "bench/memory/run.sh failed"
else
  echo "memory plot: bench/results/memory_rss.png as it is (PICTURES_MEMORY=1 remakes it)"
fi

for png in "$IMAGES"/*.png; do
  [ -e "$png" ] && echo "  $(basename "$png"): $(($(stat -c %s "$png") / 1024)) KiB"
done
exit $status
