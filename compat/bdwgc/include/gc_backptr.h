/* gc_backptr.h: Shade's bdwgc-compatible headers live in gc/; this name is kept for programs that
 * include <gc_backptr.h>. */
#include "gc/gc_backptr.h"
