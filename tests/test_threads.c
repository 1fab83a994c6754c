// test_threads.c (core_threads): registered threads and collections.
//   - shade_pthread_create registers the new thread; shade_thread_register / unregister work for
//     threads made otherwise, and registering twice is harmless;
//   - threads are created, registered, and exit (joined or detached) while other threads
//     allocate and collect, without losing live objects or hanging a collection;
//   - a thread blocked in a system call (read() on a pipe, nanosleep) is stopped for collections,
//     and the pointers on its stack keep their objects alive;
//   - a thread that polls shade_safepoint() is stopped there;
//   - a registered thread that blocks the stop signal holds a collection up, and after 10 s the
//     collector names it (its thread id, what it is doing) and signals it again; the collection
//     ends once the thread unblocks the signal.
#include "test_util.h"

#include <signal.h>
#include <sys/syscall.h>

// ---------------------------------------------------------------------------------------------
// Registration

static void *report_registration(void *unused) {
  (void)unused;
  return (void *)(intptr_t)shade_thread_is_registered();
}

static void *register_by_hand(void *unused) {
  (void)unused;
  intptr_t result = 0;
  if (shade_thread_is_registered() != 0)
    result |= 1;
  if (shade_thread_register() != 0 || shade_thread_is_registered() != 1)
    result |= 2;
  if (shade_thread_register() != 0 || shade_thread_is_registered() != 1) // twice: harmless
    result |= 4;
  struct shade_stats stats;
  shade_get_stats(&stats);
  if (stats.threads < 2)
    result |= 8;
  void *volatile p = shade_malloc(100);
  shade_collect();
  if (p == NULL || shade_is_heap_pointer(p) != 1)
    result |= 16;
  p = NULL;
  if (shade_thread_unregister() != 0 || shade_thread_is_registered() != 0)
    result |= 32;
  return (void *)result;
}

static void test_threads_register_and_unregister(void) {
  SHADE_TEST_EXPECT(shade_thread_is_registered() == 1); // main, auto-initialised below
  pthread_t thread;
  void *result;
  SHADE_TEST_EXPECT(shade_pthread_create(&thread, NULL, report_registration, NULL) == 0);
  pthread_join(thread, &result);
  SHADE_TEST_EXPECTF(result == (void *)1, "shade_pthread_create'd thread registered: %p", result);
  SHADE_TEST_EXPECT(pthread_create(&thread, NULL, register_by_hand, NULL) == 0);
  pthread_join(thread, &result);
  SHADE_TEST_EXPECTF(result == NULL, "failed steps (bit mask): %#lx", (unsigned long)(uintptr_t)result);
  struct shade_stats stats = shade_test_stats();
  SHADE_TEST_EXPECTF(stats.threads == 1, "%" PRIu64 " threads registered after the others left",
                     stats.threads);
}

// ---------------------------------------------------------------------------------------------
// Threads coming and going during collections

struct cell {
  struct cell *next;
  uint64_t value;
};

static atomic_int churn_stop;
static atomic_long churn_errors;
static atomic_long short_lived_threads;

// Builds a list, collects now and then, checks the list: what every short-lived thread does.
static void build_and_check_list(uint64_t seed) {
  struct cell *head = NULL;
  for (uint64_t i = 0; i < 200; i++) {
    struct cell *c = shade_malloc(sizeof *c + (i % 7) * 16);
    c->next = head;
    c->value = seed ^ i;
    head = c;
  }
  if (seed % 8 == 0)
    shade_collect();
  shade_test_allocate_garbage(64 * 1024);
  uint64_t i = 200;
  for (struct cell *c = head; c != NULL && i > 0; c = c->next) // at most 200 steps
    if (c->value != (seed ^ --i))
      atomic_fetch_add(&churn_errors, 1);
  if (i != 0)
    atomic_fetch_add(&churn_errors, 1);
  atomic_fetch_add(&short_lived_threads, 1);
}

static void *short_lived(void *arg) {
  build_and_check_list((uint64_t)(uintptr_t)arg);
  return NULL;
}

static void *short_lived_registering_itself(void *arg) {
  if (shade_thread_register() != 0) {
    atomic_fetch_add(&churn_errors, 1);
    return NULL;
  }
  build_and_check_list((uint64_t)(uintptr_t)arg);
  shade_thread_unregister();
  return NULL;
}

