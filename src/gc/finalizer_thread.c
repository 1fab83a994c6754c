// finalizer_thread.c: running the finalizers the collector queued (finalization.h).
//
// By default they run on "shade-finalizer", a thread Shade starts when a collection first queues
// finalizers; it sleeps on queue_filled and runs entries one at a time, registered, the lock
// released around each call, so a finalizer may allocate, collect, set finalizers and wait. On
// demand (options.finalize_on_demand), only shade_run_finalizers runs them, and the notifier is
// called instead of waking the thread (on a program thread: see finalization_announce). The
// collector only sets `news` (world stopped: it must not touch a condition variable a stopped
// thread may be inside); finalization_announce, called when the collector lock is released and
// from the allocation slow path, acts on it.
//
// An entry leaves the queue only under the lock, into a local of the thread that runs it: the
// queue is a root, and that thread's stack is one too, so the object stays alive throughout.
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <time.h>

#include "base/message.h"
#include "gc/finalization_state.h"
#include "gc/threads.h"

static _Atomic bool on_demand;
static void (*_Atomic notifier)(void);
static _Atomic bool thread_started; // reset in a fork child: the thread is not copied
static __thread bool is_finalizer_thread;

void finalization_set_on_demand(bool on) { store_relaxed(&on_demand, on); }
void finalization_set_notifier(void (*fn)(void)) { store_relaxed(&notifier, fn); }

void finalization_init(const struct shade_options *o) {
  finalization_set_on_demand(o->finalize_on_demand != 0);
}

// Runs one queued finalizer, if any (lock held on entry and on return).
static bool run_one_locked(void) {
  if (finalization.queue_count == 0)
    return false;
  struct ready_finalizer ready = *queue_slot(0);
  finalization.queue_head = (finalization.queue_head + 1) % finalization.queue_capacity;
  finalization.queue_count--;
  finalization.running++;
  finalization_unlock();
  ready.fn((void *)ready.object, ready.data);
  __asm__ volatile("" : : "r"(ready.object) : "memory"); // the object stays a root until here
  finalization_lock();
  finalization.running--;
  return true;
}

int finalization_run_queued(void) {
  int ran = 0;
  finalization_lock();
  while (run_one_locked())
    ran++;
  finalization_unlock();
  return ran;
}

// The thread is registered only while it runs finalizers: asleep it holds no Shade pointer, and
// a collection need not stop it (a thread blocked in a wait may not take the stop signal at once
// under some runtimes, TSan's for one). It registers before it takes an entry off the queue.
static void *finalizer_thread_main(void *unused) {
  (void)unused;
  is_finalizer_thread = true;
  for (;;) {
    pthread_mutex_lock(&finalization.lock); // (not registered: never stopped)
    while (finalization.queue_count == 0 || load_relaxed(&on_demand))
      pthread_cond_wait(&finalization.queue_filled, &finalization.lock);
    pthread_mutex_unlock(&finalization.lock);
    threads_register_current();
    finalization_run_queued();
    threads_unregister_current();
  }
  return NULL;
}

static void start_thread(void) {
  bool expected = false;
  if (!atomic_compare_exchange_strong(&thread_started, &expected, true))
    return;
  int error = threads_start_internal(finalizer_thread_main, "shade-finalizer");
  if (error != 0) {
    store_relaxed(&thread_started, false);
    shade_message("shade: cannot start the finalizer thread (%s); finalizers run in "
                  "shade_run_finalizers and shade_wait_for_pending_finalizers only",
                  strerror(error));
  }
}

void finalization_announce(void) {
  if (SHADE_LIKELY(!load_relaxed(&finalization.news)))
    return;
  struct shade_thread *t = current_thread;
  if (t && t->cache.in_critical)
    return; // later: the next release of the collector lock
  if (!atomic_exchange(&finalization.news, false))
    return;
  if (load_relaxed(&on_demand)) {
    void (*fn)(void) = load_relaxed(&notifier);
    if (fn && thread_is_shade_internal) {
      store_relaxed(&finalization.news, true); // a program thread calls it (allocate_slow.c)
      return;
    }
    if (fn)
      fn();
    return;
  }
  start_thread();
  finalization_lock();
  pthread_cond_signal(&finalization.queue_filled);
  finalization_unlock();
}

// Polls rather than waits on a condition variable: the caller is registered, and a finalizer
// running meanwhile may collect, which must be able to stop the caller.
void finalization_wait(void) {
  if (is_finalizer_thread)
    return; // a finalizer waiting for the queue would wait for itself
  if (load_relaxed(&on_demand) || !load_relaxed(&thread_started)) {
    finalization_run_queued();
    return;
  }
  struct timespec pause = {0, 20 * 1000};
  for (;;) {
    finalization_lock();
    bool done = finalization.queue_count == 0 && finalization.running == 0;
    if (!done)
      pthread_cond_signal(&finalization.queue_filled);
    finalization_unlock();
    if (done)
      return;
    nanosleep(&pause, NULL);
    if (pause.tv_nsec < 1000 * 1000)
      pause.tv_nsec *= 2;
  }
}

size_t finalization_pending(void) {
  finalization_lock();
  size_t count = finalization.queue_count;
  finalization_unlock();
  return count;
}

void finalization_thread_after_fork_child(void) { store_relaxed(&thread_started, false); }
