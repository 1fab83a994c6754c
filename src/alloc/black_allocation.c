// black_allocation.c: marking the slots a cache took while marking ran (black_allocation.h).
#include "alloc/black_allocation.h"

_Atomic bool allocate_black;
_Atomic uint32_t black_generation;
_Atomic uint64_t black_allocated_bytes;
_Atomic uint64_t black_allocation_epoch;

void black_allocation_begin(uint32_t generation) {
  store_relaxed(&black_allocated_bytes, 0);
  store_release(&black_generation, generation);
  store_release(&allocate_black, true);
}

uint64_t black_allocation_end(void) {
  atomic_fetch_add(&black_allocation_epoch, 1);
  store_release(&allocate_black, false);
  return load_relaxed(&black_allocated_bytes);
}

// Word by word: the slots of [from, to) whose alloc bit is clear, 64 at a time.
void black_allocation_span_released(struct span *s) {
  uint32_t from = load_relaxed(&s->black_from);
  if (from == BLACK_NONE)
    return;
  uint32_t to = load_relaxed(&s->freeindex), count = 0;
  for (uint32_t word = from / 64; word * 64 < to; word++) {
    uint64_t taken = ~load_relaxed(&s->alloc_bits[word]);
    if (word == from / 64)
      taken &= ~(uint64_t)0 << (from % 64);
    if (to < word * 64 + 64)
      taken &= ((uint64_t)1 << (to % 64)) - 1;
    for (; taken; taken &= taken - 1) {
      uint32_t i = word * 64 + (uint32_t)__builtin_ctzll(taken);
      if (span_mark_object(s, i))
        count++;
    }
  }
  store_release(&s->black_from, BLACK_NONE); // after the marks (black_allocation_pending)
  atomic_fetch_add_explicit(&black_allocated_bytes, (uint64_t)count * s->object_size,
                            memory_order_relaxed);
}
