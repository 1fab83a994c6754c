// manual.h: memory for object families that manage their own lifetime (reference counting).
//
// Manual objects come from the same spans and size classes as every other Shade object, but the
// tracing collector never scans them and never reclaims them: only manual_free does. Their
// contents are therefore not roots either: a manual object must not be the only holder of a
// pointer to a collected object.
#ifndef SHADE_ALLOC_MANUAL_H
#define SHADE_ALLOC_MANUAL_H
#include <stddef.h>

void *manual_alloc(size_t size); // zeroed; NULL with errno = ENOMEM when memory cannot be had
void manual_free(void *p);       // p from manual_alloc; the memory may be reused at once
size_t manual_size(const void *p); // usable size of a manual object

#endif
