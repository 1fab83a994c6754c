// test_bailout.c (conc_bailout_concurrent, conc_bailout_incremental): the bailout worklist.
// Objects whose type says SHADE_TYPE_SCAN_STOPPED are scanned only with the world stopped (mark
// termination finishes them); other typed objects are scanned while the program runs.
//
//   - a registered "ticker" thread adds one to a counter without pause, so it moves whenever
//     the world is not stopped;
//   - two types share one trace callback, "stopped" (SHADE_TYPE_SCAN_STOPPED) and "free" (no
//     flag); the callback reads the counter, waits 20 us, reads it again: a change means the
//     program ran during that trace;
//   - CHAINS chains of each type hang from a global table; each node holds its successor and an
//     atomic payload with a check word, which only the trace callback reports;
//   - the main thread allocates garbage until enough concurrent/incremental cycles ran.
// Expected: stopped-type traces ran and never saw the counter move, and bailout_objects grew by
// at least one per cycle;
// free-type traces saw it move at least once (the test can tell the difference); every chain is
// intact (and the checkmark, SHADE_VERIFY=1, found nothing missed).
#include "conc_test.h"

#include <stdatomic.h>

enum { CHAINS = 16, CHAIN_NODES = 64, TARGET_CYCLES = 40 };

struct tnode {
  struct tnode *next;
  uint64_t *payload; // shade_malloc_atomic: [0] = check word
  uint64_t key;
};

static atomic_ulong ticks;
static atomic_int stop_ticker;
static atomic_ulong traces[2], moved[2]; // [0] stopped type, [1] free type

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

// Runs on marking threads (CONC_NO_TSAN: conc_test.h).
CONC_NO_TSAN static void trace_node(int which, void *object, shade_visit_fn visit, void *context) {
  unsigned long before = atomic_load(&ticks);
  for (uint64_t start = now_ns(); now_ns() - start < 20000;)
    ;
  if (atomic_load(&ticks) != before)
    atomic_fetch_add(&moved[which], 1);
  atomic_fetch_add(&traces[which], 1);
  struct tnode *volatile *words = (struct tnode *volatile *)object;
  void *next = words[0], *payload = words[1];
  if (next != NULL)
    visit(next, context);
  if (payload != NULL)
    visit(payload, context);
}
static void trace_stopped(void *object, size_t size, shade_visit_fn visit, void *context) {
  (void)size;
  trace_node(0, object, visit, context);
}
static void trace_free(void *object, size_t size, shade_visit_fn visit, void *context) {
  (void)size;
  trace_node(1, object, visit, context);
}
static const struct shade_type stopped_type = {"stopped node", sizeof(struct tnode), NULL,
                                               trace_stopped, SHADE_TYPE_SCAN_STOPPED};
static const struct shade_type free_type = {"free node", sizeof(struct tnode), NULL, trace_free,
                                            0};

static struct tnode **table; // a Shade object: 2 * CHAINS chain heads (global: SHADE_STORE)

static struct tnode *build_chain(const struct shade_type *type, uint64_t base) {
  struct tnode *head = NULL;
  for (uint64_t i = 0; i < CHAIN_NODES; i++) {
    struct tnode *n = shade_malloc_typed(sizeof *n, type);
    uint64_t *payload = shade_malloc_atomic(2 * sizeof(uint64_t));
    SHADE_TEST_EXPECT(n != NULL && payload != NULL);
    payload[0] = conc_hash(base + i);
    n->key = (base + i) | CONC_TAG;
    shade_write(n, (void **)&n->payload, payload);
    shade_write(n, (void **)&n->next, head);
    head = n;
  }
  return head;
}

static long check_chain(const struct tnode *n, uint64_t base) {
  long bad = 0;
  for (uint64_t i = CHAIN_NODES; i-- > 0; n = n->next) {
    if (n == NULL)
      return bad + 1 + (long)i;
    if (n->key != ((base + i) | CONC_TAG) || n->payload == NULL ||
        n->payload[0] != conc_hash(base + i))
      bad++;
  }
  return bad + (n != NULL);
}

