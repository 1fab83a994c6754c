// allocate.h: allocation from a thread cache. The fast path takes the next free slot of the span
// the cache holds for the object's span class: a ctz on a cached bitmap word, no lock, no atomic.
// The allocator's slower steps (a used-up bitmap word, a new span, a large object) are below;
// each reports failure by returning NULL and never collects: deciding what to do then (collect,
// assist, retry, give up) is the collector's slow path (gc/allocate_slow.c).
//
// Taking the slot is a critical section (thread_cache.h): the collector takes spans back from
// every cache while the world is stopped, so a thread must never stop between reading its cached
// span and advancing its freeindex. Zeroing is inside it too: a thread stopped between the two
// would present a black-allocated object (marking under way) still holding a dead object's
// words, which nothing scans now but the checkmark would. (A pending stop parks the thread
// precisely at the end of the critical section, so that window was hit often.) When the fast
// path finds no slot, the stop parks it at the slow path's entry instead (critical_poll), the
// next call boundary: a safe point too. So the fast path keeps nothing across a call, and needs
// no register saved (shade_malloc: 72 instructions an object before, 55 after, on GCBench).
#ifndef SHADE_ALLOC_ALLOCATE_H
#define SHADE_ALLOC_ALLOCATE_H
#include <string.h>

#include "alloc/thread_cache.h"

// Small objects are zeroed with straight-line stores: a loop would be turned into rep stos,
// whose start-up cost is several times that of zeroing 16 bytes. Up to 64 bytes (nearly every
// object), two stores of a power-of-two width cover it from both ends, overlapping in the middle
// (sizes are multiples of 8): a compare or two that a program's few sizes keep predicted, where a
// switch on the size cost an indirect jump through a table.
#define ZERO_INLINE_MAX 64
static inline void zero_small_object(void *p, size_t size) {
  char *bytes = p;
  if (size <= 16) {
    if (size != 0) {
      __builtin_memset(bytes, 0, 8);
      __builtin_memset(bytes + size - 8, 0, 8);
    }
  } else if (size <= 32) {
    __builtin_memset(bytes, 0, 16);
    __builtin_memset(bytes + size - 16, 0, 16);
  } else {
    __builtin_memset(bytes, 0, 32);
    __builtin_memset(bytes + size - 32, 0, 32);
  }
}

static inline void zero_object(void *p, size_t size) {
  if (size <= ZERO_INLINE_MAX)
    zero_small_object(p, size);
  else
    memset(p, 0, size);
}

// The fast path's two rare endings, out of line so that it calls nothing but as its last step
// and so keeps nothing in registers across a call: zeroing an object over ZERO_INLINE_MAX bytes
// and then leaving the critical section; leaving it when a stop is pending (the handler parks
// the thread). Both return p.
void *allocate_zero_and_leave(struct thread_cache *c, void *p, size_t size)
    __attribute__((returns_nonnull));
void *allocate_leave_parking(struct thread_cache *c, void *p) __attribute__((returns_nonnull));

// A slot of the cached span, or NULL. On NULL a stop that came during the attempt is still
// pending: the caller's slow path parks for it first (critical_poll), having done nothing in
// between.
static inline void *allocate_small_fast(struct thread_cache *c, size_t size,
                                        enum object_kind kind) {
  critical_enter(c);
  struct span *s = c->spans[span_class_of(size_class_of(size), kind)];
  void *p = span_take_fast(s);
  if (SHADE_LIKELY(p != NULL) && kind != KIND_ATOMIC && s->needs_zeroing) {
    size_t object_size = s->object_size;
    if (SHADE_UNLIKELY(object_size > ZERO_INLINE_MAX))
      return allocate_zero_and_leave(c, p, object_size);
    zero_small_object(p, object_size);
  }
  atomic_signal_fence(memory_order_seq_cst);
  if (--c->in_critical == 0 && SHADE_UNLIKELY(c->stop_pending) && p != NULL)
    return allocate_leave_parking(c, p);
  return p;
}

// Up to `max` objects of `size` from the cached span's current bitmap word, in one critical
// section, each zeroed (unless atomic) and then linked through its first word onto *list (a
// free list the caller hands out, as bdwgc's GC_malloc_many does). Returns how many; 0 when the
// word is used up (the caller takes the slow path for one object, then comes back).
static inline size_t allocate_small_batch(struct thread_cache *c, size_t size,
                                          enum object_kind kind, size_t max, void **list) {
  critical_enter(c);
  struct span *s = c->spans[span_class_of(size_class_of(size), kind)];
  bool zero = kind != KIND_ATOMIC && s->needs_zeroing;
  void *head = *list;
  size_t count = 0;
  for (void *p; count < max && (p = span_take_fast(s)) != NULL; count++) {
    if (zero)
      zero_object(p, s->object_size);
    *(void **)p = head;
    head = p;
  }
  *list = head;
  critical_leave(c);
  return count;
}

// A slot from the span the cache holds (past the cached bitmap word); NULL when it is used up.
void *allocate_small_from_cache(struct thread_cache *c, unsigned span_class,
                                const struct shade_type *type);
// Give the cache's span back, take one with room from the central lists, and a slot from it.
// *bytes: what the new span adds to the heap in use. NULL: the OS refused memory.
void *allocate_small_refill(struct thread_cache *c, unsigned span_class,
                            const struct shade_type *type, uint64_t *bytes);
// A large object of `size` bytes (`padding` of them added by the caller: the one-past-the-end
// byte) with a span of its own, zeroed unless atomic (before any collection can see it, outside
// critical sections: the span is published afterwards), black if a marking is under way, born
// old if the request reaches allocate_set_born_old_size's. NULL: the OS refused memory.
void *allocate_large(struct thread_cache *c, size_t size, size_t padding, enum object_kind kind,
                     const struct shade_type *type);
// Requests above the machine's RAM + swap fail at once, as malloc's do.
size_t allocate_max_object_size(void);
// Generations: large objects of at least `bytes` are born old (marked, in the oldest generation:
// .NET's Large Object Heap). 0: none (the default).
void allocate_set_born_old_size(size_t bytes);

#endif
