/* leak_detector.h: Shade's bdwgc-compatible headers live in gc/; this name is kept for programs that
 * include <leak_detector.h>. */
#include "gc/leak_detector.h"
