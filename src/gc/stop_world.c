// stop_world.c: stopping the world with signals (as bdwgc does on Linux).
//
// world_epoch is even while the world runs and odd while it is stopped or stopping. To stop,
// the collector makes it odd and sends the suspend signal to every other registered thread. The
// handler (or, for a thread in an allocator critical section, the end of that section; or
// shade_safepoint) parks the thread: it spills its registers onto its stack (registers.h), records
// its stack pointer, records the epoch it acknowledges in parked_epoch (so a thread acknowledges a
// stop exactly once however many ways it reaches a park), posts the acknowledgement semaphore and
// waits on a futex until the epoch changes. Signals interrupt blocking system calls, so threads
// blocked in read() or nanosleep() stop too; SA_RESTART resumes the call.
//
// Handshakes stop one thread at a time (concurrent marking scans stacks that way, Go-style): the
// collector raises t->handshake_request, sends the same signal, and waits for handshake_ack; the
// thread parks the same way (registers spilled, stack pointer saved; deferred out of critical
// sections the same way) until handshake_resume reaches the request. handshake_claimed plays the
// part parked_epoch plays for whole-world stops: one acknowledgement per request. handshake_each
// asks many threads at once and serves each as its acknowledgement comes (every acknowledgement
// also bumps handshake_acks, one futex to wait on), releasing it at once: no thread waits for
// another, and a round costs about one scheduling delay, not one per thread.
//
// A handshake may ask for a park at a safe point (safe_only): outside critical
// sections the signal handler then only records stop_pending, and the thread parks when it next
// leaves a critical section (every allocation and every barrier slow path has one) or polls a
// safepoint. A thread parked there is between two calls, never inside the inline sequence of
// shade_write (store, then check the flag), so no store of its own waits for its barrier check.
// A thread that reaches no safe point (blocked in a system call, or computing without allocating
// or storing) is asked again, after 2 ms blocked or 20 ms running, to park wherever it is; the
// caller learns which (HANDSHAKE_ANYWHERE) and scans that thread's stack and registers.
//
// Making a store visible to every thread without stopping any: membarrier_all() (the kernel's
// MEMBARRIER_CMD_PRIVATE_EXPEDITED: a full barrier on every CPU running one of our threads; a
// thread that is not running passes one when it is scheduled). stop_world_grace() then waits,
// without stopping the others, until no thread is still inside a critical section it entered
// before the store (reading each in_critical; a thread found inside is handshaked, which parks it
// as it leaves). After that, every critical section sees the store.
//
// Counters (stop_counts): world stops and the threads they stopped, handshakes, the longest
// one-thread stop, and how many handshakes had to park a thread outside a safe point.
#define _GNU_SOURCE
#include "gc/stop_world.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <semaphore.h>
#include "gc/registers.h"
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/message.h"

static _Atomic uint32_t world_epoch;
static sem_t acknowledgements;
static int suspend_signal;
static bool membarrier_ready;
static _Atomic uint32_t handshake_acks; // bumped by every acknowledgement, for handshake_each
struct stop_counts stop_counts;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int stop_world_signal(void) { return suspend_signal; }
bool world_is_stopping(void) { return load_acquire(&world_epoch) & 1; }

static void futex_wait(_Atomic uint32_t *word, uint32_t value) {
  syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *word) {
  syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
}

