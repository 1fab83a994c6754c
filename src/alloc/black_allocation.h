// black_allocation.h: objects allocated while marking are black (Go allocates black too), so a
// thread whose stack was already scanned can hold a new object in a register only.
//
// The fast path stays as it is: it takes slots by advancing the span's freeindex and writes no
// bit. Instead, a span that enters a cache during marking records black_from = its freeindex;
// when it leaves the cache (refill, flush at mark termination, thread exit) every slot taken since
// (at or above black_from, below freeindex, alloc bit clear) gets its mark. Mark start
// flushes every cache with the world stopped, so no span is in a cache when allocate_black turns
// on, and mark termination flushes them all again before it turns off. Large objects are marked
// when allocated. The bytes marked this way count as live for the pacer.
#ifndef SHADE_ALLOC_BLACK_ALLOCATION_H
#define SHADE_ALLOC_BLACK_ALLOCATION_H
#include "alloc/span.h"

#define BLACK_NONE UINT32_MAX

extern _Atomic bool allocate_black;         // set and cleared with the world stopped
extern _Atomic uint64_t black_allocated_bytes; // bytes marked black this cycle

// World stopped, every cache flushed: objects allocated from now on are black.
void black_allocation_begin(void);
// World stopped, every cache flushed: allocation is white again. Returns the bytes marked black.
uint64_t black_allocation_end(void);

static inline void black_allocation_span_acquired(struct span *s) {
  store_relaxed(&s->black_from,
                load_relaxed(&allocate_black) ? load_relaxed(&s->freeindex) : BLACK_NONE);
}

// Whether slot i of s was allocated black and is still waiting for its mark (markers leave it
// alone: it holds nothing the barrier has not shaded, and tracing it would only count floating
// garbage as live). A stale answer is harmless: the release marks the range before it clears
// black_from.
static inline bool black_allocation_pending(const struct span *s, uint32_t i) {
  uint32_t from = load_relaxed(&s->black_from);
  return SHADE_UNLIKELY(from != BLACK_NONE) && i >= from && i < load_relaxed(&s->freeindex) &&
         !atomic_bit_test(s->alloc_bits, i);
}

void black_allocation_span_released(struct span *s);

static inline void black_allocation_large(struct span *s) {
  if (load_relaxed(&allocate_black)) {
    span_mark_object(s, 0);
    atomic_fetch_add_explicit(&black_allocated_bytes, s->pages * PAGE_SIZE, memory_order_relaxed);
  }
}

#endif
