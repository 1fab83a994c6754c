// threads.c: the registry of threads whose stacks, registers and thread-local variables are
// roots. A registered thread has a record in metadata memory linked into one list under
// registry_mutex; a pthread key's destructor unregisters a thread that exits without doing so.
//
// Stack bounds come from pthread_getattr_np at registration. Thread-local storage blocks of the
// modules loaded at that time come from dl_iterate_phdr (dlpi_tls_data is the calling thread's
// block), so each thread records its own TLS ranges when it registers.
#define _GNU_SOURCE
#include "gc/threads.h"

#include <errno.h>
#include <link.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "alloc/metadata.h"
#include "base/message.h"
#include "gc/barrier.h"
#include "gc/phases.h"
#include "gc/stop_world.h"

__thread struct shade_thread *current_thread __attribute__((tls_model("initial-exec")));

static pthread_mutex_t registry_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct shade_thread *registry;
static _Atomic unsigned registry_count; // changed under the registry lock; read anywhere
static pthread_key_t exit_key;

void threads_lock(void) { lock_stoppable(&registry_mutex); }
void threads_unlock(void) { pthread_mutex_unlock(&registry_mutex); }
struct shade_thread *threads_first(void) { return registry; }
unsigned threads_count(void) { return load_relaxed(&registry_count); }

static void unregister_at_exit(void *record) {
  if (current_thread == record)
    threads_unregister_current();
}

static void park_pending(struct thread_cache *c) { stop_world_park_pending(thread_of(c)); }

void threads_init(void) {
  thread_cache_stop_handler = park_pending;
  pthread_key_create(&exit_key, unregister_at_exit);
}

static int record_tls_range(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  struct shade_thread *t = data;
  if (info->dlpi_tls_data == NULL || t->tls_range_count == MAX_TLS_RANGES)
    return 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type == PT_TLS && ph->p_memsz > 0) {
      uintptr_t start = (uintptr_t)info->dlpi_tls_data;
      t->tls_ranges[t->tls_range_count][0] = start;
      t->tls_ranges[t->tls_range_count][1] = start + ph->p_memsz;
      t->tls_range_count++;
    }
  }
  return 0;
}

static void find_stack_bounds(struct shade_thread *t) {
  pthread_attr_t attr;
  void *stack_address = NULL;
  size_t stack_size = 0;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    pthread_attr_getstack(&attr, &stack_address, &stack_size);
    pthread_attr_destroy(&attr);
  }
  uintptr_t here = (uintptr_t)__builtin_frame_address(0);
  if (stack_address == NULL) { // unknown: assume 8 MiB above... below the current frame
    stack_size = (size_t)8 << 20;
    stack_address = (void *)(here - stack_size / 2);
  }
  t->stack_low = (uintptr_t)stack_address;
  t->stack_high = (uintptr_t)stack_address + stack_size;
}

// Starts, registrations and fork. A thread being created is inside the C library's and the
// sanitizer runtime's start-up code until its start routine runs, and registration calls
// pthread_getattr_np (malloc) and dl_iterate_phdr (the loader's lock): both take locks of the C
// library or of the sanitizer runtime (ASan's allocator locks are not made safe across fork by the
// runtimes in use). A fork() then copies such a lock held, with no thread in the child to release
// it: the child's next thread start or registration (a marker helper at its first collection)
// blocks on it forever, and the collection waiting for that helper with it. So every start Shade
// makes (threads_start_internal, shade_pthread_create) counts in `starting` from before
// pthread_create until the new thread is past that code (registered, for a program thread), and
// every registration counts while it runs; threads_prepare_fork raises fork_pending and waits
// until `starting` is 0, and a count that begins meanwhile steps back and waits for the fork.
// Both sides write their own word, then read the other's (sequentially consistent): at least one
// sees the other, so no count begins unseen. No lock: a registered thread may be stopped for a
// collection anywhere in this, and nothing the counted threads do needs a lock the fork handler
// holds (it holds only the collector lock then, which neither start-up nor registration takes).
static _Atomic unsigned starting; // starts and registrations under way
static _Atomic bool fork_pending; // threads_prepare_fork until the fork is over

void threads_start_begin(void) {
  for (;;) {
    atomic_fetch_add(&starting, 1);
    if (!atomic_load(&fork_pending))
      return;
    atomic_fetch_sub(&starting, 1);
    while (atomic_load(&fork_pending)) {
      struct timespec pause = {0, 50 * 1000};
      nanosleep(&pause, NULL);
    }
  }
}

