#!/bin/sh
# check_layers.sh: Shade's layers never include upwards.
#
#   base (0) < os (1) < alloc (2) < gc (3) < api, rc (4)
#
# A file in src/<layer>/ may include headers of its own layer and of lower ones (and the public
# headers shade.h, shade/*.h and system headers), never of a higher layer. Prints every upward
# include as `file:line: <layer> includes <other>` and exits 1 if there is one.
#
# Usage: check_layers.sh SRC_DIR        check a source tree
#        check_layers.sh --self-test    check that an upward include in a scratch tree is caught
set -u

rank() {
  case "$1" in
    base) echo 0 ;; os) echo 1 ;; alloc) echo 2 ;; gc) echo 3 ;; api|rc) echo 4 ;;
    *) echo "" ;;
  esac
}

check() {
  src=$1
  status=0
  found=0
  for file in "$src"/*/*.c "$src"/*/*.h; do
    [ -f "$file" ] || continue
    found=$((found + 1))
    layer=$(basename "$(dirname "$file")")
    own=$(rank "$layer")
    if [ -z "$own" ]; then
      echo "$file: folder '$layer' is not a known layer (base, os, alloc, gc, api, rc)"
      status=1
      continue
    fi
    # #include "dir/name.h" lines, with their line numbers
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[a-z_]*/' "$file" | while IFS= read -r hit; do
      line=${hit%%:*}
      other=$(printf '%s\n' "$hit" | sed 's/^[^"]*"\([a-z_]*\)\/.*/\1/')
      other_rank=$(rank "$other")
      if [ -n "$other_rank" ] && [ "$other_rank" -gt "$own" ]; then
        echo "$file:$line: $layer includes $other (a higher layer)"
      fi
    done
  done > "${TMPDIR:-/tmp}/shade_layers.$$"
  if [ -s "${TMPDIR:-/tmp}/shade_layers.$$" ]; then
    cat "${TMPDIR:-/tmp}/shade_layers.$$"
    status=1
  fi
  rm -f "${TMPDIR:-/tmp}/shade_layers.$$"
  if [ "$found" -eq 0 ]; then
    echo "no source files under $src"
    status=1
  fi
  return $status
}

if [ "${1:-}" = "--self-test" ]; then
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  mkdir -p "$scratch/alloc" "$scratch/gc"
  printf '#include "alloc/a.h"\n' > "$scratch/gc/ok.c"
  printf '#include "gc/b.h"\n' > "$scratch/alloc/a.h"   # upward: must be reported
  if out=$(check "$scratch"); then
    echo "FAILED: an upward include (alloc -> gc) was not reported"
    exit 1
  fi
  case "$out" in
    *"alloc/a.h:1: alloc includes gc"*) ;;
    *) echo "FAILED: unexpected report: $out"; exit 1 ;;
  esac
  printf '#include "alloc/c.h"\n' > "$scratch/alloc/a.h"
  if ! out=$(check "$scratch"); then
    echo "FAILED: a clean tree was reported: $out"
    exit 1
  fi
  echo "self-test passed: upward includes are reported, a clean tree passes"
  exit 0
fi

[ $# -eq 1 ] || { echo "usage: $0 SRC_DIR | --self-test"; exit 2; }
if check "$1"; then
  echo "layers: no upward include under $1"
else
  exit 1
fi
