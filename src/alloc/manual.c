// manual.c: TEMPORARY stand-in over the C library until the span allocator lands.
#include "alloc/manual.h"
#include <malloc.h>
#include <stdlib.h>
void *manual_alloc(size_t size) { return calloc(1, size ? size : 1); }
void manual_free(void *p) { free(p); }
size_t manual_size(const void *p) { return malloc_usable_size((void *)p); }
