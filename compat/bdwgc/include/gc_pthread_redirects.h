/* gc_pthread_redirects.h: Shade's bdwgc-compatible headers live in gc/; this name is kept for programs that
 * include <gc_pthread_redirects.h>. */
#include "gc/gc_pthread_redirects.h"
