#!/bin/sh
# check_compat_layer.sh DIR: the bdwgc layer (compat/bdwgc) is built on shade.h; only
# core_bridge.c, which says why in its header, includes Shade's internal headers
# ("base/...", "alloc/...", "gc/collector.h", ...). Every .c file starts with a comment.
# Prints each violation as `file:line: ...` and exits 1 if there is one.
set -u
dir=$1
status=0
for file in "$dir"/*.c "$dir"/*.h; do
  [ -f "$file" ] || continue
  case $(basename "$file") in core_bridge.c) continue ;; esac
  hits=$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"(base|os|alloc|gc|api|rc)/' "$file" \
         | grep -vE '"gc/(gc|gc_mark|gc_typed|gc_inline|gc_disclaim|javaxfc|gc_backptr|gc_tiny_fl)\.h"')
  if [ -n "$hits" ]; then
    printf '%s\n' "$hits" | sed "s|^|$file:|; s|\$| (an internal header outside core_bridge.c)|"
    status=1
  fi
  head -c 3 "$file" | grep -q '//' || { echo "$file:1: no purpose comment at the top"; status=1; }
done
[ $status = 0 ] && echo "bdwgc layer: only core_bridge.c reaches Shade's internals"
exit $status