void threads_start_done(void) { atomic_fetch_sub(&starting, 1); }

void threads_prepare_fork(void) {
  atomic_store(&fork_pending, true);
  while (atomic_load(&starting) != 0) {
    struct timespec pause = {0, 50 * 1000};
    nanosleep(&pause, NULL);
  }
}

void threads_after_fork_parent(void) { atomic_store(&fork_pending, false); }

void threads_start_after_fork_child(void) {
  atomic_store(&starting, 0); // (it was 0 at fork; a count that stepped back is not in the child)
  atomic_store(&fork_pending, false);
}

// The registration itself; counted by the caller.
static struct shade_thread *register_counted(void) {
  // A registered thread must take the stop signal. One created by a thread that blocks it (every
  // Shade thread does; a program may too) would otherwise leave each collection waiting forever.
  sigset_t suspend;
  sigemptyset(&suspend);
  sigaddset(&suspend, stop_world_signal());
  pthread_sigmask(SIG_UNBLOCK, &suspend, NULL);
  struct shade_thread *t = metadata_alloc(sizeof *t);
  thread_cache_init(&t->cache);
  t->pthread = pthread_self();
  t->tid = (pid_t)syscall(SYS_gettid);
  find_stack_bounds(t);
  dl_iterate_phdr(record_tls_range, t);
  pthread_mutex_lock(&registry_mutex);
  // A thread registered while marking runs starts grey, as every stack does at mark start: it
  // may hold what its creator passed it (pthread_create's argument, for one) and nothing has
  // scanned that. The barrier shades what it stores until the collector scans its stack.
  t->stack_scanned = !phase_is_marking();
  if (!t->stack_scanned)
    barrier_some_stack_grey();
  t->next = registry;
  if (registry)
    registry->prev = t;
  registry = t;
  registry_count++;
  current_thread = t;
  pthread_mutex_unlock(&registry_mutex);
  pthread_setspecific(exit_key, t);
  return t;
}

struct shade_thread *threads_register_started(void) {
  struct shade_thread *t = current_thread ? current_thread : register_counted();
  threads_start_done();
  return t;
}

struct shade_thread *threads_register_current(void) {
  if (current_thread)
    return current_thread;
  threads_start_begin(); // a fork waits for the registration (the comment above)
  return threads_register_started();
}

void threads_unregister_current(void) {
  struct shade_thread *t = current_thread;
  if (t == NULL)
    return;
  critical_enter(&t->cache);
  barrier_flush(t); // what it shaded while marking must reach the marking before it leaves
  thread_cache_flush(&t->cache);
  critical_leave(&t->cache);
  lock_stoppable(&registry_mutex);
  if (t->prev)
    t->prev->next = t->next;
  else
    registry = t->next;
  if (t->next)
    t->next->prev = t->prev;
  registry_count--;
  current_thread = NULL;
  pthread_mutex_unlock(&registry_mutex);
  pthread_setspecific(exit_key, NULL);
  metadata_free(t, sizeof *t);
}

// In the child of fork only the forking thread exists: drop every other record, keeping the spans
// their caches held.
void threads_after_fork_child(void) {
  pthread_mutex_init(&registry_mutex, NULL);
  struct shade_thread *t = registry;
  while (t) {
    struct shade_thread *next = t->next;
    if (t != current_thread) {
      thread_cache_flush(&t->cache);
      metadata_free(t, sizeof *t);
    }
    t = next;
  }
  registry = current_thread;
  store_relaxed(&registry_count, current_thread ? 1u : 0u);
  if (current_thread) {
    current_thread->next = current_thread->prev = NULL;
    current_thread->pthread = pthread_self();
  }
}

__thread bool thread_is_shade_internal;

typedef void *(*internal_main_fn)(void *);

static void *internal_thread_main(void *main_as_pointer) { // (no allocation: see the callers)
  internal_main_fn main = (internal_main_fn)(uintptr_t)main_as_pointer;
  thread_is_shade_internal = true;
  threads_start_done(); // past the start-up code
  return main(NULL);
}

int threads_start_internal(void *(*main)(void *), const char *name) {
  threads_start_begin();
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old); // the new thread inherits the full mask
  pthread_t thread;
  int error = pthread_create(&thread, &attr, internal_thread_main, (void *)(uintptr_t)main);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (error == 0)
    pthread_setname_np(thread, name);
  else
    threads_start_done();
  return error;
}
