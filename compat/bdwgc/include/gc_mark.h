/* gc_mark.h: Shade's bdwgc-compatible headers live in gc/; this name is kept for programs that
 * include <gc_mark.h>. */
#include "gc/gc_mark.h"
