// finalization_state.h: the state finalization.h's three modules share (weak_tables.c: the
// program's registrations; weak_resolution.c: the collector's pass; finalizer_thread.c: running
// what is ready). Every field is protected by `lock`, except where noted.
#ifndef SHADE_GC_FINALIZATION_STATE_H
#define SHADE_GC_FINALIZATION_STATE_H
#include <pthread.h>

#include "gc/address_map.h"
#include "gc/finalization.h"

struct ready_finalizer {
  uintptr_t object;
  shade_finalizer_fn fn;
  void *data;
};

struct finalization_state {
  pthread_mutex_t lock;
  struct address_map finalizers; // object -> first: fn, second: data, flags: SHADE_FINALIZE_*
  struct address_map links[2];   // [SHADE_WEAK_SHORT], [SHADE_WEAK_LONG]: link -> first: target
  uintptr_t *ephemerons;         // ephemeron objects, in no order
  size_t ephemeron_count, ephemeron_capacity;
  // The queue of ready finalizers, a ring. Invariant: queue_capacity >= queue_count +
  // finalizers.used, so that the collector never allocates to queue (the program's side grows
  // it before it adds a finalizer).
  struct ready_finalizer *queue;
  size_t queue_head, queue_count, queue_capacity;
  unsigned running;              // finalizers being run now, on any thread
  pthread_cond_t queue_filled;   // the finalizer thread waits on it
  _Atomic bool registered;       // something was ever registered (read without the lock)
  _Atomic bool news;             // the last collection queued finalizers (set world stopped)
  _Atomic uint64_t cycles_found; // finalizable objects found in a cycle of finalizable objects
};
extern struct finalization_state finalization;

// The queue's ring (lock held).
static inline struct ready_finalizer *queue_slot(size_t i) {
  return &finalization.queue[(finalization.queue_head + i) % finalization.queue_capacity];
}
// Room for `more` entries beyond queue_count + finalizers.used (the program's side).
bool queue_reserve(size_t more);

#endif
