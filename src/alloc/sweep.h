// sweep.h: returning the memory of unmarked objects to their spans (see sweep.c).
//
// The sweeper is the allocator's half of a collection: marking (src/gc) sets object states,
// sweeping turns them into allocation state. It runs lazily on the allocation path (central.c),
// in the background, and when the collector asks for everything to be swept.
#ifndef SHADE_ALLOC_SWEEP_H
#define SHADE_ALLOC_SWEEP_H
#include "alloc/span.h"

extern _Atomic uint32_t heap_sweepgen;

static inline bool span_needs_sweeping(const struct span *s) {
  return load_acquire(&s->sweepgen) == load_relaxed(&heap_sweepgen) - 2;
}

// Claim an unswept span for sweeping by this thread; false if it is swept or being swept.
bool sweep_claim(struct span *s);
// What a sweep keeps. SWEEP_FULL: an object lives if it was marked or is of an explicitly freed
// kind (and not freed); every object state is cleared.
enum sweep_kind { SWEEP_FULL };

// Sweep a claimed small span. Returns the number of objects that stay allocated.
uint32_t sweep_small_span(struct span *s, enum sweep_kind kind);
// Sweep the large objects (world stopped): unmarked ones go back to the page heap.
void sweep_large_objects(void);
// Bytes of objects freed by sweeping since the start.
uint64_t sweep_freed_bytes(void);
// Pages of small spans swept since the start (by anyone: lazy, background, proportional).
uint64_t sweep_swept_pages(void);

#endif
