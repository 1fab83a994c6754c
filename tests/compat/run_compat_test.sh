#!/bin/sh
# run_compat_test.sh BUILD_DIR: proves Shade's libgc.so.1 on code nobody here wrote.
#
#   1. bdwgc's own tests, from the Debian source package of libgc fetched now (a deb-src entry
#      and `apt-get source libgc`, cached in BUILD_DIR/compat-test/src, never in the repository),
#      compiled against Shade's gc.h (bdwgc's private test headers beside it) and linked with
#      Shade's libgc.so.1.
#   2. Debian's w3m, unmodified, with Shade's libgc.so.1 in front (LD_LIBRARY_PATH): `w3m -dump`
#      of a generated 1.6 MB page must print exactly what it prints on the real libgc.
#   3. Debian's Guile 3.0 on Shade running the GC-heavy scripts in tests/compat/guile/ (each
#      checks its own results and exits non-zero on a failure).
# Prints one line per test (PASS, FAIL with the reason's last line, or SKIP with why) and a
# summary; exits 1 if anything failed. Missing tools are installed with apt-get when run as root.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR"; exit 2; }
BUILD=$(cd "$1" && pwd)
LIB=$BUILD/compat/bdwgc/lib
WORK=$BUILD/compat-test
TIMEOUT=${COMPAT_TEST_TIMEOUT:-300}
mkdir -p "$WORK"
[ -e "$LIB/libgc.so.1" ] || { echo "compat-test: $LIB/libgc.so.1 is missing: build first"; exit 2; }

failures=0
passes=0
skips=0
result() { # name status detail
  printf '%-28s %s%s\n' "$1" "$2" "${3:+  ($3)}"
  case $2 in PASS) passes=$((passes + 1)) ;; FAIL) failures=$((failures + 1)) ;; *) skips=$((skips + 1)) ;; esac
}

apt_install() { # packages...; best effort, root only
  [ "$(id -u)" = 0 ] || return 1
  { apt-get install -y -qq "$@" || { apt-get update -qq && apt-get install -y -qq "$@"; }; } \
    >"$WORK/apt.log" 2>&1
}
have() { command -v "$1" >/dev/null 2>&1; }

have dpkg-source || apt_install dpkg-dev
have w3m || apt_install w3m
have guile-3.0 || apt_install guile-3.0
have python3 || apt_install python3-minimal

# ---- 1. bdwgc's tests ------------------------------------------------------------------------
fetch_bdwgc() {
  src=$(ls -d "$WORK"/src/libgc-*/ 2>/dev/null | head -1)
  [ -n "$src" ] && return 0
  if ! grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    [ "$(id -u)" = 0 ] || return 1
    suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$suite" "$suite" > /etc/apt/sources.list.d/shade-compat-deb-src.sources
    apt-get update -qq >"$WORK/apt.log" 2>&1 || return 1
  fi
  mkdir -p "$WORK/src"
  (cd "$WORK/src" && apt-get source -qq libgc >"$WORK/apt-source.log" 2>&1) || {
    (cd "$WORK/src" && apt-get update -qq >/dev/null 2>&1 && apt-get source -qq libgc \
       >"$WORK/apt-source.log" 2>&1) || return 1; }
  src=$(ls -d "$WORK"/src/libgc-*/ 2>/dev/null | head -1)
  [ -n "$src" ]
}

