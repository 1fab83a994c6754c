// test_trace.c (conc_trace_concurrent, conc_trace_incremental): what a user sees of concurrent and
// incremental cycles. Run with SHADE_TRACE=gc and SHADE_GC_CPU=abc (ctest sets both):
//   - the malformed SHADE_GC_CPU is reported by name, and Shade still starts (default share);
//   - each cycle prints a trace line naming its mode with the two stop-the-world pauses, the
//     assist time, the workers' CPU time and the bytes allocated black; the cycle-end events give
//     those bytes (heap_black): some cycle has them (the program allocates while marking runs),
//     and none more than it marked;
//   - shade_get_stats counts what happened: concurrent_mark_ns, barrier_flushes, and the marking
//     done by background workers (concurrent), or by allocating threads and the idle worker
//     (incremental; by allocating threads only with SHADE_IDLE_MARKING=off, registered as
//     conc_trace_incremental_no_idle).
// The program replaces entries of a table of small lists through the barrier, so that while
// marking runs the overwritten values fill the barrier buffers.
#include "conc_test.h"

enum { SLOTS = 4096, LIST = 8 };

struct cell {
  struct cell *next;
  uint64_t key;
};

static struct cell **table;

// Cycle-end events of incremental or concurrent cycles (the listener runs on collector threads).
static _Atomic uint64_t black_cycles, black_over_live, black_bytes_max;

static void note_cycle_end(const struct shade_event *e, void *unused) {
  (void)unused;
  const struct shade_event_cycle *c = &e->cycle_info;
  if (c->marking == SHADE_MODE_STW)
    return;
  if (c->heap_black > 0)
    atomic_fetch_add(&black_cycles, 1);
  if (c->heap_black > c->heap_live)
    atomic_fetch_add(&black_over_live, 1);
  uint64_t max = atomic_load(&black_bytes_max);
  while (c->heap_black > max &&
         !atomic_compare_exchange_weak(&black_bytes_max, &max, c->heap_black)) {
  }
}

static struct cell *new_list(uint64_t key) {
  struct cell *head = NULL;
  for (int i = 0; i < LIST; i++) {
    struct cell *c = shade_malloc(sizeof *c);
    c->key = key;
    SHADE_STORE(c->next, head);
    head = c;
  }
  return head;
}

static void replace_lists(uint64_t *rng, int count) {
  for (int k = 0; k < count; k++) {
    int i = (int)(shade_test_random(rng) % SLOTS);
    shade_write(table, (void **)&table[i], new_list((uint64_t)i));
  }
}

// Incremental: whether the idle worker marked since `before`. Its chunks need a CPU while a
// marking lasts, and this heap's markings last about half a millisecond: on a loaded host it may
// need more cycles than the test's own (at most conc_cap(20) seconds more).
static bool idle_worker_marked(const struct shade_stats *before, struct shade_stats *after,
                               uint64_t *rng) {
  double start = shade_test_now(), cap = conc_cap(20.0);
  while (after->mark_worker_ns == before->mark_worker_ns && shade_test_now() - start < cap) {
    replace_lists(rng, 1000);
    *after = shade_test_stats();
  }
  return after->mark_worker_ns > before->mark_worker_ns;
}

