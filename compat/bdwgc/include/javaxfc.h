/* javaxfc.h: Shade's bdwgc-compatible headers live in gc/; this name is kept for programs that
 * include <javaxfc.h>. */
#include "gc/javaxfc.h"