// Spawns batches of short-lived threads (joined, detached, and self-registering) until told to
// stop.
static void *spawner(void *unused) {
  (void)unused;
  uint64_t n = 0;
  pthread_attr_t detached;
  pthread_attr_init(&detached);
  pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
  while (!atomic_load(&churn_stop)) {
    pthread_t batch[4];
    for (int i = 0; i < 4; i++, n++) {
      void *arg = (void *)(uintptr_t)n;
      if (i == 0)
        SHADE_TEST_EXPECT(pthread_create(&batch[i], NULL, short_lived_registering_itself, arg) == 0);
      else
        SHADE_TEST_EXPECT(shade_pthread_create(&batch[i], NULL, short_lived, arg) == 0);
    }
    pthread_t ignored;
    SHADE_TEST_EXPECT(shade_pthread_create(&ignored, &detached, short_lived, (void *)(uintptr_t)n++) == 0);
    for (int i = 0; i < 4; i++)
      pthread_join(batch[i], NULL);
  }
  pthread_attr_destroy(&detached);
  return NULL;
}

// Keeps a small live set, replacing its members, checking each before it is replaced.
static void *allocator(void *arg) {
  uint64_t rng = (uint64_t)(uintptr_t)arg;
  enum { LIVE = 256 };
  uint64_t **live = shade_malloc(LIVE * sizeof *live);
  while (!atomic_load(&churn_stop)) {
    size_t i = shade_test_random(&rng) % LIVE;
    if (live[i] != NULL && (live[i][0] != (uint64_t)(uintptr_t)live[i] || live[i][3] != ~live[i][0]))
      atomic_fetch_add(&churn_errors, 1);
    uint64_t *p = shade_malloc(32 + shade_test_random(&rng) % 400);
    p[0] = (uint64_t)(uintptr_t)p;
    p[3] = ~p[0];
    live[i] = p;
  }
  return NULL;
}

