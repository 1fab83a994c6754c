// thread_cache.c: giving a cache's spans back (thread_cache.h).
#include "alloc/thread_cache.h"

#include "alloc/black_allocation.h"
#include "alloc/heap_account.h"

struct span empty_span;
void (*thread_cache_stop_handler)(struct thread_cache *c);

void thread_cache_init(struct thread_cache *c) {
  for (unsigned i = 0; i < SPAN_CLASS_COUNT; i++)
    c->spans[i] = &empty_span;
  c->tiny_block = 0;
  c->tiny_offset = 0;
}

void thread_cache_release_span(struct thread_cache *c, unsigned span_class) {
  struct span *s = c->spans[span_class];
  if (s == &empty_span)
    return;
  heap_account_returned((uint64_t)span_count_free(s) * s->object_size);
  black_allocation_span_released(s);
  // Out of the cache before onto a list: a fork() in between must never find the span in both
  // (the child flushes the caches of the threads it lost into the lists).
  c->spans[span_class] = &empty_span;
  atomic_signal_fence(memory_order_seq_cst);
  central_release(s);
}

void thread_cache_flush(struct thread_cache *c) {
  for (unsigned i = 0; i < SPAN_CLASS_COUNT; i++)
    thread_cache_release_span(c, i);
  c->tiny_block = 0;
  c->tiny_offset = 0;
}
