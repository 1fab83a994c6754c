// sweep.c: returning the memory of unmarked objects to their spans.
//
// A span is swept at most once per cycle; its sweep generation says where it stands (span.h).
// Sweeping a small span makes its mark bits the new alloc bits and clears the marks; nothing is
// written into object memory and no free list is built. Objects passed to shade_free (freed_bits)
// are dropped whatever their mark. Uncollectable and manual objects ignore marks: they stay
// allocated until freed explicitly. Large objects are swept with the world stopped at the end of
// marking; an unmarked one gives its pages back at once.
#include "gc/sweep.h"

#include <pthread.h>
#include <string.h>

#include "alloc/pageheap.h"
#include "alloc/large.h"

_Atomic uint32_t heap_sweepgen = 2; // spans are born swept at 2; the first marking makes it 4
static _Atomic uint64_t freed_bytes;

uint64_t sweep_freed_bytes(void) { return load_relaxed(&freed_bytes); }

bool sweep_claim(struct span *s) {
  uint32_t generation = load_relaxed(&heap_sweepgen);
  uint32_t expected = generation - 2;
  return atomic_compare_exchange_strong(&s->sweepgen, &expected, generation - 1);
}

static void keep_explicit_allocations(struct span *s, uint32_t words) {
  // Slots below freeindex were handed out without setting their alloc bit.
  for (uint32_t w = 0; w < words; w++) {
    uint32_t first = w * 64;
    if (s->freeindex >= first + 64)
      s->alloc_bits[w] = ~(uint64_t)0;
    else if (s->freeindex > first)
      s->alloc_bits[w] |= ((uint64_t)1 << (s->freeindex - first)) - 1;
    if (s->freed_bits)
      s->alloc_bits[w] &= ~load_relaxed(&s->freed_bits[w]);
  }
  uint32_t tail = s->object_count % 64;
  if (tail)
    s->alloc_bits[words - 1] &= ((uint64_t)1 << tail) - 1;
  memset((void *)s->mark_bits, 0, words * sizeof(uint64_t));
}

uint32_t sweep_small_span(struct span *s) {
  uint32_t words = span_bitmap_words(s);
  if (s->kind == KIND_UNCOLLECTABLE || s->kind == KIND_MANUAL) {
    keep_explicit_allocations(s, words);
  } else {
    uint64_t *old_alloc = s->alloc_bits;
    s->alloc_bits = (uint64_t *)s->mark_bits;
    if (s->freed_bits)
      for (uint32_t w = 0; w < words; w++)
        s->alloc_bits[w] &= ~load_relaxed(&s->freed_bits[w]);
    memset(old_alloc, 0, words * sizeof(uint64_t));
    s->mark_bits = (_Atomic(uint64_t) *)old_alloc;
  }
  if (s->freed_bits)
    memset((void *)s->freed_bits, 0, words * sizeof(uint64_t));
  span_reset_allocation(s);
  uint32_t live = s->object_count - span_count_free(s);
  s->allocated_at_sweep = live;
  s->needs_zeroing = 1;
  store_release(&s->sweepgen, load_relaxed(&heap_sweepgen));
  return live;
}

void sweep_large_objects(void) {
  struct span *s = large_first();
  while (s) {
    struct span *next = s->next;
    bool explicit_kind = s->kind == KIND_UNCOLLECTABLE || s->kind == KIND_MANUAL;
    bool keep = explicit_kind || atomic_bit_test(s->mark_bits, 0);
    store_relaxed(&s->mark_bits[0], 0);
    if (s->check_bits)
      store_relaxed(&s->check_bits[0], 0);
    if (!keep) {
      atomic_fetch_add(&freed_bytes, s->pages * PAGE_SIZE);
      large_remove(s);
      span_bitmaps_free(s);
      pageheap_free(s);
    }
    s = next;
  }
}
