/* gc_version.h: Shade's bdwgc-compatible headers live in gc/; this name is kept for programs that
 * include <gc_version.h>. */
#include "gc/gc_version.h"