// Park for the stop in progress, acknowledging it exactly once. The signal handler may run in
// the middle of a park entered from a safepoint or a critical section's end: the epoch is
// claimed with a compare-and-swap before anything else, so of two nested parks only the one that
// claims it acknowledges (an extra acknowledgement would let the next stop start marking while
// a thread still runs).
// safe: reached from a safe point (a critical section's end, a safepoint poll), not from the
// signal handler at an arbitrary instruction. A request for a safe point that finds the thread
// elsewhere is only recorded (stop_pending) for the next one.
static SHADE_NOINLINE void handshake_park(struct shade_thread *t, bool safe) {
  uint32_t request = load_acquire(&t->handshake_request);
  uint32_t claimed = load_relaxed(&t->handshake_claimed);
  if (request == claimed)
    return;
  if (!safe && load_acquire(&t->handshake_safe_only)) {
    t->cache.stop_pending = 1;
    return;
  }
  if (!atomic_compare_exchange_strong(&t->handshake_claimed, &claimed, request))
    return;
  volatile uintptr_t registers[REGISTER_SPILL_WORDS] = {0};
  SPILL_REGISTERS(registers);
  t->stack_pointer = (uintptr_t)registers;
  store_relaxed(&t->handshake_parked_safe, safe);
  store_release(&t->handshake_ack, request);
  futex_wake_all(&t->handshake_ack);
  atomic_fetch_add_explicit(&handshake_acks, 1, memory_order_release); // (handshake_each)
  futex_wake_all(&handshake_acks);
  // Until resumed for this request or a later one: the signal of the next request can nest a
  // second handshake_park inside this one, which returns only after `resume` has moved past.
  for (uint32_t resume; (int32_t)((resume = load_acquire(&t->handshake_resume)) - request) < 0;)
    futex_wait(&t->handshake_resume, resume);
  __asm__ volatile("" : : "r"(registers) : "memory");
}

static inline bool handshake_requested(struct shade_thread *t) {
  return load_relaxed(&t->handshake_request) != load_relaxed(&t->handshake_claimed);
}

static SHADE_NOINLINE void park(struct shade_thread *t, bool safe) {
  if (handshake_requested(t))
    handshake_park(t, safe);
  uint32_t epoch = load_acquire(&world_epoch);
  uint32_t previous = load_relaxed(&t->parked_epoch);
  if (!(epoch & 1) || previous == epoch ||
      !atomic_compare_exchange_strong(&t->parked_epoch, &previous, epoch))
    return;
  volatile uintptr_t registers[REGISTER_SPILL_WORDS] = {0}; // inside the scanned part of the stack
  SPILL_REGISTERS(registers);
  t->stack_pointer = (uintptr_t)registers;
  sem_post(&acknowledgements); // release: our stack writes happen before the collector reads
  while (load_acquire(&world_epoch) == epoch)
    futex_wait(&world_epoch, epoch);
  __asm__ volatile("" : : "r"(registers) : "memory");
}

static void suspend_handler(int signal_number, siginfo_t *info, void *context) {
  (void)signal_number;
  (void)info;
  (void)context; // the interrupted registers: on this stack, above our frame, so scanned
  int saved_errno = errno;
  struct shade_thread *t = current_thread;
  if (t != NULL) {
    if (t->cache.in_critical)
      t->cache.stop_pending = 1;
    else
      park(t, false);
  }
  errno = saved_errno;
}

void stop_world_park_pending(struct shade_thread *t) {
  t->cache.stop_pending = 0;
  park(t, true);
}

void lock_stoppable(pthread_mutex_t *mutex) {
  struct shade_thread *t = current_thread;
  if (t == NULL) { // not registered: never stopped, may sleep
    pthread_mutex_lock(mutex);
    return;
  }
  while (pthread_mutex_trylock(mutex) != 0) {
    stop_world_safepoint(t);
    struct timespec pause = {0, 20 * 1000};
    nanosleep(&pause, NULL);
  }
}

void stop_world_safepoint(struct shade_thread *t) {
  if (SHADE_UNLIKELY((load_relaxed(&world_epoch) & 1) || handshake_requested(t)) &&
      !t->cache.in_critical)
    park(t, true);
}

int stop_world_init(int signal_number) {
  suspend_signal = signal_number;
  sem_init(&acknowledgements, 0, 0);
  struct sigaction action = {0};
  action.sa_sigaction = suspend_handler;
  action.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&action.sa_mask);
  membarrier_ready =
      syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
  return sigaction(signal_number, &action, NULL);
}

