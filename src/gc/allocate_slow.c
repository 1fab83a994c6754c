// allocate_slow.c: the allocation slow path, owned by the collector (Whippet's
// gc_allocate_slow, mimalloc's _mi_malloc_generic): the allocator's steps return NULL when they
// cannot deliver, and this loop decides what happens then:
//
//   small: a slot from the cached span -> (at the trigger, stw policy: collect, retry)
//          -> a new span from the central lists -> pace the collector (start a cycle, assist)
//   large: (at the trigger: collect) -> pace -> a span of its own
//   either: the OS said no -> one full collection, one more try -> out of memory
//
// Which of these a policy does is the controller's call (collector.h); this file never asks
// which mode is in force.
#include "gc/allocate_slow.h"

#include <errno.h>

#include "alloc/allocate.h"
#include "base/options.h"
#include "gc/collector.h"
#include "gc/finalization.h"
#include "gc/sweep_pacer.h"

void *allocate_out_of_memory(size_t size) {
  void *answer = NULL;
  if (shade_options_in_force.oom_handler)
    answer = shade_options_in_force.oom_handler(size);
  if (answer == NULL)
    errno = ENOMEM;
  return answer;
}

// Dead stack below the allocating frame holds stale pointers from earlier, deeper calls; frames
// that later reuse that stack without writing every slot would present them to the conservative
// scan as roots (bdwgc's GC_clear_stack has the same purpose). Zeroing a slice of it (about
// 150 ns) once the thread has taken DEAD_STACK_CLEAR_EVERY bytes of spans since the last time keeps
// such false roots rare. (At every refill it was a thirtieth of Guile's time: in a heap of
// interleaved survivors a span gives only a few dozen slots.)
#define DEAD_STACK_CLEAR_BYTES 8192
#define DEAD_STACK_CLEAR_EVERY (64 * 1024)

SHADE_NOINLINE SHADE_NO_SANITIZE void allocate_clear_dead_stack(void) {
  volatile char dead[DEAD_STACK_CLEAR_BYTES];
  memset((char *)dead, 0, sizeof dead);
  __asm__ volatile("" : : "r"(dead) : "memory");
}

static void *allocate_large_slow(struct shade_thread *t, size_t size, size_t padding,
                                 enum object_kind kind, const struct shade_type *type) {
  if (size > allocate_max_object_size())
    return allocate_out_of_memory(size - padding);
  uint64_t bytes = (size + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE;
  collector_collect_if_due();
  collector_pace_allocation(t, bytes);
  void *p = allocate_large(&t->cache, size, padding, kind, type);
  if (p == NULL) { // the OS said no: free what we can and try once more
    collector_request(REASON_OUT_OF_MEMORY, COLLECTION_FULL);
    p = allocate_large(&t->cache, size, padding, kind, type);
  }
  return p ? p : allocate_out_of_memory(size - padding);
}

void *allocate_slow(struct shade_thread *t, size_t size, size_t padding, enum object_kind kind,
                    const struct shade_type *type) {
  critical_poll(&t->cache); // a stop the fast path's attempt left pending (allocate.h)
  finalization_announce(); // finalizers a background collection queued (finalizer_thread.c)
  if (size > MAX_SMALL_SIZE)
    return allocate_large_slow(t, size, padding, kind, type);
  unsigned span_class = span_class_of(size_class_of(size), kind);
  bool collected = false, out_of_memory_once = false;
  if (t->allocated_since_stack_clear >= DEAD_STACK_CLEAR_EVERY) {
    t->allocated_since_stack_clear = 0;
    allocate_clear_dead_stack();
  }
  for (;;) {
    void *p = allocate_small_from_cache(&t->cache, span_class, type);
    if (p != NULL)
      return p;
    if (!collected && collector_collect_if_due()) {
      collected = true;
      continue;
    }
    uint64_t bytes = 0;
    p = allocate_small_refill(&t->cache, span_class, type, &bytes);
    if (p != NULL) {
      critical_enter(&t->cache);
      sweep_pacer_step(); // keep sweeping ahead of the next cycle's start
      critical_leave(&t->cache);
      collector_pace_allocation(t, bytes);
      t->allocated_since_stack_clear += bytes > 0 ? bytes : size;
      return p;
    }
    if (out_of_memory_once)
      return allocate_out_of_memory(size - padding);
    out_of_memory_once = true; // the OS said no: free what we can and try once more
    collector_request(REASON_OUT_OF_MEMORY, COLLECTION_FULL);
  }
}
