#!/bin/sh
# bench/install-deps.sh: install what the benchmarks need that a C toolchain lacks, quietly, once.
#   libgc-dev  bdwgc, the peer collector (headers, libgc.so, bdw-gc.pc)
# Packages already installed are left alone. Needs root (or sudo) and apt-get (Debian, Ubuntu).
set -e

PACKAGES="libgc-dev"
PACKAGES="$PACKAGES gnuplot-nox" # bench/memory/run.sh draws its PNG with gnuplot

missing=""
for package in $PACKAGES; do
  if ! dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $package"
  fi
done
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "bench/install-deps.sh: please install:$missing (no apt-get here)" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
fi

echo "bench/install-deps.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if ! $SUDO apt-get install -y -qq $missing >/dev/null 2>&1; then
  # A fresh machine often has no package lists yet.
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq $missing >/dev/null
fi
