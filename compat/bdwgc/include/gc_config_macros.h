/* gc_config_macros.h: Shade's bdwgc-compatible headers live in gc/; this name is kept for programs that
 * include <gc_config_macros.h>. */
#include "gc/gc_config_macros.h"
