/* gc_inline.h: Shade's bdwgc-compatible headers live in gc/; this name is kept for programs that
 * include <gc_inline.h>. */
#include "gc/gc_inline.h"
