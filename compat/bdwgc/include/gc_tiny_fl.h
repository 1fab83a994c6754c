/* gc_tiny_fl.h: Shade's bdwgc-compatible headers live in gc/; this name is kept for programs that
 * include <gc_tiny_fl.h>. */
#include "gc/gc_tiny_fl.h"
