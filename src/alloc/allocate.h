// allocate.h: the allocation fast path. A thread takes the next free slot of the span its cache
// holds for the object's span class: a ctz on a cached bitmap word, no lock, no atomic. Anything
// else (a used-up span, a large object, an unregistered thread) goes to allocate_slow.
//
// Taking the slot is a critical section (threads.h): the collector takes spans back from every
// cache while the world is stopped, so a thread must never stop between reading its cached span
// and advancing its freeindex. Zeroing is inside it too: a thread stopped between the two would
// present a black-allocated object (marking under way) still holding a dead object's words,
// which nothing scans now but the checkmark would. (A pending stop parks the thread precisely at
// the end of the critical section, so that window was hit often.)
#ifndef SHADE_ALLOC_ALLOCATE_H
#define SHADE_ALLOC_ALLOCATE_H
#include <string.h>

#include "gc/threads.h"

// size includes `padding` bytes the caller added (the one-past-the-end byte); out of memory, the
// oom handler is told the size without them.
void *allocate_slow(struct shade_thread *t, size_t size, size_t padding, enum object_kind kind,
                    const struct shade_type *type);
void *allocate_out_of_memory(size_t size);

// Small objects are zeroed with straight-line stores: a loop would be turned into rep stos,
// whose start-up cost is several times that of zeroing 16 bytes.
static inline void zero_object(void *p, size_t size) {
  uint64_t *words = p;
  switch (size / 8) { // sizes are multiples of 8
  case 8: words[7] = 0; __attribute__((fallthrough));
  case 7: words[6] = 0; __attribute__((fallthrough));
  case 6: words[5] = 0; __attribute__((fallthrough));
  case 5: words[4] = 0; __attribute__((fallthrough));
  case 4: words[3] = 0; __attribute__((fallthrough));
  case 3: words[2] = 0; __attribute__((fallthrough));
  case 2: words[1] = 0; __attribute__((fallthrough));
  case 1: words[0] = 0; __attribute__((fallthrough));
  case 0: return;
  default: memset(p, 0, size);
  }
}

static inline void *allocate_small_fast(struct shade_thread *t, size_t size, enum object_kind kind) {
  critical_enter(t);
  struct span *s = t->cache.spans[span_class_of(size_class_of(size), kind)];
  void *p = span_take_fast(s);
  if (SHADE_LIKELY(p != NULL) && kind != KIND_ATOMIC && s->needs_zeroing)
    zero_object(p, s->object_size);
  critical_leave(t);
  return p;
}

#endif
