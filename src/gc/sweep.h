// sweep.h: returning the memory of unmarked objects to their spans (see sweep.c).
#ifndef SHADE_GC_SWEEP_H
#define SHADE_GC_SWEEP_H
#include "alloc/span.h"

extern _Atomic uint32_t heap_sweepgen;

static inline bool span_needs_sweeping(const struct span *s) {
  return load_acquire(&s->sweepgen) == load_relaxed(&heap_sweepgen) - 2;
}

// Claim an unswept span for sweeping by this thread; false if it is swept or being swept.
bool sweep_claim(struct span *s);
// Sweep a claimed small span. Returns the number of objects that stay allocated.
uint32_t sweep_small_span(struct span *s);
// Sweep the large objects (world stopped): unmarked ones go back to the page heap.
void sweep_large_objects(void);
// Bytes of objects freed by sweeping since the start.
uint64_t sweep_freed_bytes(void);
// Pages of small spans swept since the start (by anyone: lazy, background, proportional).
uint64_t sweep_swept_pages(void);

#endif
