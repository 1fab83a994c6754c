/* gc.h: Shade's bdwgc-compatible headers live in gc/; this name is kept for programs that
 * include <gc.h>. */
#include "gc/gc.h"
