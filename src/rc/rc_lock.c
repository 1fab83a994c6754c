// rc_lock.c: the RC lock, Shade's equivalent of CPython's GIL.
//
// One mutex, made recursive here, protects every count, every counted reference field and all collector
// state. A program using RC objects from a single thread never needs it; once any thread has
// taken it, the entry points that cost more than a few instructions (new, collect, track, ...)
// check that the calling thread holds it and report the call otherwise. owner and used are atomic
// only so that this check itself is not a data race; depth is touched by the owner alone.
//
// A registered thread waits for the lock with lock_stoppable, as for the collector's own locks:
// the holder may start a collection, and under TSan a thread asleep in pthread_mutex_lock never
// takes the stop signal, so the collection would wait for it forever (rc_threads hung so).
#include "rc/rc_internal.h"

#include "gc/stop_world.h"

#include <pthread.h>
#include <stdatomic.h>

static pthread_mutex_t rc_mutex = PTHREAD_MUTEX_INITIALIZER;
static atomic_uintptr_t rc_owner; // (uintptr_t)pthread_self() of the holder, 0 when free
static atomic_bool rc_used;       // the lock has been taken at least once
static unsigned rc_depth;

static uintptr_t rc_self(void) { return (uintptr_t)pthread_self(); }

SHADE_API void shade_rc_lock(void) {
  // Recursion by hand: only the holder can find itself in rc_owner.
  if (atomic_load_explicit(&rc_owner, memory_order_relaxed) == rc_self()) {
    rc_depth++;
    return;
  }
  lock_stoppable(&rc_mutex);
  rc_depth = 1;
  atomic_store_explicit(&rc_owner, rc_self(), memory_order_relaxed);
  if (!atomic_load_explicit(&rc_used, memory_order_relaxed))
    atomic_store_explicit(&rc_used, true, memory_order_relaxed);
}

SHADE_API void shade_rc_unlock(void) {
  if (atomic_load_explicit(&rc_owner, memory_order_relaxed) != rc_self()) {
    rc_report("shade_rc_unlock", NULL, "the calling thread does not hold the RC lock", NULL);
    return;
  }
  if (--rc_depth > 0)
    return;
  atomic_store_explicit(&rc_owner, 0, memory_order_relaxed);
  pthread_mutex_unlock(&rc_mutex);
}

void rc_lock_check(const char *call, const void *ptr) {
  if (RC_LIKELY(!atomic_load_explicit(&rc_used, memory_order_relaxed)))
    return;
  if (atomic_load_explicit(&rc_owner, memory_order_relaxed) != rc_self())
    rc_report(call, ptr, "called without the RC lock while RC objects are shared between threads",
              NULL);
}