bool membarrier_all(void) {
  return membarrier_ready && syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
}

// The system call a thread is blocked in (its number, from /proc), or -1 when it runs user code.
static long thread_syscall(pid_t tid) {
  char path[64], text[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -2;
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0)
    return -2;
  text[n] = '\0';
  return text[0] == 'r' ? -1 : strtol(text, NULL, 10); // "running" or the number
}

static char thread_state(pid_t tid);

// A stop that waited long: name each thread that has not acknowledged it (what it is doing, as
// far as /proc and its record tell), and send it the signal again: a thread that took the first
// one at a moment it could not act on (a runtime that defers signals, a sanitizer's for one) gets
// another chance; one already parked ignores it (parked_epoch).
static SHADE_NO_SANITIZE void report_unstopped(struct shade_thread *self, uint32_t epoch,
                                               unsigned missing, unsigned expected) {
  shade_message("shade: still waiting for %u of %u threads to stop for a collection "
                "(is a thread blocking signal %d?)", missing, expected, suspend_signal);
  for (struct shade_thread *t = threads_first(); t; t = t->next) {
    if (t == self || load_acquire(&t->parked_epoch) == epoch)
      continue;
    shade_message("shade:   thread %d: scheduler state %c, system call %ld, in a critical "
                  "section %d, stop pending %d; signalled again", (int)t->tid,
                  thread_state(t->tid), thread_syscall(t->tid), (int)t->cache.in_critical,
                  (int)t->cache.stop_pending);
    pthread_kill(t->pthread, suspend_signal);
  }
}

void stop_world(struct shade_thread *self) {
  atomic_fetch_add(&world_epoch, 1); // odd: stopping
  atomic_fetch_add(&stop_counts.world_stops, 1);
  unsigned expected = 0;
  for (struct shade_thread *t = threads_first(); t; t = t->next) {
    if (t == self)
      continue;
    int error = pthread_kill(t->pthread, suspend_signal);
    if (error == 0)
      expected++;
    else
      shade_message("shade: cannot stop thread %lu for a collection: error %d; its stack is "
                    "not scanned", (unsigned long)t->pthread, error);
  }
  atomic_fetch_add(&stop_counts.threads_stopped, expected);
  uint32_t epoch = load_relaxed(&world_epoch);
  for (unsigned received = 0; received < expected;) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    if (sem_timedwait(&acknowledgements, &deadline) == 0)
      received++;
    else if (errno == ETIMEDOUT)
      report_unstopped(self, epoch, expected - received, expected);
  }
}

void stop_world_after_fork_child(void) {
  if (load_relaxed(&world_epoch) & 1)
    store_relaxed(&world_epoch, load_relaxed(&world_epoch) + 1);
  sem_destroy(&acknowledgements);
  sem_init(&acknowledgements, 0, 0);
}

void start_world(void) {
  atomic_fetch_add_explicit(&world_epoch, 1, memory_order_release); // even: running
  futex_wake_all(&world_epoch);
}

// The scheduler's state of thread tid ('R' running or runnable, 'S', 'D', ...), '?' if unknown.
static char thread_state(pid_t tid) {
  char path[64], text[512];
  snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return '?';
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0)
    return '?';
  text[n] = '\0';
  const char *end = strrchr(text, ')'); // the name may hold spaces and parentheses
  return end && end[1] == ' ' ? end[2] : '?';
}

static bool handshake_request(struct shade_thread *t, bool safe_only, uint32_t *request) {
  *request = load_relaxed(&t->handshake_request) + 1;
  store_release(&t->handshake_safe_only, safe_only);
  store_release(&t->handshake_request, *request);
  if (pthread_kill(t->pthread, suspend_signal) != 0) {
    store_relaxed(&t->handshake_claimed, *request); // nobody will answer: withdraw the request
    return false;
  }
  atomic_fetch_add(&stop_counts.handshakes, 1);
  return true;
}