static void test_trace_lines_and_stats_follow_the_cycles(void) {
  uint64_t rng = shade_test_seed();
  SHADE_TEST_EXPECTF(shade_test_messages_contain("shade_gc_cpu=abc", NULL),
                     "no message about the malformed SHADE_GC_CPU");
  table = shade_malloc(SLOTS * sizeof *table);
  for (int i = 0; i < SLOTS; i++)
    shade_write(table, (void **)&table[i], new_list((uint64_t)i));
  static const struct shade_event_listener listener = {
      .on_event = note_cycle_end, .types = 1u << SHADE_EVENT_CYCLE_END};
  shade_set_event_listener(&listener, NULL);
  struct shade_stats before = shade_test_stats();
  uint64_t target = (uint64_t)shade_test_scaled(20, 10); // CONC_EXPECT_CYCLES wants 10
  double start = shade_test_now(), cap = conc_cap(20.0);
  while (shade_test_stats().concurrent_cycles - before.concurrent_cycles < target &&
         shade_test_now() - start < cap)
    replace_lists(&rng, 1000);
  struct shade_stats after = shade_test_stats();
  conc_print_stats("trace", &before, &after);
  for (int i = 0; i < SLOTS; i++)
    for (struct cell *c = table[i]; c; c = c->next)
      SHADE_TEST_EXPECTF(c->key == (uint64_t)i, "slot %d holds key %" PRIu64, i, c->key);

  CONC_EXPECT_CYCLES(after.concurrent_cycles - before.concurrent_cycles, target, cap,
                     after.cycles - before.cycles);
  const char *tag = conc_mode == SHADE_MODE_CONCURRENT ? "concurrent:" : "incremental:";
  SHADE_TEST_EXPECTF(shade_test_messages_contain(tag, "stw start"),
                     "no trace line with \"%s\" and the STW phases", tag);
  SHADE_TEST_EXPECTF(shade_test_messages_contain(tag, "ms assist"), "no assist time in the trace");
  SHADE_TEST_EXPECTF(shade_test_messages_contain(tag, "ms worker cpu"),
                     "no worker CPU time in the trace");
  SHADE_TEST_EXPECTF(shade_test_messages_contain(tag, "MB allocated black"),
                     "no bytes allocated black in the trace");
  shade_set_event_listener(NULL, NULL);
  printf("  %" PRIu64 " cycles allocated black, at most %" PRIu64 " bytes\n",
         atomic_load(&black_cycles), atomic_load(&black_bytes_max));
  SHADE_TEST_EXPECTF(atomic_load(&black_cycles) > 0,
                     "no cycle reported bytes allocated black, though the program allocated "
                     "throughout %" PRIu64 " cycles",
                     after.concurrent_cycles - before.concurrent_cycles);
  SHADE_TEST_EXPECTF(atomic_load(&black_over_live) == 0,
                     "%" PRIu64 " cycles reported more bytes allocated black than marked",
                     atomic_load(&black_over_live));
  SHADE_TEST_EXPECT(after.concurrent_mark_ns > before.concurrent_mark_ns);
  SHADE_TEST_EXPECTF(after.barrier_flushes > before.barrier_flushes,
                     "no barrier buffer was flushed in %" PRIu64 " cycles",
                     after.concurrent_cycles - before.concurrent_cycles);
  if (conc_mode == SHADE_MODE_CONCURRENT) {
    SHADE_TEST_EXPECT(after.mark_worker_ns > before.mark_worker_ns);
  } else {
    // Incremental: the allocating thread marks; the idle worker too where this single-threaded
    // program leaves a CPU idle (two or more CPUs), unless SHADE_IDLE_MARKING=off.
    SHADE_TEST_EXPECT(after.mark_assist_ns > before.mark_assist_ns);
    const char *idle = getenv("SHADE_IDLE_MARKING");
    bool idle_off = idle != NULL && (strcmp(idle, "off") == 0 || strcmp(idle, "0") == 0);
    if (idle_off || sysconf(_SC_NPROCESSORS_ONLN) < 2)
      SHADE_TEST_EXPECTF(after.mark_worker_ns == 0, "%" PRIu64 " ns of marking by a worker",
                         after.mark_worker_ns);
    else
      SHADE_TEST_EXPECTF(idle_worker_marked(&before, &after, &rng),
                         "no marking by the idle worker in %" PRIu64 " cycles",
                         after.concurrent_cycles - before.concurrent_cycles);
  }
}

int main(int argc, char **argv) {
  int mode = conc_mode_from_args(argc, argv);
  if (mode == SHADE_MODE_STW)
    shade_test_skip("needs a concurrent or incremental mode");
  shade_test_capture_messages(); // before shade_init: the SHADE_GC_CPU message comes from there
  conc_start(mode, (struct conc_pacing){.gc_percent = 20, .min_heap_goal = (size_t)1 << 20});
  SHADE_TEST_RUN(test_trace_lines_and_stats_follow_the_cycles);
  return shade_test_finish();
}
