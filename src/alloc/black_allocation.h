// black_allocation.h: objects allocated while marking are black (Go allocates black too), so a
// thread whose stack was already scanned can hold a new object in a register only.
//
// The fast path stays as it is: it takes slots by advancing the span's freeindex and writes no
// bit. Instead, a span that enters a cache during marking records black_from = its freeindex;
// when it leaves the cache (refill, flush at mark termination, thread exit) every slot taken since
// (at or above black_from, below freeindex, alloc bit clear) gets its mark. Exactly the spans of
// the last marking's sweep generation record black_from (black_generation, the heap's sweep
// generation when that marking began): they are swept with its marks; a span swept after the
// marking ended belongs to the next cycle, and a mark set there would make the next marking skip
// the object's contents. (Once a marking's spans are all swept, none of that generation is left
// to take: between cycles, and in stop-the-world cycles, no span allocates black.) So black
// allocation may end raggedly: a span taken before the end keeps allocating black until its
// cache gives it back (its marks are set before anyone can sweep it), one taken after never
// does. Spans cached before the marking began allocate white until their cache is flushed (the
// thread's stack scan, or mark start with the world stopped): until then the thread's stack is
// grey, and the insertion half of the barrier shades what it stores. Black allocation begins only
// once every thread sees the barrier (mark_handshakes.c). Large objects are marked black when
// allocated (allocate.c); black_from of a large span records the black_allocation_epoch it was
// allocated in, so that the sweep of a marking that ended raggedly keeps it. The bytes marked
// this way count as live for the pacer.
#ifndef SHADE_ALLOC_BLACK_ALLOCATION_H
#define SHADE_ALLOC_BLACK_ALLOCATION_H
#include "alloc/span.h"

#define BLACK_NONE UINT32_MAX

extern _Atomic bool allocate_black;         // set when a marking begins, cleared at its end
extern _Atomic uint32_t black_generation;   // the marking's heap sweep generation
extern _Atomic uint64_t black_allocated_bytes; // bytes marked black this cycle
extern _Atomic uint64_t black_allocation_epoch; // advanced each time black allocation ends

// Every span is swept (sweep generation `generation`): objects allocated from spans of that
// generation taken into caches from now on are black.
void black_allocation_begin(uint32_t generation);
// Allocation is white again (for spans taken from now on, and large objects). Returns the bytes
// marked black so far.
uint64_t black_allocation_end(void);

// By the span's generation alone, not allocate_black: a thread may take a span of the marking's
// generation just before a ragged end, and read allocate_black just after; that span is swept
// with this marking's marks, so what it hands out must be marked.
static inline void black_allocation_span_acquired(struct span *s) {
  bool black = load_relaxed(&s->sweepgen) == load_acquire(&black_generation);
  store_relaxed(&s->black_from, black ? load_relaxed(&s->freeindex) : BLACK_NONE);
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

// What black_from of a large span records: the epoch it was allocated in, tagged so that it never
// reads as a slot index (black_allocation_pending) nor as BLACK_NONE.
static inline uint32_t black_allocation_large_tag(uint64_t epoch) {
  return 0x80000000u | (uint32_t)(epoch & 0x3fffffff);
}

static inline void black_allocation_large(struct span *s) {
  if (load_relaxed(&allocate_black)) {
    span_mark_object(s, 0);
    atomic_fetch_add_explicit(&black_allocated_bytes, s->pages * PAGE_SIZE, memory_order_relaxed);
  }
}

#endif
