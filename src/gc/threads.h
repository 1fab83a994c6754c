// threads.h: registered threads, their allocation caches, and the critical sections that keep a
// thread from being stopped while it holds an allocator lock.
//
// A thread is stopped for a collection by a signal (stop_world.c). A thread inside an allocator
// critical section (holding a central, page-heap, metadata or large-object lock) must not stop
// there, or the collector could wait on that lock forever: its signal handler only records
// stop_pending, and the thread stops itself when it leaves the outermost critical section.
#ifndef SHADE_GC_THREADS_H
#define SHADE_GC_THREADS_H
#include <pthread.h>
#include <signal.h>

#include "alloc/central.h"

#define MAX_TLS_RANGES 16
#define BARRIER_BUFFER_ENTRIES 256 // write-barrier buffer (barrier.c), as Go's wbBuf

struct thread_cache {
  struct span *spans[SPAN_CLASS_COUNT]; // &empty_span when the thread holds no span of a class
  uintptr_t tiny_block;                 // current 16-byte block of the tiny allocator, or 0
  uint32_t tiny_offset;
};

struct shade_thread {
  struct thread_cache cache;
  pthread_t pthread;
  uintptr_t stack_low, stack_high;
  uintptr_t stack_pointer;          // where its live stack starts, saved when it stops
  uintptr_t tls_ranges[MAX_TLS_RANGES][2];
  unsigned tls_range_count;
  volatile sig_atomic_t in_critical;
  volatile sig_atomic_t stop_pending;
  _Atomic uint32_t parked_epoch;    // the stop this thread last acknowledged
  // Concurrent marking (concurrent.c): one-thread stops ("handshakes") scan the stack.
  _Atomic uint32_t handshake_request, handshake_claimed, handshake_ack, handshake_resume;
  bool stack_scanned;               // this cycle's marking has scanned the stack (black)
  // The write-barrier buffer: values shaded by this thread, not yet marked (barrier.c).
  _Atomic uint32_t barrier_count;
  uintptr_t barrier_buffer[BARRIER_BUFFER_ENTRIES];
  struct shade_thread *next, *prev;
};

extern struct span empty_span;
extern __thread struct shade_thread *current_thread __attribute__((tls_model("initial-exec")));

void threads_init(void);
// Register the calling thread; returns its record (the existing one if already registered).
struct shade_thread *threads_register_current(void);
void threads_unregister_current(void);
// Return every span the cache holds to the central lists.
void thread_cache_flush(struct shade_thread *t);
// The registry; lock it to walk it. The collector holds it from before stopping the world to
// after restarting it.
void threads_lock(void);
void threads_unlock(void);
struct shade_thread *threads_first(void);
unsigned threads_count(void);
void threads_after_fork_child(void);
// Start one of Shade's own threads (marker, controller, scavenger): detached, never registered,
// every signal blocked (so a stop never reaches it), named `name`. Returns pthread_create's error.
int threads_start_internal(void *(*main)(void *), const char *name);

void stop_world_park_pending(struct shade_thread *t);
// A cache gives a span back to its central list (black allocation ranges are marked first).
void thread_cache_release_span(struct shade_thread *t, unsigned span_class);

static inline void critical_enter(struct shade_thread *t) {
  t->in_critical++;
  atomic_signal_fence(memory_order_seq_cst);
}

static inline void critical_leave(struct shade_thread *t) {
  atomic_signal_fence(memory_order_seq_cst);
  if (--t->in_critical == 0 && SHADE_UNLIKELY(t->stop_pending))
    stop_world_park_pending(t);
}

#endif
