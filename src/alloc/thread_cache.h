// thread_cache.h: a thread's allocation cache (one span per span class, plus the tiny block) and
// the allocator's critical sections.
//
// A critical section is a stretch in which the owning thread must not be stopped: it holds an
// allocator lock (central, page heap, metadata, large objects), or it is between reading its
// cached span and advancing the span's freeindex. The collector takes spans back from a cache
// while its thread is stopped, so a thread stopped there would leave the cache inconsistent, or
// leave the collector waiting on a lock forever. The collector also reads in_critical of running
// threads (racily, after a membarrier: stop_world_grace) to learn that none is still inside a
// critical section begun before a change it made. A stop that arrives inside a critical section is
// only recorded (stop_pending); the thread carries it out when it leaves the outermost one, by
// calling thread_cache_stop_handler, which the collector installs at start-up (the allocator
// knows nothing of how threads are stopped).
//
// Invariants: in_critical and tiny_* are written by the owner only; stop_pending is set by the
// owner's own signal handler and cleared by the owner; spans[c] is &empty_span or a span with
// in_cache set that no other cache holds.
#ifndef SHADE_ALLOC_THREAD_CACHE_H
#define SHADE_ALLOC_THREAD_CACHE_H
#include <signal.h>

#include "alloc/central.h"

struct thread_cache {
  struct span *spans[SPAN_CLASS_COUNT]; // &empty_span when the thread holds no span of a class
  uintptr_t tiny_block;                 // current 16-byte block of the tiny allocator, or 0
  uint32_t tiny_offset;
  volatile sig_atomic_t in_critical;    // depth of nested critical sections
  volatile sig_atomic_t stop_pending;   // a stop arrived inside one
};

extern struct span empty_span; // object_count 0, alloc_cache 0: every take from it fails

// Called when a thread leaves its outermost critical section with a stop pending.
extern void (*thread_cache_stop_handler)(struct thread_cache *c);

void thread_cache_init(struct thread_cache *c);
// Give the span of one class back to its central list (black allocation ranges marked first).
void thread_cache_release_span(struct thread_cache *c, unsigned span_class);
// Give every span back; the tiny block is forgotten.
void thread_cache_flush(struct thread_cache *c);

static inline void critical_enter(struct thread_cache *c) {
  c->in_critical++;
  atomic_signal_fence(memory_order_seq_cst);
}

static inline void critical_leave(struct thread_cache *c) {
  atomic_signal_fence(memory_order_seq_cst);
  if (--c->in_critical == 0 && SHADE_UNLIKELY(c->stop_pending))
    thread_cache_stop_handler(c);
}

// Outside every critical section: parks now if a stop came during the last one and is pending.
static inline void critical_poll(struct thread_cache *c) {
  if (c->in_critical == 0 && SHADE_UNLIKELY(c->stop_pending))
    thread_cache_stop_handler(c);
}

#endif
