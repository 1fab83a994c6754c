// init.c: start-up, thread registration, and fork.
//
// shade_init brings the layers up bottom to top (size classes, arena index, central lists,
// threads, roots, the stop signal, the pacer) once; later calls return 0. A thread that calls
// Shade before any initialisation initialises it and is registered. A thread that calls Shade
// after initialisation without being registered is an error (reported, then abort()), unless
// auto-registration is on.
//
// fork: before it, let every thread start Shade made and every registration finish (threads.c: a
// lock of the C library or the sanitizer runtime held there would stay held in the child), stop
// the world, and take every Shade lock in lock order, so the child inherits consistent lists; in
// the child, re-create the locks and forget the threads that did not come along (keeping the
// spans their caches held), and the marker pool (its threads are gone too).
//
// Why the stop: between leaving one list and reaching the next (a cache, another central list)
// a span is on none: a sweep claims it and rebuilds its bitmaps outside every lock, a refill
// holds it until it reaches the cache. Those steps run inside allocation critical sections (or
// under the collector lock, which the handler takes first), and a stop waits for every critical
// section to end. Without it, a child could inherit such a span from a thread it does not have:
// on no list, never swept again, its objects' marks stayed set for good, so the child's markings
// skipped their contents, and what only they reached was freed and reused.
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "alloc/arena.h"
#include "alloc/large.h"
#include "alloc/metadata.h"
#include "alloc/pageheap.h"
#include "api/api_internal.h"
#include "base/message.h"
#include "base/options.h"
#include "gc/collector.h"
#include "gc/finalization.h"
#include "gc/marking.h"
#include "gc/roots.h"
#include "gc/scavenger.h"
#include "gc/stop_world.h"

static pthread_mutex_t init_mutex = PTHREAD_MUTEX_INITIALIZER;
static _Atomic bool initialized;

static void before_fork(void) {
  if (!load_acquire(&initialized))
    return;
  collector_prepare_fork(); // no marking half done across fork (its workers stay)
  threads_prepare_fork();   // no thread start or registration under way (threads.c)
  threads_lock();
  roots_lock();
  finalization_lock();
  stop_world(current_thread); // no thread inside a critical section (the comment above)
  central_lock_all();
  large_lock();
  pageheap_scavenge_lock(); // no chunk is being released during fork
  pageheap_lock();
  metadata_lock();
}

static void after_fork_parent(void) {
  if (!load_acquire(&initialized))
    return;
  metadata_unlock();
  pageheap_unlock();
  pageheap_scavenge_unlock();
  large_unlock();
  central_unlock_all();
  start_world();
  finalization_unlock();
  roots_unlock();
  threads_unlock();
  threads_after_fork_parent();
  collector_unlock();
}

static void after_fork_child(void) {
  if (!load_acquire(&initialized))
    return;
  threads_start_after_fork_child(); // first: the handlers below start threads
  stop_world_after_fork_child();    // the stopped threads are not in the child
  metadata_after_fork_child();
  pageheap_after_fork_child();
  large_after_fork_child();
  central_after_fork_child();
  roots_after_fork_child();
  finalization_after_fork_child();
  collector_after_fork_child();
  mark_pool_after_fork_child();
  concurrent_after_fork_child();
  scavenger_after_fork_child(); // restarted by the child's first cycle
  threads_after_fork_child();
}

SHADE_API int shade_init(const struct shade_options *opts) {
  if (load_acquire(&initialized))
    return 0;
  pthread_mutex_lock(&init_mutex);
  if (load_relaxed(&initialized)) {
    pthread_mutex_unlock(&init_mutex);
    return 0;
  }
  struct shade_options o;
  options_resolve(opts, &o);
  shade_options_in_force = o;
  size_classes_init();
  arena_index_init();
  central_init();
  threads_init();
  roots_init(!o.no_data_roots);
  if (stop_world_init(o.suspend_signal) != 0) {
    pthread_mutex_unlock(&init_mutex);
    shade_message("shade: shade_init: cannot install a handler for signal %d", o.suspend_signal);
    errno = EINVAL;
    return -1;
  }
  extern size_t api_size_padding;
  api_size_padding = o.no_past_end ? 0 : 1;
  collector_init(&o);
  pthread_atfork(before_fork, after_fork_parent, after_fork_child);
  threads_register_current();
  store_release(&initialized, true);
  pthread_mutex_unlock(&init_mutex);
  api_heap_snapshot_init();
  return 0;
}

struct shade_thread *api_thread_slow(const char *call) {
  if (!load_acquire(&initialized)) {
    shade_init(NULL);
    return threads_register_current(); // documented: the caller before init is registered
  }
  if (shade_options_in_force.auto_register)
    return threads_register_current();
  shade_fatal("shade: %s: called from a thread that is not registered with Shade; register it "
              "with shade_thread_register() or create it with shade_pthread_create() (or set "
              "SHADE_AUTO_REGISTER=1)",
              call);
}

SHADE_API int shade_thread_register(void) {
  if (!load_acquire(&initialized) && shade_init(NULL) != 0)
    return -1;
  threads_register_current();
  return 0;
}

SHADE_API int shade_thread_unregister(void) {
  threads_unregister_current();
  return 0;
}

SHADE_API int shade_thread_is_registered(void) { return current_thread != NULL; }

struct start_request {
  void *(*start_routine)(void *);
  void *arg;
};

static void *start_registered(void *request_pointer) {
  threads_register_started(); // (the start was counted by shade_pthread_create: threads.c)
  struct start_request request = *(struct start_request *)request_pointer;
  shade_free(request_pointer); // arg now lives on this registered thread's stack
  void *result = request.start_routine(request.arg);
  shade_thread_unregister();
  return result;
}

SHADE_API int shade_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                                   void *(*start_routine)(void *), void *arg) {
  // Uncollectable: until the new thread registers, this is the only root holding arg.
  struct start_request *request = shade_malloc_uncollectable(sizeof *request);
  if (request == NULL)
    return EAGAIN;
  request->start_routine = start_routine;
  SHADE_STORE(request->arg, arg); // while marking, the request is black: arg must be shaded
  threads_start_begin(); // a fork waits until the new thread has registered
  int error = pthread_create(thread, attr, start_registered, request);
  if (error != 0) {
    threads_start_done();
    shade_free(request);
  }
  return error;
}

SHADE_API void shade_safepoint(void) {
  struct shade_thread *t = current_thread;
  if (t)
    stop_world_safepoint(t);
}