static void test_threads_come_and_go_during_collections(void) {
  uint64_t seed = shade_test_seed();
  atomic_store(&churn_stop, 0);
  pthread_t spawn_thread, allocators[2];
  SHADE_TEST_EXPECT(shade_pthread_create(&spawn_thread, NULL, spawner, NULL) == 0);
  for (int i = 0; i < 2; i++)
    SHADE_TEST_EXPECT(shade_pthread_create(&allocators[i], NULL, allocator,
                                           (void *)(uintptr_t)(seed + (uint64_t)i)) == 0);
  double start = shade_test_now();
  long collections = 0;
  // 2 s, or until 10 short-lived threads are done (under TSan, with the world stopped most of
  // the time, thread starts are slow), at most 60 s.
  for (double t = 0; t < 2.0 || (atomic_load(&short_lived_threads) < 10 && t < 60.0);
       t = shade_test_now() - start) {
    shade_collect();
    collections++;
    struct timespec pause = {0, 2 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
  atomic_store(&churn_stop, 1);
  pthread_join(spawn_thread, NULL);
  for (int i = 0; i < 2; i++)
    pthread_join(allocators[i], NULL);
  fprintf(stderr, "%ld short-lived threads, %ld collections from main\n",
          atomic_load(&short_lived_threads), collections);
  SHADE_TEST_EXPECTF(atomic_load(&churn_errors) == 0, "%ld damaged lists or objects",
                     atomic_load(&churn_errors));
  SHADE_TEST_EXPECT(atomic_load(&short_lived_threads) >= 10);
  // The detached threads finish on their own; then only main is registered.
  struct shade_stats stats = shade_test_stats();
  for (double deadline = shade_test_now() + 10.0; stats.threads != 1 && shade_test_now() < deadline;) {
    struct timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, NULL);
    stats = shade_test_stats();
  }
  SHADE_TEST_EXPECTF(stats.threads == 1, "%" PRIu64 " threads still registered", stats.threads);
  shade_collect(); // and the world still stops fine
}

// ---------------------------------------------------------------------------------------------
// Threads blocked in system calls

enum { HELD = 64 };
static shade_test_hidden held_hidden[HELD];
static atomic_int blocked_ready, blocked_intact, sleeper_stop;
static int wake_pipe[2];

static SHADE_TEST_NOINLINE void make_held_objects(char *volatile *on_stack, uint64_t seed) {
  for (int i = 0; i < HELD; i++) {
    held_hidden[i] = shade_test_new_filled(200, seed + i);
    on_stack[i] = (char *)shade_test_unhide(held_hidden[i]) + 100;
  }
}

static int count_held_intact(char *volatile *on_stack, uint64_t seed) {
  int intact = 0;
  for (int i = 0; i < HELD; i++)
    intact += shade_test_is_filled(on_stack[i] - 100, 200, seed + i);
  return intact;
}

static void *block_in_read(void *unused) {
  (void)unused;
  char *volatile on_stack[HELD];
  make_held_objects(on_stack, 10);
  shade_test_clear_stack();
  atomic_store(&blocked_ready, 1);
  char byte;
  ssize_t got;
  do
    got = read(wake_pipe[0], &byte, 1);
  while (got < 0 && errno == EINTR);
  atomic_store(&blocked_intact, got == 1 ? count_held_intact(on_stack, 10) : -1);
  return NULL;
}

static void *block_in_nanosleep(void *unused) {
  (void)unused;
  char *volatile on_stack[HELD];
  make_held_objects(on_stack, 20);
  shade_test_clear_stack();
  atomic_store(&blocked_ready, 1);
  while (!atomic_load(&sleeper_stop)) {
    struct timespec nap = {0, 20 * 1000 * 1000}, left;
    while (nanosleep(&nap, &left) != 0 && errno == EINTR)
      nap = left;
  }
  atomic_store(&blocked_intact, count_held_intact(on_stack, 20));
  return NULL;
}

static void *poll_safepoints(void *unused) {
  (void)unused;
  char *volatile on_stack[HELD];
  make_held_objects(on_stack, 30);
  shade_test_clear_stack();
  atomic_store(&blocked_ready, 1);
  while (!atomic_load(&sleeper_stop))
    shade_safepoint();
  atomic_store(&blocked_intact, count_held_intact(on_stack, 30));
  return NULL;
}

static void collect_around(const char *where) {
  for (int i = 0; i < 10; i++) {
    shade_test_collect_clean();
    size_t live = shade_test_count_live(held_hidden, HELD);
    SHADE_TEST_EXPECTF(live == HELD, "%s, collection %d: %zu of %d objects live", where, i, live,
                       HELD);
    shade_test_allocate_garbage(512 * 1024);
  }
}

static void run_blocked_thread(void *(*body)(void *), const char *where, void (*wake)(void)) {
  atomic_store(&blocked_ready, 0);
  atomic_store(&blocked_intact, -2);
  atomic_store(&sleeper_stop, 0);
  pthread_t thread;
  SHADE_TEST_EXPECT(shade_pthread_create(&thread, NULL, body, NULL) == 0);
  while (!atomic_load(&blocked_ready))
    sched_yield();
  struct timespec settle = {0, 20 * 1000 * 1000}; // let it enter the system call
  nanosleep(&settle, NULL);
  collect_around(where);
  wake();
  pthread_join(thread, NULL);
  SHADE_TEST_EXPECTF(atomic_load(&blocked_intact) == HELD, "%s: %d of %d objects intact",
                     where, atomic_load(&blocked_intact), HELD);
}

static void wake_reader(void) { SHADE_TEST_EXPECT(write(wake_pipe[1], "x", 1) == 1); }
static void wake_sleeper(void) { atomic_store(&sleeper_stop, 1); }

static void test_thread_blocked_in_read_is_stopped_and_keeps_its_objects(void) {
  SHADE_TEST_EXPECT(pipe(wake_pipe) == 0);
  run_blocked_thread(block_in_read, "blocked in read()", wake_reader);
  close(wake_pipe[0]);
  close(wake_pipe[1]);
}

static void test_thread_sleeping_in_nanosleep_is_stopped_and_keeps_its_objects(void) {
  run_blocked_thread(block_in_nanosleep, "sleeping in nanosleep()", wake_sleeper);
}

static void test_thread_polling_safepoints_is_stopped_and_keeps_its_objects(void) {
  run_blocked_thread(poll_safepoints, "polling shade_safepoint()", wake_sleeper);
}

// shade_safepoint returns at once when no collection waits.
// A thread born with every signal blocked (created by a thread that blocks them, as a runtime's
// helper threads often are) that registers is still stopped by collections: registration
// unblocks the stop signal. Without that, the collections below would wait forever.
static atomic_int blocked_thread_running;
static int blocked_thread_pipe[2];
static void *blocked_signals_thread(void *unused) {
  (void)unused;
  SHADE_TEST_EXPECT(shade_thread_register() == 0);
  void *volatile keep = shade_malloc(64);
  atomic_store(&blocked_thread_running, 1);
  char byte;
  SHADE_TEST_EXPECT(read(blocked_thread_pipe[0], &byte, 1) == 1); // only a signal stops it here
  (void)keep;
  shade_thread_unregister();
  return NULL;
}
static void test_thread_born_with_signals_blocked_is_stopped(void) {
  SHADE_TEST_EXPECT(pipe(blocked_thread_pipe) == 0);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t thread;
  int error = pthread_create(&thread, NULL, blocked_signals_thread, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  SHADE_TEST_EXPECT_EQ(error, 0);
  while (!atomic_load(&blocked_thread_running))
    sched_yield();
  usleep(10 * 1000); // into read()
  uint64_t before = shade_test_stats().cycles;
  for (int i = 0; i < 3; i++)
    shade_collect(); // waits forever if the thread never takes the stop signal
  SHADE_TEST_EXPECT(shade_test_stats().cycles >= before + 3);
  SHADE_TEST_EXPECT(write(blocked_thread_pipe[1], "x", 1) == 1);
  pthread_join(thread, NULL);
  close(blocked_thread_pipe[0]);
  close(blocked_thread_pipe[1]);
}

// A registered thread blocks the stop signal for 11 s: the collection waits, names the thread
// after 10 s, and ends when the thread unblocks the signal (which parks it at once). The
// collection that waits may be another than the test's (the scavenger's idle collection, which
// then parks the main thread before it calls shade_collect): the messages are captured and the
// time measured from before the thread starts, so either way the wait and the naming are seen.
static atomic_int blocker_tid, blocker_ready;
static void *block_the_stop_signal(void *unused) {
  (void)unused;
  sigset_t stop, old;
  sigemptyset(&stop);
  sigaddset(&stop, SIGRTMIN + 6); // Shade's default (SHADE_SIG_SUSPEND is unset: main)
  pthread_sigmask(SIG_BLOCK, &stop, &old);
  atomic_store(&blocker_tid, (int)syscall(SYS_gettid));
  atomic_store(&blocker_ready, 1);
  double until = shade_test_now() + 11.0;
  while (shade_test_now() < until) {
    struct timespec nap = {0, 50 * 1000 * 1000};
    nanosleep(&nap, NULL);
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL); // the pending signal parks this thread now
  return NULL;
}
static void test_thread_blocking_the_stop_signal_is_named(void) {
  if (getenv("SHADE_SIG_SUSPEND") != NULL)
    shade_test_skip("SHADE_SIG_SUSPEND is set");
  pthread_t thread;
  shade_test_capture_messages();
  uint64_t before = shade_test_stats().cycles;
  double start = shade_test_now();
  SHADE_TEST_EXPECT(shade_pthread_create(&thread, NULL, block_the_stop_signal, NULL) == 0);
  while (!atomic_load(&blocker_ready))
    sched_yield();
  shade_collect(); // waits for the thread (or comes after a collection that did)
  double waited = shade_test_now() - start;
  shade_test_stop_capturing_messages();
  pthread_join(thread, NULL);
  SHADE_TEST_EXPECT(shade_test_stats().cycles >= before + 1);
  SHADE_TEST_EXPECTF(waited >= 10.0, "the collection took %.1f s", waited);
  char tid[32];
  snprintf(tid, sizeof tid, "thread %d:", atomic_load(&blocker_tid));
  SHADE_TEST_EXPECT(shade_test_messages_contain("still waiting for 1 of", "blocking signal"));
  SHADE_TEST_EXPECT(shade_test_messages_contain(tid, "signalled again"));
}

static void test_safepoint_without_collection_returns(void) {
  for (int i = 0; i < 1000; i++)
    shade_safepoint();
  SHADE_TEST_EXPECT(1);
}

int main(void) {
  void *volatile first = shade_malloc(1); // auto-initialises and registers main
  (void)first;
  SHADE_TEST_RUN(test_threads_register_and_unregister);
  SHADE_TEST_RUN(test_safepoint_without_collection_returns);
  SHADE_TEST_RUN_UNLESS_TSAN(test_thread_born_with_signals_blocked_is_stopped);
  SHADE_TEST_RUN_UNLESS_TSAN(test_thread_blocked_in_read_is_stopped_and_keeps_its_objects);
  SHADE_TEST_RUN_UNLESS_TSAN(test_thread_sleeping_in_nanosleep_is_stopped_and_keeps_its_objects);
  SHADE_TEST_RUN(test_thread_polling_safepoints_is_stopped_and_keeps_its_objects);
  SHADE_TEST_RUN(test_threads_come_and_go_during_collections);
  SHADE_TEST_RUN(test_thread_blocking_the_stop_signal_is_named);
  return shade_test_finish();
}