void handshake_end(struct shade_thread *t) {
  atomic_raise_max(&stop_counts.handshake_max_ns, now_ns() - t->handshake_began_ns);
  store_release(&t->handshake_resume, load_relaxed(&t->handshake_request));
  futex_wake_all(&t->handshake_resume);
}

void handshake_each(struct shade_thread *self, bool safe_only, bool (*wanted)(struct shade_thread *),
                    void (*work)(struct shade_thread *, enum handshake_park, void *),
                    void *context) {
  struct shade_thread *pending[HANDSHAKE_BATCH];
  uint32_t requests[HANDSHAKE_BATCH];
  uint64_t asked_ns[HANDSHAKE_BATCH];
  bool widened[HANDSHAKE_BATCH];
  struct shade_thread *next = threads_first();
  unsigned count = 0;
  for (;;) {
    while (count < HANDSHAKE_BATCH && next != NULL) { // ask the next ones
      struct shade_thread *t = next;
      next = t->next;
      if (t == self || (wanted && !wanted(t)))
        continue;
      if (!handshake_request(t, safe_only, &requests[count])) {
        work(t, HANDSHAKE_FAILED, context);
        continue;
      }
      pending[count] = t;
      asked_ns[count] = now_ns();
      widened[count] = !safe_only;
      count++;
    }
    if (count == 0)
      return;
    uint32_t seen = load_acquire(&handshake_acks);
    bool progress = false;
    for (unsigned i = 0; i < count;) {
      struct shade_thread *t = pending[i];
      if (load_acquire(&t->handshake_ack) == requests[i]) {
        t->handshake_began_ns = now_ns();
        enum handshake_park how = HANDSHAKE_SAFE;
        if (!load_relaxed(&t->handshake_parked_safe)) {
          how = HANDSHAKE_ANYWHERE;
          if (safe_only)
            atomic_fetch_add(&stop_counts.handshakes_anywhere, 1);
        }
        work(t, how, context);
        handshake_end(t);
        pending[i] = pending[--count];
        requests[i] = requests[count];
        asked_ns[i] = asked_ns[count];
        widened[i] = widened[count];
        progress = true;
        continue;
      }
      uint64_t waited_ms = (now_ns() - asked_ns[i]) / 1000000;
      if (!widened[i] && waited_ms >= 2 && (waited_ms >= 20 || thread_state(t->tid) != 'R')) {
        widened[i] = true; // no safe point in sight: park it where it is
        store_release(&t->handshake_safe_only, 0);
        pthread_kill(t->pthread, suspend_signal);
      }
      i++;
    }
    if (!progress && count > 0) {
      struct timespec timeout = {0, 1000 * 1000};
      syscall(SYS_futex, (uint32_t *)&handshake_acks, FUTEX_WAIT_PRIVATE, seen, &timeout, NULL, 0);
    }
  }
}

// A thread's allocator critical-section depth, read from another thread: a racy read on purpose
// (the owner writes it with plain stores); the membarrier before it orders what matters.
static SHADE_NO_SANITIZE int critical_depth(struct shade_thread *t) {
  return __atomic_load_n((const int *)&t->cache.in_critical, __ATOMIC_RELAXED);
}

static bool fenced_grace;
static bool inside_critical(struct shade_thread *t) {
  return !fenced_grace || critical_depth(t) != 0;
}
static void nothing(struct shade_thread *t, enum handshake_park how, void *context) {
  (void)t;
  (void)how;
  (void)context;
}

void stop_world_grace(struct shade_thread *self) {
  fenced_grace = membarrier_all(); // (the registry lock serialises graces)
  atomic_fetch_add(&stop_counts.graces, 1);
  handshake_each(self, false, inside_critical, nothing, NULL); // each parks as it leaves
}
