// test_fork.c (core_fork): a program using Shade can fork(), and the child can use Shade:
// it allocates, collects, and finds objects made before the fork intact, even though the
// registered threads of the parent (one parked, one busy allocating and collecting at the
// moment of the fork) do not exist in the child. The parent carries on afterwards. A fork while
// another thread sweeps leaves the child no span half swept or lost between lists.
//
// A child that hangs is killed by its own alarm(); every child exits 0 when all went well.
#include "test_util.h"

#include <signal.h>
#include <sys/wait.h>

#ifdef SHADE_SANITIZER_THREAD
#define TSAN_BUILD 1
#else
#define TSAN_BUILD 0
#endif

enum { BEFORE = 1000, BEFORE_SIZE = 72 };

static void **made_before_fork; // a global: reachable in parent and child

static SHADE_TEST_NOINLINE void make_objects_before_fork(void) {
  made_before_fork = shade_malloc(BEFORE * sizeof *made_before_fork);
  for (int i = 0; i < BEFORE; i++) {
    made_before_fork[i] = shade_malloc(BEFORE_SIZE);
    shade_test_fill(made_before_fork[i], BEFORE_SIZE, (uint64_t)i);
  }
}

static int objects_before_fork_intact(void) {
  int intact = 0;
  for (int i = 0; i < BEFORE; i++)
    intact += shade_is_heap_pointer(made_before_fork[i]) == 1 &&
              shade_test_is_filled(made_before_fork[i], BEFORE_SIZE, (uint64_t)i);
  return intact;
}

static void *allocate_in_thread(void *unused) {
  (void)unused;
  shade_test_allocate_garbage(1 << 20);
  return NULL;
}

// What the child does; its exit status is a bit mask of what went wrong. TSan does not support
// creating threads in the child of a multithreaded process, so that step is left out there.
static _Noreturn void child_uses_shade(int parent_had_threads) {
  alarm(20);
  int errors = 0;
  if (!shade_thread_is_registered())
    errors |= 1;
  shade_test_allocate_garbage(16 << 20);
  shade_collect();
  void *volatile mine = shade_malloc(1000);
  shade_test_fill(mine, 1000, 77);
  shade_test_allocate_garbage(16 << 20);
  shade_collect();
  shade_collect();
  if (objects_before_fork_intact() != BEFORE)
    errors |= 2;
  if (!shade_test_is_filled(mine, 1000, 77))
    errors |= 4;
  struct shade_stats stats = shade_test_stats();
  if (stats.threads != 1)
    errors |= 8;
  // Threads still work in the child.
  if (!(TSAN_BUILD && parent_had_threads)) {
    pthread_t thread;
    if (shade_pthread_create(&thread, NULL, allocate_in_thread, NULL) != 0)
      errors |= 16;
    else
      pthread_join(thread, NULL);
  }
  shade_collect();
  _exit(errors);
}

static void expect_child_succeeds(pid_t child, const char *when) {
  SHADE_TEST_EXPECTF(child > 0, "%s: fork failed", when);
  if (child <= 0)
    return;
  int status = 0;
  SHADE_TEST_EXPECT(waitpid(child, &status, 0) == child);
  if (WIFSIGNALED(status))
    SHADE_TEST_EXPECTF(!WIFSIGNALED(status), "%s: child killed by signal %d (%s)", when,
                       WTERMSIG(status), WTERMSIG(status) == SIGALRM ? "hung" : strsignal(WTERMSIG(status)));
  else
    SHADE_TEST_EXPECTF(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                       "%s: child exited with %d (bit mask of failed checks)", when,
                       WEXITSTATUS(status));
}

static void test_child_of_single_threaded_program_uses_shade(void) {
  make_objects_before_fork();
  pid_t child = fork();
  if (child == 0)
    child_uses_shade(0);
  expect_child_succeeds(child, "single-threaded parent");
  SHADE_TEST_EXPECT(objects_before_fork_intact() == BEFORE);
}

// A parked registered thread and two busy ones exist in the parent when it forks.
static atomic_int busy_stop;
static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cond = PTHREAD_COND_INITIALIZER;
static int park_release;

static void *parked(void *unused) {
  (void)unused;
  void *volatile held = shade_malloc(64);
  pthread_mutex_lock(&park_lock);
  while (!park_release)
    pthread_cond_wait(&park_cond, &park_lock);
  pthread_mutex_unlock(&park_lock);
  return (void *)(intptr_t)(shade_is_heap_pointer(held) == 1);
}

