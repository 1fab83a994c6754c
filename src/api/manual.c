// manual.c: manual objects (see manual.h) are ordinary span objects of KIND_MANUAL. The marker
// never marks or scans them and the sweeper keeps them until manual_free sets their freed bit;
// their slot is reused after the next sweep of their span.
#include "api/manual.h"

#include "alloc/allocate.h"
#include "api/api_internal.h"
#include "gc/allocate_slow.h"

void *manual_alloc(size_t size) {
  struct shade_thread *t = api_thread("manual_alloc");
  void *p = NULL;
  if (size <= MAX_SMALL_SIZE)
    p = allocate_small_fast(&t->cache, size, KIND_MANUAL);
  return p ? p : allocate_slow(t, size, 0, KIND_MANUAL, NULL);
}

void manual_free(void *p) { api_free(p, "manual_free"); }

size_t manual_size(const void *p) { return shade_size(p); }
