/* gc_disclaim.h: Shade's bdwgc-compatible headers live in gc/; this name is kept for programs that
 * include <gc_disclaim.h>. */
#include "gc/gc_disclaim.h"