static void *busy(void *arg) {
  uint64_t n = 0;
  int collects = arg != NULL;
  while (!atomic_load(&busy_stop)) {
    shade_test_allocate_garbage(256 * 1024);
    if (collects && ++n % 4 == 0)
      shade_collect();
  }
  return NULL;
}

static void test_child_of_multithreaded_program_uses_shade(void) {
  atomic_store(&busy_stop, 0);
  pthread_t parked_thread, busy_threads[2];
  SHADE_TEST_EXPECT(shade_pthread_create(&parked_thread, NULL, parked, NULL) == 0);
  SHADE_TEST_EXPECT(shade_pthread_create(&busy_threads[0], NULL, busy, NULL) == 0);
  SHADE_TEST_EXPECT(shade_pthread_create(&busy_threads[1], NULL, busy, (void *)1) == 0);
  for (int i = 0; i < 10; i++) {
    struct timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, NULL);
    char when[64];
    snprintf(when, sizeof when, "fork %d with busy threads", i);
    pid_t child = fork();
    if (child == 0)
      child_uses_shade(1);
    expect_child_succeeds(child, when);
  }
  atomic_store(&busy_stop, 1);
  pthread_join(busy_threads[0], NULL);
  pthread_join(busy_threads[1], NULL);
  pthread_mutex_lock(&park_lock);
  park_release = 1;
  pthread_cond_broadcast(&park_cond);
  pthread_mutex_unlock(&park_lock);
  void *held_alive;
  pthread_join(parked_thread, &held_alive);
  SHADE_TEST_EXPECT(held_alive == (void *)1);
  // The parent is unaffected.
  shade_collect();
  SHADE_TEST_EXPECT(objects_before_fork_intact() == BEFORE);
}

// Threads being started take locks of the C library and, under ASan, of the sanitizer's allocator
// (their start-up code and their registration call malloc). A fork at that moment waits for them:
// a lock copied while held would hang the child's first thread start (a marker helper at its first
// collection) for good. Each round forks right after starting a thread; the child's first
// collection starts its scavenger and marker helpers, and it forks again at once. (The threads
// end only after the fork: ASan's thread exit takes its allocator's locks too, and no handler
// can wait for a thread that has left Shade's code.)
enum { FORK_AT_START_ROUNDS = 20 };

static atomic_int started_may_end;

static void *wait_until_released(void *unused) {
  (void)unused;
  while (!atomic_load(&started_may_end)) {
    struct timespec pause = {0, 100 * 1000};
    nanosleep(&pause, NULL);
  }
  return NULL;
}

static int start_thread_ending_later(pthread_t *thread) {
  atomic_store(&started_may_end, 0);
  return shade_pthread_create(thread, NULL, wait_until_released, NULL) == 0;
}

static void release_and_join(pthread_t thread) {
  atomic_store(&started_may_end, 1);
  pthread_join(thread, NULL);
}

static _Noreturn void collect_and_exit(void) {
  alarm(20);
  shade_test_allocate_garbage(4 << 20);
  shade_collect(); // starts marker helpers (and the scavenger) in this process
  pthread_t thread;
  int errors = !start_thread_ending_later(&thread);
  if (!errors)
    release_and_join(thread);
  _exit(errors);
}

static _Noreturn void collect_and_fork_at_once(void) {
  alarm(40);
  shade_collect(); // the first collection of a child: its threads start now
  pthread_t thread;
  int created = start_thread_ending_later(&thread);
  pid_t grandchild = fork();
  if (grandchild == 0)
    collect_and_exit();
  int status = 0;
  int ok = grandchild > 0 && waitpid(grandchild, &status, 0) == grandchild &&
           WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (created)
    release_and_join(thread);
  _exit(ok && created ? 0 : 1);
}

static void test_fork_while_threads_start(void) {
  for (int i = 0; i < FORK_AT_START_ROUNDS; i++) {
    pthread_t thread;
    int created = start_thread_ending_later(&thread);
    SHADE_TEST_EXPECT(created);
    pid_t child = fork();
    if (child == 0)
      collect_and_fork_at_once();
    if (created)
      release_and_join(thread);
    char when[64];
    snprintf(when, sizeof when, "round %d", i);
    expect_child_succeeds(child, when);
  }
}

