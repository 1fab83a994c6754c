#!/bin/sh
# bench/install-deps.sh: install what the benchmarks need that a C toolchain lacks, quietly, once.
#
# Needed (a failure to install them is a failure):
#   libgc-dev        bdwgc, the peer collector (headers, libgc.so, bdw-gc.pc)
#   gnuplot-nox      bench/memory/run.sh draws its PNG with gnuplot
# Optional peers (each one on its own: if it cannot be had, a line says which peer is skipped and the
# rest goes on; the build and bench/run.sh skip that peer with a line of their own):
#   libmimalloc-dev  mimalloc: the *_mimalloc builds
#   libjemalloc-dev  jemalloc: the *_jemalloc builds
#   golang-go        Go: bench/binary_trees.go and bench/cache.go
#   mono-mcs mono-runtime   Mono (C# compiler, runtime with the SGen collector): bench/cache.cs
# BENCH_NO_PEERS=1 installs only the needed ones. Packages already installed are left alone.
# Needs root (or sudo) and apt-get (Debian, Ubuntu).
set -e

REQUIRED="libgc-dev gnuplot-nox"
OPTIONAL="libmimalloc-dev libjemalloc-dev golang-go mono-mcs mono-runtime"
[ "${BENCH_NO_PEERS:-0}" = 1 ] && OPTIONAL=""

installed() { dpkg-query -W -f '${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing_required=""
for package in $REQUIRED; do
  installed "$package" || missing_required="$missing_required $package"
done
missing_optional=""
for package in $OPTIONAL; do
  installed "$package" || missing_optional="$missing_optional $package"
done
[ -z "$missing_required$missing_optional" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "bench/install-deps.sh: please install:$missing_required (no apt-get here)" >&2
  [ -n "$missing_optional" ] &&
    echo "bench/install-deps.sh: optional peers not installed:$missing_optional (they will be skipped)" >&2
  [ -z "$missing_required" ] && exit 0
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
updated=0
# apt-get install, with one `apt-get update` first time it fails (a fresh machine often has no
# package lists yet).
install() {
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 && return 0
  if [ $updated = 0 ]; then
    updated=1
    $SUDO apt-get update -qq >/dev/null 2>&1 || true
    $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 && return 0
  fi
  return 1
}

if [ -n "$missing_required" ]; then
  echo "bench/install-deps.sh: installing$missing_required"
  # shellcheck disable=SC2086
  if ! install $missing_required; then
    echo "bench/install-deps.sh: could not install$missing_required" >&2
    exit 1
  fi
fi
for package in $missing_optional; do
  echo "bench/install-deps.sh: installing $package (optional peer)"
  if ! install "$package"; then
    case $package in
      libmimalloc-dev) peer="mimalloc (*_mimalloc)" ;;
      libjemalloc-dev) peer="jemalloc (*_jemalloc)" ;;
      golang-go) peer="Go (bt_go, cache_go)" ;;
      mono-*) peer="Mono/SGen (cache_mono)" ;;
      *) peer=$package ;;
    esac
    echo "bench/install-deps.sh: $package could not be installed: the $peer peer will be skipped" >&2
  fi
done
exit 0
