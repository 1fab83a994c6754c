// threads.h: the record of a registered thread: its allocation cache (the allocator's part,
// thread_cache.h, with the critical sections that keep a thread from stopping inside the
// allocator), and the collector's part: stack bounds and thread-local ranges (roots), the stop
// and handshake words (stop_world.c), and the write-barrier buffer (barrier.c).
//
// A thread is stopped for a collection by a signal (stop_world.c). Inside an allocator critical
// section its signal handler only records cache.stop_pending, and the thread stops itself when it
// leaves the outermost critical section (thread_cache_stop_handler, installed by threads_init).
#ifndef SHADE_GC_THREADS_H
#define SHADE_GC_THREADS_H
#include <pthread.h>
#include <signal.h>
#include <sys/types.h>

#include "alloc/thread_cache.h"

#define MAX_TLS_RANGES 16
#define BARRIER_BUFFER_ENTRIES 256 // write-barrier buffer (barrier.c), as Go's wbBuf

struct shade_thread {
  struct thread_cache cache;        // first: the allocator hands back &t->cache (thread_of)
  pthread_t pthread;
  pid_t tid;                        // the kernel's thread id (gettid), for messages and snapshots
  uintptr_t stack_low, stack_high;
  uintptr_t stack_pointer;          // where its live stack starts, saved when it stops
  uintptr_t tls_ranges[MAX_TLS_RANGES][2];
  unsigned tls_range_count;
  _Atomic uint32_t parked_epoch;    // the stop this thread last acknowledged
  // Concurrent marking (concurrent.c): one-thread stops ("handshakes") scan the stack.
  _Atomic uint32_t handshake_request, handshake_claimed, handshake_ack, handshake_resume;
  _Atomic uint32_t handshake_safe_only; // the request wants a park at a safe point (stop_world.c)
  _Atomic uint32_t handshake_parked_safe; // the last handshake parked at a safe point
  uint64_t handshake_began_ns;      // when the collector saw the current handshake's park
  _Atomic bool stack_scanned;       // this cycle's marking has scanned the stack (black); written
                                    // by the collector (registry locked), read by the thread;
                                    // a thread registered while marking starts grey
  uint64_t allocated_since_stack_clear; // span bytes taken since allocate_slow last cleared
  // The write-barrier buffer: values shaded by this thread, not yet marked (barrier.c).
  _Atomic uint32_t barrier_count;
  uintptr_t barrier_buffer[BARRIER_BUFFER_ENTRIES];
  struct shade_thread *next, *prev;
};

extern __thread struct shade_thread *current_thread __attribute__((tls_model("initial-exec")));

void threads_init(void);
// Register the calling thread; returns its record (the existing one if already registered).
struct shade_thread *threads_register_current(void);
void threads_unregister_current(void);
// The registry; lock it to walk it. The collector holds it from before stopping the world to
// after restarting it.
void threads_lock(void);
void threads_unlock(void);
struct shade_thread *threads_first(void);
unsigned threads_count(void); // registered threads (exact under the registry lock)
void threads_after_fork_child(void);
// Start one of Shade's own threads (marker, controller, scavenger): detached, never registered,
// every signal blocked (so a stop never reaches it), named `name`. Returns pthread_create's error.
int threads_start_internal(void *(*main)(void *), const char *name);
// A thread start Shade makes: begin before pthread_create; done on the new thread once it is past
// the C library's and sanitizer runtime's start-up code, or by the creator when pthread_create
// failed. A program thread started so (shade_pthread_create) calls threads_register_started
// instead of done: registered, then done. threads_register_current counts itself (threads.c).
void threads_start_begin(void);
void threads_start_done(void);
struct shade_thread *threads_register_started(void);
// fork: before it (collector lock held), no start or registration may begin (they wait) and every
// one under way is over (the locks those take are then not held by a thread the child will not
// have); after it, in the parent, they may begin again; in the child, the state is re-created.
void threads_prepare_fork(void);
void threads_after_fork_parent(void);
void threads_start_after_fork_child(void);
// True on the threads threads_start_internal started (they block every signal; the program's
// callbacks that may start threads of their own are not called there).
extern __thread bool thread_is_shade_internal;

static inline struct shade_thread *thread_of(struct thread_cache *c) {
  return (struct shade_thread *)(void *)c; // the cache is the record's first member
}

#endif