// A fork while another thread sweeps. After each collection a thread that allocates sweeps the
// spans it refills from: a sweep claims a span and rebuilds its bitmaps outside every lock, then
// files it or takes it. A child forked in between would inherit that span on no list, never
// swept again: its marks stay set, its objects' contents are never scanned again, and what only
// they reach is freed by the child's second collection (the verifier, on in the child, reports
// it; the checksums show it without the verifier). The structure: 32-byte nodes, a quarter of
// their spans' slots left free so that every refill of the sweeping thread sweeps one of them,
// each node pointing to a 48-byte leaf (another size class: other spans) holding a checksum.
enum { SWEEP_NODES = 60000, SWEEP_ROUNDS = 30, NODE_SIZE = 32, LEAF_SIZE = 48 };

static void ***sweep_nodes; // a global: reachable in parent and child
static atomic_int sweepers_stop;

static uint64_t leaf_value(int i, int word) {
  return (uint64_t)i * 0x9e3779b97f4a7c15ull + (uint64_t)word;
}

static SHADE_TEST_NOINLINE void make_sweep_nodes(void) {
  sweep_nodes = shade_malloc(SWEEP_NODES * sizeof *sweep_nodes);
  for (int i = 0; i < SWEEP_NODES; i++) {
    sweep_nodes[i] = shade_malloc(NODE_SIZE);
    if (i % 3 == 0) {
      void *volatile gap = shade_malloc(NODE_SIZE); // garbage: room in the node's span
      (void)gap;
    }
  }
  for (int i = 0; i < SWEEP_NODES; i++) {
    uint64_t *leaf = shade_malloc(LEAF_SIZE);
    for (int w = 0; w < LEAF_SIZE / 8; w++)
      leaf[w] = leaf_value(i, w);
    sweep_nodes[i][0] = leaf;
  }
}

static int sweep_nodes_intact(void) {
  int intact = 0;
  for (int i = 0; i < SWEEP_NODES; i++) {
    const uint64_t *leaf = sweep_nodes[i][0];
    int ok = shade_is_heap_pointer(leaf) == 1;
    for (int w = 0; ok && w < LEAF_SIZE / 8; w++)
      ok = leaf[w] == leaf_value(i, w);
    intact += ok;
  }
  return intact;
}

static void *allocate_node_sized(void *unused) {
  (void)unused;
  while (!atomic_load(&sweepers_stop)) {
    for (int i = 0; i < 4096; i++) {
      void *volatile garbage = shade_malloc(NODE_SIZE); // refills sweep the nodes' spans
      (void)garbage;
    }
    sched_yield();
  }
  return NULL;
}

static _Noreturn void collect_twice_and_check(void) {
  alarm(20);
  shade_collect();
  shade_test_allocate_garbage(1 << 20);
  shade_collect();
  _exit(sweep_nodes_intact() == SWEEP_NODES ? 0 : 2);
}

static void test_fork_while_sweeping(void) {
  make_sweep_nodes();
  atomic_store(&sweepers_stop, 0);
  pthread_t sweeper;
  SHADE_TEST_EXPECT(shade_pthread_create(&sweeper, NULL, allocate_node_sized, NULL) == 0);
  for (int round = 0; round < SWEEP_ROUNDS; round++) {
    shade_collect(); // every span is unswept now; the sweeper's refills sweep the nodes' spans
    struct timespec pause = {0, (long)(round % 5) * 100 * 1000};
    nanosleep(&pause, NULL);
    pid_t child = fork();
    if (child == 0)
      collect_twice_and_check();
    char when[64];
    snprintf(when, sizeof when, "fork %d while sweeping", round);
    expect_child_succeeds(child, when);
  }
  atomic_store(&sweepers_stop, 1);
  pthread_join(sweeper, NULL);
  shade_collect();
  SHADE_TEST_EXPECT(sweep_nodes_intact() == SWEEP_NODES);
}

int main(void) {
  SHADE_TEST_EXPECT(shade_init(NULL) == 0);
  // TSan checks that a thread holds at most 64 mutexes; Shade's fork handler holds one per span
  // class (340) across fork() so the child inherits consistent lists. Plain and ASan builds run it.
#ifdef SHADE_SANITIZER_THREAD
  (void)test_child_of_single_threaded_program_uses_shade;
  (void)test_child_of_multithreaded_program_uses_shade;
  (void)test_fork_while_threads_start;
  (void)test_fork_while_sweeping;
  shade_test_skip("TSan allows 64 held mutexes; Shade's fork handler holds 340");
#else
  SHADE_TEST_RUN(test_child_of_single_threaded_program_uses_shade);
  SHADE_TEST_RUN(test_child_of_multithreaded_program_uses_shade);
  SHADE_TEST_RUN(test_fork_while_threads_start);
  SHADE_TEST_RUN(test_fork_while_sweeping);
#endif
  return shade_test_finish();
}
