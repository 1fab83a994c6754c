// span.c: span records, their side bitmaps, and the allocation slow path within one span.
#include "alloc/span.h"

#include <string.h>

#include "alloc/metadata.h"

struct span *span_record_new(void) { return metadata_alloc(sizeof(struct span)); }

void span_record_free(struct span *s) { metadata_free(s, sizeof(struct span)); }

void span_bitmaps_allocate(struct span *s) {
  size_t bytes = span_bitmap_words(s) * sizeof(uint64_t);
  s->alloc_bits = metadata_alloc(bytes);
  s->object_states = metadata_alloc(span_object_states_size(s));
  store_relaxed(&s->freed_bits, NULL);
  s->check_bits = NULL;
  s->types = s->kind == KIND_TYPED && s->size_class != 0
                 ? metadata_alloc(s->object_count * sizeof(*s->types))
                 : NULL;
}

void span_bitmaps_free(struct span *s) {
  size_t bytes = span_bitmap_words(s) * sizeof(uint64_t);
  metadata_free((void *)s->alloc_bits, bytes);
  metadata_free((void *)s->object_states, span_object_states_size(s));
  if (span_freed_bits(s))
    metadata_free((void *)span_freed_bits(s), bytes);
  if (s->check_bits)
    metadata_free((void *)s->check_bits, bytes);
  if (s->types)
    metadata_free(s->types, s->object_count * sizeof(*s->types));
  s->alloc_bits = NULL;
  s->object_states = NULL;
  store_relaxed(&s->freed_bits, NULL);
  s->check_bits = NULL;
  s->types = NULL;
}

// Start handing out slots from the beginning, following alloc_bits.
void span_reset_allocation(struct span *s) {
  store_relaxed(&s->freeindex, 0);
  s->alloc_cache = ~load_relaxed(&s->alloc_bits[0]);
}

void *span_take_slow(struct span *s) {
  uint32_t index = load_relaxed(&s->freeindex);
  uint32_t words = span_bitmap_words(s);
  uint32_t word = index / 64;
  if (word >= words)
    return NULL;
  uint64_t free_bits = ~load_relaxed(&s->alloc_bits[word]) & (~(uint64_t)0 << (index % 64));
  while (free_bits == 0) {
    if (++word >= words) {
      store_relaxed(&s->freeindex, s->object_count);
      s->alloc_cache = 0;
      return NULL;
    }
    free_bits = ~load_relaxed(&s->alloc_bits[word]);
  }
  unsigned bit = (unsigned)__builtin_ctzll(free_bits);
  index = word * 64 + bit;
  if (index >= s->object_count) {
    store_relaxed(&s->freeindex, s->object_count);
    s->alloc_cache = 0;
    return NULL;
  }
  store_relaxed(&s->freeindex, index + 1);
  s->alloc_cache = (free_bits >> bit) >> 1;
  return (void *)span_object_address(s, index);
}

uint32_t span_count_free(const struct span *s) {
  uint32_t free_slots = 0;
  for (uint32_t i = load_relaxed(&s->freeindex); i < s->object_count;) {
    uint32_t word = i / 64;
    uint64_t bits = ~load_relaxed(&s->alloc_bits[word]) & (~(uint64_t)0 << (i % 64));
    uint32_t word_end = (word + 1) * 64;
    if (word_end > s->object_count) {
      bits &= (~(uint64_t)0) >> (word_end - s->object_count);
      word_end = s->object_count;
    }
    free_slots += (uint32_t)__builtin_popcountll(bits);
    i = word_end;
  }
  return free_slots;
}
