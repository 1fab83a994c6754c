#!/bin/sh
# test_install.sh (core_install): install Shade into a temporary prefix, then build and run a
# small consumer against it, through pkg-config (shared and static) and through
# find_package(shade) (shade::shade and shade::shade_static).
#
# usage: test_install.sh <build-dir> <this-dir> <cmake> <c-compiler> [<sanitizer>]
# Exits 77 (skipped) when pkg-config is missing or in sanitizer builds, whose libraries need the
# sanitizer runtime in every consumer.
set -eu
build_dir=$1
here=$2
cmake=$3
cc=$4
sanitizer=${5:-}

if [ -n "$sanitizer" ]; then
  echo "SKIPPED: sanitizer build ($sanitizer)"
  exit 77
fi
if ! command -v pkg-config >/dev/null 2>&1; then
  echo "SKIPPED: pkg-config is not installed"
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/shade-install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

step() { echo "== $*"; }

step "install into $prefix"
"$cmake" --install "$build_dir" --prefix "$prefix" >"$work/install.log" 2>&1 || {
  cat "$work/install.log"; exit 1; }
test -f "$prefix/include/shade.h"
libdir=$(find "$prefix" -name 'libshade.a' -exec dirname {} \; | head -n 1)
test -n "$libdir" || { echo "libshade.a not installed"; exit 1; }
pcdir=$libdir/pkgconfig
test -f "$pcdir/shade.pc" || { echo "shade.pc not installed in $pcdir"; exit 1; }

failures=0
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }

step "pkg-config, shared library"
export PKG_CONFIG_PATH=$pcdir
version=$(pkg-config --modversion shade)
[ "$version" = "0.1.0" ] || fail "pkg-config --modversion says '$version'"
echo "pkg-config --cflags --libs shade: $(pkg-config --cflags --libs shade)"
# shellcheck disable=SC2046
if "$cc" -o "$work/pc_shared" "$here/consumer/consumer.c" $(pkg-config --cflags --libs shade); then
  LD_LIBRARY_PATH=$libdir "$work/pc_shared" || fail "pc_shared did not run"
else
  fail "compiling with pkg-config (shared)"
fi

step "pkg-config --static, static library"
# shellcheck disable=SC2046
if "$cc" -o "$work/pc_static" "$here/consumer/consumer.c" $(pkg-config --cflags shade) \
    "$libdir/libshade.a" $(pkg-config --static --libs-only-l shade | sed 's/-lshade//'); then
  "$work/pc_static" || fail "pc_static did not run"
else
  fail "compiling with pkg-config (static)"
fi

step "find_package(shade)"
if "$cmake" -S "$here/consumer" -B "$work/consumer-build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_COMPILER="$cc" >"$work/configure.log" 2>&1 &&
   "$cmake" --build "$work/consumer-build" >"$work/build.log" 2>&1; then
  LD_LIBRARY_PATH=$libdir "$work/consumer-build/consumer_shared" || fail "consumer_shared did not run"
  "$work/consumer-build/consumer_static" || fail "consumer_static did not run"
else
  cat "$work/configure.log" "$work/build.log" 2>/dev/null | grep -v "^--" | head -30
  fail "building with find_package(shade)"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures step(s) failed"
  exit 1
fi
echo "ok"