run_bdwgc_tests() {
  if ! fetch_bdwgc; then
    result "bdwgc tests" FAIL "could not fetch the libgc source package (see $WORK/apt-source.log)"
    return
  fi
  tests=$src/tests
  inc=$WORK/include
  bin=$WORK/bin
  rm -rf "$inc" && mkdir -p "$inc" "$bin"
  # Shade's headers, flat, with bdwgc's private test headers beside them: their "../gc.h"
  # then resolves to Shade's gc.h.
  cp "$ROOT"/compat/bdwgc/include/gc/*.h "$inc"/
  cp -r "$src/include/private" "$inc"/
  cflags="-O1 -w -DGC_THREADS -DGC_BUILTIN_ATOMIC -I$inc"
  link="-L$LIB -Wl,-rpath,$LIB -lgc -lpthread"
  build() { # name source [extra flags]
    name=$1 source=$2
    shift 2
    if ! cc $cflags "$@" "$tests/$source" -o "$bin/$name" $link >"$bin/$name.build.log" 2>&1; then
      result "$name" FAIL "does not build: $(grep -m1 -E 'error|undefined' "$bin/$name.build.log")"
      return 1
    fi
  }
  run() { # name [env...]
    name=$1
    shift
    if env "$@" timeout "$TIMEOUT" "$bin/$name" >"$bin/$name.log" 2>&1; then
      result "$name" PASS
    else
      status=$?
      [ $status = 124 ] && why="timed out after ${TIMEOUT}s" || why="exit $status: $(tail -n 1 "$bin/$name.log")"
      result "$name" FAIL "$why"
    fi
  }
  build huge huge_test.c && run huge
  build realloc realloc_test.c && run realloc
  build middle middle.c && run middle
  build smash smash_test.c && run smash
  # staticroots: two shared libraries from one source, as bdwgc's build makes them
  if cc $cflags -fPIC -shared "$tests/staticrootslib.c" -o "$bin/libstaticrootslib_test.so" \
       -L"$LIB" -lgc >"$bin/staticroots.build.log" 2>&1 &&
     cc $cflags -DSTATICROOTSLIB2 -fPIC -shared "$tests/staticrootslib.c" \
       -o "$bin/libstaticrootslib2_test.so" -L"$LIB" -lgc >>"$bin/staticroots.build.log" 2>&1 &&
     cc $cflags -DSTATICROOTSLIB2 "$tests/staticrootstest.c" -o "$bin/staticroots" -L"$bin" \
       -Wl,-rpath,"$bin" -lstaticrootslib_test -lstaticrootslib2_test $link \
       >>"$bin/staticroots.build.log" 2>&1; then
    run staticroots
  else
    result staticroots FAIL "does not build: $(grep -m1 -E 'error|undefined' "$bin/staticroots.build.log")"
  fi
  build leak leak_test.c && run leak
  build threadleak thread_leak_test.c && run threadleak
  build subthreadcreate subthread_create.c && run subthreadcreate
  build initfromthread initsecondarythread.c && run initfromthread
  build disclaim disclaim_test.c && run disclaim
  build weakmap disclaim_weakmap_test.c && run weakmap
  build gctest test.c && run gctest
}

# ---- 2. w3m -----------------------------------------------------------------------------------
run_w3m() {
  if ! have w3m || ! have python3; then
    result "w3m -dump" SKIP "w3m or python3 is not installed and could not be"
    return
  fi
  page=$WORK/page.html
  [ -s "$page" ] || python3 "$ROOT/tests/compat/make_page.py" > "$page"
  # The real libgc (the system's) first, then Shade's in front.
  w3m -dump -T text/html "$page" > "$WORK/w3m.bdwgc.txt" 2>&1
  if ! LD_LIBRARY_PATH=$LIB timeout "$TIMEOUT" w3m -dump -T text/html "$page" \
       > "$WORK/w3m.shade.txt" 2>"$WORK/w3m.shade.err"; then
    result "w3m -dump" FAIL "w3m on Shade failed: $(tail -n 1 "$WORK/w3m.shade.err")"
  elif ! LD_LIBRARY_PATH=$LIB ldd "$(command -v w3m)" | grep -q "$LIB/libgc.so.1"; then
    result "w3m -dump" FAIL "w3m did not load Shade's libgc.so.1"
  elif cmp -s "$WORK/w3m.bdwgc.txt" "$WORK/w3m.shade.txt"; then
    result "w3m -dump" PASS "$(wc -l < "$WORK/w3m.shade.txt") lines, identical to bdwgc's"
  else
    result "w3m -dump" FAIL "output differs from w3m on bdwgc ($WORK/w3m.*.txt)"
  fi
}

# ---- 3. Guile 3.0 -----------------------------------------------------------------------------
run_guile() {
  if ! have guile-3.0; then
    result "guile" SKIP "guile-3.0 is not installed and could not be"
    return
  fi
  for script in "$ROOT"/tests/compat/guile/*.scm; do
    name="guile $(basename "$script" .scm)"
    if LD_LIBRARY_PATH=$LIB GUILE_AUTO_COMPILE=0 timeout "$TIMEOUT" guile-3.0 --no-auto-compile \
         "$script" > "$WORK/$(basename "$script").log" 2>&1; then
      result "$name" PASS "$(tail -n 1 "$WORK/$(basename "$script").log")"
    else
      result "$name" FAIL "exit $?: $(tail -n 1 "$WORK/$(basename "$script").log")"
    fi
  done
}

echo "compat-test: Shade's libgc.so.1 from $LIB"
run_bdwgc_tests
run_w3m
run_guile
echo "compat-test: $passes passed, $failures failed, $skips skipped"
[ $failures = 0 ]
