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
// What a sweep keeps. In every kind an object lives if it was marked, or is of an explicitly
// freed kind, and was not passed to shade_free.
//   SWEEP_FULL       without generations: every object state is cleared
//   SWEEP_GEN0..2    with generations, after a collection of generation 0, 1 or 2: a live object
//                    keeps OBJECT_MARKED (it is old now: young collections do not trace it), and
//                    one of a collected generation ages by one (up to the oldest); a dead
//                    object's state is cleared
//   SWEEP_GEN2_ALL   the same after a full collection that makes every survivor gen2
//   SWEEP_GEN2_PLAIN after a full collection that another full one follows (young collections
//                    paused): every survivor is gen2 and loses OBJECT_MARKED, so that the next
//                    full collection has no small object to unmark (it must be full: old
//                    objects are not marked)
enum sweep_kind { SWEEP_FULL, SWEEP_GEN0, SWEEP_GEN1, SWEEP_GEN2, SWEEP_GEN2_ALL, SWEEP_GEN2_PLAIN };

// The kind of the last marking's sweep: set at its end with the world stopped, read by every
// sweeper until the next marking (every span is swept before that one starts).
extern _Atomic int heap_sweep_kind;
static inline enum sweep_kind sweep_current_kind(void) {
  return (enum sweep_kind)load_relaxed(&heap_sweep_kind);
}

// Sweep a claimed small span. Returns the number of objects that stay allocated.
uint32_t sweep_small_span(struct span *s, enum sweep_kind kind);
// Sweep the large objects (world stopped): unmarked ones go back to the page heap.
void sweep_large_objects(enum sweep_kind kind);
// The same, large_lock held, the world running after a marking that ended raggedly, heap_sweepgen
// advanced: unmarked objects allocated while it ran (black_from == epoch, its tagged
// black_allocation_epoch; their allocating thread may not have set their mark yet) or since it
// ended (of the new sweep generation) are kept too (black_allocation.h).
void sweep_large_objects_keeping(enum sweep_kind kind, uint32_t epoch);
// The generation of live object i of s, its sweep included if the span still waits for it (a
// survivor of the last collection is one generation older than its state says until then).
unsigned sweep_object_generation(const struct span *s, uint32_t i);
// Generations: before a marking of generations 0..generation (world stopped, every span swept),
// the objects of those generations lose their mark, so that the marking decides afresh whether
// they live; older objects keep theirs. (Generation 0 objects have none: nothing to do for 0.)
void sweep_unmark_generations(unsigned generation);
// World stopped: clears OBJECT_MARKED of every large object (those born old were marked at birth).
void sweep_unmark_large(void);
// The same for share `share` of `shares` of the heap's pages (the spans starting there), so that
// several threads can unmark at once; every share done is the whole.
void sweep_unmark_generations_share(unsigned generation, unsigned share, unsigned shares);
// Bytes of objects freed by sweeping since the start.
uint64_t sweep_freed_bytes(void);
// Pages of small spans swept since the start (by anyone: lazy, background, proportional).
uint64_t sweep_swept_pages(void);

#endif
