/* gc_typed.h: Shade's bdwgc-compatible headers live in gc/; this name is kept for programs that
 * include <gc_typed.h>. */
#include "gc/gc_typed.h"