static void *ticker(void *unused) {
  (void)unused;
  while (!atomic_load_explicit(&stop_ticker, memory_order_relaxed))
    atomic_fetch_add_explicit(&ticks, 1, memory_order_relaxed);
  return NULL;
}

static void test_scan_stopped_objects_wait_for_mark_termination(void) {
  uint64_t rng = shade_test_seed();
  SHADE_STORE(table, shade_malloc(2 * CHAINS * sizeof *table));
  SHADE_TEST_EXPECT(table != NULL);
  for (int c = 0; c < 2 * CHAINS; c++)
    shade_write(table, (void **)&table[c],
                build_chain(c < CHAINS ? &stopped_type : &free_type,
                            (uint64_t)c * CHAIN_NODES * 2));
  pthread_t thread;
  SHADE_TEST_EXPECT(shade_pthread_create(&thread, NULL, ticker, NULL) == 0);

  struct shade_stats before = shade_test_stats();
  double cap = 20 * CONC_SLOWDOWN, start = shade_test_now();
  uint64_t target = (uint64_t)(TARGET_CYCLES * shade_test_scale()) + 3;
  struct shade_stats now = before;
  while (now.concurrent_cycles - before.concurrent_cycles < target &&
         shade_test_now() - start < cap) {
    for (int i = 0; i < 256; i++)
      conc_garbage(&rng);
    now = shade_test_stats();
  }
  atomic_store(&stop_ticker, 1);
  pthread_join(thread, NULL);
  conc_print_stats("bailout", &before, &now);
  unsigned long stopped_traces = atomic_load(&traces[0]), free_traces = atomic_load(&traces[1]);
  fprintf(stderr,
          "stopped type: %lu traces, %lu saw the ticker move; free type: %lu traces, %lu saw it "
          "move; bailout_objects %" PRIu64 "; ticks %lu\n",
          stopped_traces, atomic_load(&moved[0]), free_traces, atomic_load(&moved[1]),
          now.bailout_objects - before.bailout_objects, atomic_load(&ticks));
  SHADE_TEST_EXPECTF(now.concurrent_cycles - before.concurrent_cycles >= 3,
                     "only %" PRIu64 " concurrent/incremental cycles",
                     now.concurrent_cycles - before.concurrent_cycles);
  SHADE_TEST_EXPECT(stopped_traces > 0);
  SHADE_TEST_EXPECTF(atomic_load(&moved[0]) == 0,
                     "%lu traces of a SHADE_TYPE_SCAN_STOPPED type ran while the program ran",
                     atomic_load(&moved[0]));
  // (a chain's first node reached while the program runs bails out; the rest of its chain is
  // reached from it at mark termination, so at least one bailout per cycle)
  SHADE_TEST_EXPECTF(now.bailout_objects - before.bailout_objects >=
                         now.concurrent_cycles - before.concurrent_cycles,
                     "bailout_objects grew by %" PRIu64 " in %" PRIu64 " cycles",
                     now.bailout_objects - before.bailout_objects,
                     now.concurrent_cycles - before.concurrent_cycles);
  SHADE_TEST_EXPECTF(atomic_load(&moved[1]) > 0,
                     "no trace of the free type saw the program run (%lu traces): the test cannot "
                     "tell", free_traces);
  long bad = 0;
  for (int c = 0; c < 2 * CHAINS; c++)
    bad += check_chain(table[c], (uint64_t)c * CHAIN_NODES * 2);
  SHADE_TEST_EXPECTF(bad == 0, "%ld damaged or missing nodes", bad);
}

int main(int argc, char **argv) {
  conc_start(conc_mode_from_args(argc, argv),
             (struct conc_pacing){.gc_percent = 10, .min_heap_goal = (size_t)2 << 20});
  SHADE_TEST_RUN(test_scan_stopped_objects_wait_for_mark_termination);
  return shade_test_finish();
}
