// sweep.c: returning the memory of unmarked objects to their spans.
//
// A span is swept at most once per cycle; its sweep generation says where it stands (span.h).
// Sweeping a small span packs its objects' marks into the new alloc bits and clears their
// states; nothing is written into object memory and no free list is built. Objects passed to
// shade_free (freed_bits) are dropped whatever their mark. Uncollectable and manual objects ignore marks: they stay
// allocated until freed explicitly. Large objects are swept with the world stopped at the end of
// marking; an unmarked one gives its pages back at once.
#include "alloc/sweep.h"

#include <pthread.h>
#include <string.h>

#include "alloc/pageheap.h"
#include "alloc/large.h"

_Atomic uint32_t heap_sweepgen = 2; // spans are born swept at 2; the first marking makes it 4
static _Atomic uint64_t freed_bytes;
static _Atomic uint64_t swept_pages;

uint64_t sweep_freed_bytes(void) { return load_relaxed(&freed_bytes); }
uint64_t sweep_swept_pages(void) { return load_relaxed(&swept_pages); }

bool sweep_claim(struct span *s) {
  uint32_t generation = load_relaxed(&heap_sweepgen);
  uint32_t expected = generation - 2;
  return atomic_compare_exchange_strong(&s->sweepgen, &expected, generation - 1);
}

// shade_free may set a freed bit while the span is swept: each word is taken with an exchange,
// so a racing free is applied by this sweep or left for the next one, never lost.
static uint64_t take_freed(_Atomic(uint64_t) *freed, uint32_t word) {
  // acquire: the freeing thread's last uses of the object happen before the slot is reused
  return freed ? atomic_exchange_explicit(&freed[word], 0, memory_order_acquire) : 0;
}

static void keep_explicit_allocations(struct span *s, uint32_t words) {
  // Slots below freeindex were handed out without setting their alloc bit.
  uint32_t freeindex = load_relaxed(&s->freeindex);
  _Atomic(uint64_t) *freed = span_freed_bits(s);
  for (uint32_t w = 0; w < words; w++) {
    uint32_t first = w * 64;
    uint64_t bits = load_relaxed(&s->alloc_bits[w]);
    if (freeindex >= first + 64)
      bits = ~(uint64_t)0;
    else if (freeindex > first)
      bits |= ((uint64_t)1 << (freeindex - first)) - 1;
    bits &= ~take_freed(freed, w);
    if (w == words - 1 && s->object_count % 64)
      bits &= ((uint64_t)1 << (s->object_count % 64)) - 1;
    store_relaxed(&s->alloc_bits[w], bits);
  }
}

// A full sweep forgets every state of every object: no state outlives the collection that set it.
static void clear_states(struct span *s) {
#ifdef SHADE_SANITIZER_THREAD // the same, as atomics TSan can see (shade_base reads them racily)
  for (size_t i = 0; i < span_object_states_size(s); i++)
    store_relaxed(&s->object_states[i], 0);
#else
  memset((void *)s->object_states, 0, span_object_states_size(s));
#endif
}

_Static_assert(OBJECT_MARKED == 1, "pack_marks gathers bit 0 of each state byte");

// Bit i of the result is the OBJECT_MARKED bit of the word's object i.
static uint64_t pack_marks(const struct span *s, uint32_t word) {
  uint64_t bits = 0;
  uint32_t first = word * 64;
  const uint64_t *bytes = (const uint64_t *)(const void *)&s->object_states[first];
  for (uint32_t group = 0; group < 8; group++) { // 8 objects at a time
    uint64_t eight = bytes[group] & 0x0101010101010101ull;
    if (eight == 0)
      continue;
    // Gather bit 0 of each byte into the top byte: multiply by a mask of shifted ones.
    uint64_t gathered = (eight * 0x0102040810204080ull) >> 56;
    bits |= gathered << (group * 8);
  }
  return bits;
}

uint32_t sweep_small_span(struct span *s, enum sweep_kind kind) {
  (void)kind; // SWEEP_FULL is the only kind so far
  uint32_t words = span_bitmap_words(s);
  _Atomic(uint64_t) *freed = span_freed_bits(s);
  if (s->kind == KIND_UNCOLLECTABLE || s->kind == KIND_MANUAL) {
    keep_explicit_allocations(s, words);
  } else {
    for (uint32_t w = 0; w < words; w++) {
      uint64_t live = pack_marks(s, w) & ~take_freed(freed, w);
      store_relaxed(&s->alloc_bits[w], live);
    }
  }
  clear_states(s);
  span_reset_allocation(s);
  uint32_t live = s->object_count - span_count_free(s);
  s->allocated_at_sweep = live;
  s->needs_zeroing = 1;
  atomic_fetch_add_explicit(&swept_pages, s->pages, memory_order_relaxed); // still ours here
  store_release(&s->sweepgen, load_relaxed(&heap_sweepgen));
  return live;
}

void sweep_large_objects(void) {
  struct span *s = large_first();
  while (s) {
    struct span *next = s->next;
    bool explicit_kind = s->kind == KIND_UNCOLLECTABLE || s->kind == KIND_MANUAL;
    bool keep = (explicit_kind || span_object_is_marked(s, 0)) && !span_object_is_freed(s, 0);
    span_unmark_object(s, 0);
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
