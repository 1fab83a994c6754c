// test_stats.c (core_stats, core_stats_gc_percent_off): statistics and the knobs that decide
// when collections run.
//   - shade_get_stats counters move as documented: cycles by one per shade_collect, heap_live
//     follows what is reachable, total_allocated and heap_committed follow allocation, pauses
//     are ordered (last <= max <= total), threads counts registered threads; a collection's
//     start sweeps what the last one left unswept, and its time is recorded;
//   - shade_set_gc_percent returns the previous value; a negative value stops automatic
//     collections, which resume when it is set back;
//   - shade_disable / shade_enable nest; while disabled no automatic cycle runs (64 MiB of
//     garbage later, cycles has not moved) but shade_collect still collects;
//   - with SHADE_GC_PERCENT=off in the environment (run as `core_stats gc-percent-off`) no
//     automatic cycle runs either;
//   - root_bytes reports the roots a collection scanned: a 16 MiB root range raises it by as
//     much, and removed, it comes back down;
//   - the goal follows the live heap down after a peak, unless retain_goal is on (run as
//     `core_stats retain-goal` with SHADE_RETAIN_GOAL=on): then it stays at the peak's;
//   - pointer-free live bytes widen the goal by noscan_weight percent of what others do (run as
//     `core_stats noscan-weight` with SHADE_NOSCAN_WEIGHT=12 too).
#include "test_util.h"

#define GARBAGE ((size_t)64 << 20)

static void test_each_collection_counts_one_cycle(void) {
  shade_disable(); // nothing automatic may interfere with the count
  for (int i = 0; i < 5; i++) {
    uint64_t before = shade_test_stats().cycles;
    shade_collect();
    uint64_t after = shade_test_stats().cycles;
    SHADE_TEST_EXPECTF(after == before + 1, "cycles %" PRIu64 " -> %" PRIu64, before, after);
  }
  shade_enable();
}

// The live memory is held by many global slots, each a short chain: a stale word left on the
// stack by the conservative scan keeps at most one chain (256 KiB), not all of it.
enum { LIVE_SLOTS = 64 };
static void *volatile live_blocks[LIVE_SLOTS];

static SHADE_TEST_NOINLINE void make_live_block(size_t bytes) {
  size_t per_slot = bytes / LIVE_SLOTS;
  for (size_t slot = 0; slot < LIVE_SLOTS; slot++) {
    void **chain = NULL;
    for (size_t done = 0; done < per_slot; done += 4096) {
      void **p = shade_malloc(4096);
      *p = chain;
      chain = p;
    }
    live_blocks[slot] = chain;
  }
}

static void drop_live_block(void) {
  for (size_t slot = 0; slot < LIVE_SLOTS; slot++)
    live_blocks[slot] = NULL;
}

// heap_live tracks what the last collection found reachable.
static void test_heap_live_follows_reachable_memory(void) {
  shade_test_collect_clean();
  uint64_t baseline = shade_test_stats().heap_live;
  make_live_block(16 << 20);
  shade_test_collect_clean();
  struct shade_stats holding = shade_test_stats();
  SHADE_TEST_EXPECTF(holding.heap_live >= baseline + (16u << 20),
                     "heap_live %" PRIu64 " with 16 MiB more held (baseline %" PRIu64 ")",
                     holding.heap_live, baseline);
  SHADE_TEST_EXPECTF(holding.heap_live < baseline + (20u << 20),
                     "heap_live %" PRIu64 " with 16 MiB more held (baseline %" PRIu64 ")",
                     holding.heap_live, baseline);
  SHADE_TEST_EXPECT(holding.heap_committed >= holding.heap_live);
  SHADE_TEST_EXPECT(holding.heap_committed_peak >= holding.heap_committed);
  SHADE_TEST_EXPECT(holding.heap_mapped >= holding.heap_committed);
  SHADE_TEST_EXPECT(holding.heap_in_use >= holding.heap_live);
  SHADE_TEST_EXPECT(holding.heap_goal >= holding.heap_live);
  drop_live_block();
  shade_test_collect_clean();
  struct shade_stats dropped = shade_test_stats();
  SHADE_TEST_EXPECTF(dropped.heap_committed_peak >= holding.heap_committed,
                     "heap_committed_peak %" PRIu64 " below an earlier heap_committed %" PRIu64,
                     dropped.heap_committed_peak, holding.heap_committed);
  SHADE_TEST_EXPECTF(dropped.heap_live < baseline + (2u << 20),
                     "heap_live %" PRIu64 " after dropping 16 MiB (baseline %" PRIu64 ")",
                     dropped.heap_live, baseline);
}

// total_allocated grows by what is allocated; heap_committed covers live objects.
static void test_allocation_counters_grow(void) {
  struct shade_stats before = shade_test_stats();
  shade_test_allocate_garbage(8 << 20);
  struct shade_stats after = shade_test_stats();
  SHADE_TEST_EXPECTF(after.total_allocated - before.total_allocated >= (7u << 20),
                     "total_allocated grew by %" PRIu64 " for 8 MiB",
                     after.total_allocated - before.total_allocated);
  SHADE_TEST_EXPECT(after.heap_committed > 0);
  SHADE_TEST_EXPECT(after.markers >= 1);
}

// Pauses are recorded and ordered.
static void test_pause_times_are_recorded(void) {
  make_live_block(4 << 20);
  shade_collect();
  struct shade_stats s = shade_test_stats();
  SHADE_TEST_EXPECT(s.last_pause_ns > 0);
  SHADE_TEST_EXPECT(s.pause_max_ns >= s.last_pause_ns);
  SHADE_TEST_EXPECT(s.pause_total_ns >= s.pause_max_ns);
  SHADE_TEST_EXPECT(s.mark_total_ns > 0);
  drop_live_block();
}

// A collection right after another finds every span that one left unswept (nothing allocated
// meanwhile swept them): its start sweeps them, and the time is recorded.
static void test_sweep_termination_is_recorded(void) {
  shade_test_allocate_garbage(16 << 20);
  shade_collect(); // leaves the garbage's spans unswept
  struct shade_stats before = shade_test_stats();
  shade_collect();
  struct shade_stats after = shade_test_stats();
  SHADE_TEST_EXPECTF(after.sweep_termination_pages > before.sweep_termination_pages,
                     "sweep termination swept nothing (%" PRIu64 " pages in all)",
                     after.sweep_termination_pages);
  SHADE_TEST_EXPECT(after.sweep_termination_max_ns > 0);
  SHADE_TEST_EXPECT(after.sweep_termination_max_ns >= before.sweep_termination_max_ns);
}

static void *count_threads(void *unused) {
  (void)unused;
  return (void *)(uintptr_t)shade_test_stats().threads;
}

static void test_threads_counts_registered_threads(void) {
  SHADE_TEST_EXPECT(shade_test_stats().threads == 1);
  pthread_t thread;
  void *seen;
  SHADE_TEST_EXPECT(shade_pthread_create(&thread, NULL, count_threads, NULL) == 0);
  pthread_join(thread, &seen);
  SHADE_TEST_EXPECTF(seen == (void *)2, "a second thread saw threads = %lu",
                     (unsigned long)(uintptr_t)seen);
}

static uint64_t cycles_while_allocating_garbage(size_t bytes) {
  uint64_t before = shade_test_stats().cycles;
  shade_test_allocate_garbage(bytes);
  return shade_test_stats().cycles - before;
}

static void test_gc_percent_returns_old_value_and_negative_stops_collection(void) {
  int initial = shade_test_stats().gc_percent;
  SHADE_TEST_EXPECTF(initial == 100, "default gc_percent %d", initial);
  SHADE_TEST_EXPECT(shade_set_gc_percent(50) == initial);
  SHADE_TEST_EXPECT(shade_test_stats().gc_percent == 50);
  SHADE_TEST_EXPECT(shade_set_gc_percent(200) == 50);
  SHADE_TEST_EXPECT(shade_set_gc_percent(-1) == 200);
  uint64_t cycles = cycles_while_allocating_garbage(GARBAGE);
  SHADE_TEST_EXPECTF(cycles == 0, "%" PRIu64 " cycles with gc_percent -1", cycles);
  uint64_t before = shade_test_stats().cycles;
  shade_collect(); // explicit collections still run
  SHADE_TEST_EXPECT(shade_test_stats().cycles == before + 1);
  SHADE_TEST_EXPECT(shade_set_gc_percent(initial) < 0);
  cycles = cycles_while_allocating_garbage(GARBAGE);
  SHADE_TEST_EXPECTF(cycles >= 2, "%" PRIu64 " cycles once gc_percent is back at %d", cycles,
                     initial);
}

// root_bytes follows the roots: a root range counts while it is registered. (The stacks' part
// moves a little from one collection to the next: SLACK.)
static void test_root_bytes_follow_the_roots(void) {
  const uint64_t slack = 64 << 10;
  size_t bytes = (size_t)16 << 20;
  char *area = calloc(1, bytes); // not Shade's: a root range of zeros
  SHADE_TEST_EXPECT(area != NULL);
  shade_test_collect_clean();
  struct shade_stats before = shade_test_stats();
  shade_add_roots(area, area + bytes);
  shade_collect();
  struct shade_stats with = shade_test_stats();
  SHADE_TEST_EXPECTF(with.root_bytes + slack >= before.root_bytes + bytes,
                     "root_bytes %" PRIu64 " with a 16 MiB range added (%" PRIu64 " before)",
                     with.root_bytes, before.root_bytes);
  shade_remove_roots(area, area + bytes);
  shade_collect();
  struct shade_stats without = shade_test_stats();
  SHADE_TEST_EXPECTF(without.root_bytes + bytes <= with.root_bytes + slack,
                     "root_bytes %" PRIu64 " after removing the range (%" PRIu64 " with it)",
                     without.root_bytes, with.root_bytes);
  free(area);
}

// After a 32 MiB peak of live memory, the goal falls with the live heap (retain_goal off) or
// stays where the peak put it (on).
static void check_goal_after_a_peak(bool retained) {
  shade_test_collect_clean();
  make_live_block(32 << 20);
  shade_test_collect_clean();
  struct shade_stats peak = shade_test_stats();
  SHADE_TEST_EXPECT(peak.heap_goal >= (uint64_t)32 << 20);
  drop_live_block();
  shade_test_collect_clean();
  struct shade_stats after = shade_test_stats();
  SHADE_TEST_EXPECT_EQ(after.retain_goal, retained ? 1 : 0);
  if (retained)
    SHADE_TEST_EXPECTF(after.heap_goal >= peak.heap_goal,
                       "goal %" PRIu64 " after the peak, %" PRIu64 " at it (retained)",
                       after.heap_goal, peak.heap_goal);
  else
    SHADE_TEST_EXPECTF(after.heap_goal < peak.heap_goal / 2,
                       "goal %" PRIu64 " after the peak, %" PRIu64 " at it (not retained)",
                       after.heap_goal, peak.heap_goal);
}

static void test_goal_follows_the_live_heap_down(void) { check_goal_after_a_peak(false); }
static void test_goal_stays_after_a_peak(void) { check_goal_after_a_peak(true); }

// Pointer-free bytes count noscan_weight percent of what other bytes count in the growth the
// goal allows: with 8 MiB of pointerful and 32 MiB of pointer-free live data and gc_percent 100,
// the goal is about 8 + 32 x weight/100 MiB above the live heap (40 MiB at the default 100; 11.8
// at 12, bdwgc's pace: run as `core_stats noscan-weight` with SHADE_NOSCAN_WEIGHT=12).
static void *volatile atomic_blocks[64]; // (volatile: stores nothing reads stay)

static SHADE_TEST_NOINLINE void make_atomic_blocks(void) {
  for (size_t i = 0; i < 64; i++) {
    void *block = shade_malloc_atomic(512 << 10);
    if (block != NULL)
      memset(block, 0x5b, 512 << 10);
    atomic_blocks[i] = block;
  }
}

static void test_pointer_free_bytes_count_by_their_weight(void) {
  int old = shade_set_gc_percent(100);
  make_live_block(8 << 20);
  make_atomic_blocks();
  shade_test_collect_clean();
  struct shade_stats s = shade_test_stats();
  uint64_t noscan = (uint64_t)32 << 20, runway = s.heap_goal - s.heap_live;
  double expected = (double)(s.heap_live - noscan) + (double)noscan * s.noscan_weight / 100.0;
  fprintf(stderr, "  live %.1f MiB (%.1f pointer-free), goal %.1f MiB, weight %d%%: runway %.1f "
          "MiB, expected %.1f\n", s.heap_live / 1048576.0, s.heap_live_noscan / 1048576.0,
          s.heap_goal / 1048576.0, s.noscan_weight, runway / 1048576.0, expected / 1048576.0);
  SHADE_TEST_EXPECTF(s.heap_live_noscan >= noscan && s.heap_live_noscan < noscan + (1u << 20),
                     "%" PRIu64 " pointer-free bytes marked, 32 MiB held", s.heap_live_noscan);
  SHADE_TEST_EXPECTF((double)runway > expected * 0.9 && (double)runway < expected * 1.1 + 1048576,
                     "the goal is %" PRIu64 " bytes above the live heap, not about %.0f",
                     runway, expected);
  for (size_t i = 0; i < 64; i++)
    atomic_blocks[i] = NULL;
  drop_live_block();
  shade_set_gc_percent(old);
}

// A smaller gc_percent collects more often.
static void test_smaller_gc_percent_collects_more_often(void) {
  make_live_block(8 << 20);
  int old = shade_set_gc_percent(25);
  uint64_t often = cycles_while_allocating_garbage(GARBAGE);
  shade_set_gc_percent(400);
  uint64_t rarely = cycles_while_allocating_garbage(GARBAGE);
  shade_set_gc_percent(old);
  SHADE_TEST_EXPECTF(often > rarely, "%" PRIu64 " cycles at 25%%, %" PRIu64 " at 400%%", often,
                     rarely);
  drop_live_block();
}

static void test_disable_and_enable_nest(void) {
  shade_disable();
  shade_disable();
  uint64_t cycles = cycles_while_allocating_garbage(GARBAGE);
  SHADE_TEST_EXPECTF(cycles == 0, "%" PRIu64 " cycles while disabled twice", cycles);
  shade_enable();
  cycles = cycles_while_allocating_garbage(GARBAGE);
  SHADE_TEST_EXPECTF(cycles == 0, "%" PRIu64 " cycles while still disabled once", cycles);
  uint64_t before = shade_test_stats().cycles;
  shade_collect();
  SHADE_TEST_EXPECTF(shade_test_stats().cycles == before + 1, "shade_collect while disabled");
  shade_enable();
  cycles = cycles_while_allocating_garbage(GARBAGE);
  SHADE_TEST_EXPECTF(cycles >= 2, "%" PRIu64 " cycles once enabled again", cycles);
}

// Started with SHADE_GC_PERCENT=off: automatic collection is off from the start.
static int gc_percent_off_from_environment(void) {
  SHADE_TEST_EXPECT(shade_init(NULL) == 0);
  struct shade_stats s = shade_test_stats();
  SHADE_TEST_EXPECTF(s.gc_percent < 0, "gc_percent %d with SHADE_GC_PERCENT=off", s.gc_percent);
  uint64_t cycles = cycles_while_allocating_garbage(GARBAGE);
  SHADE_TEST_EXPECTF(cycles == 0, "%" PRIu64 " cycles with SHADE_GC_PERCENT=off", cycles);
  shade_collect();
  SHADE_TEST_EXPECT(shade_test_stats().cycles == s.cycles + 1);
  SHADE_TEST_EXPECT(shade_set_gc_percent(100) < 0);
  cycles = cycles_while_allocating_garbage(GARBAGE);
  SHADE_TEST_EXPECTF(cycles >= 2, "%" PRIu64 " cycles after shade_set_gc_percent(100)", cycles);
  return shade_test_finish();
}

// Started with SHADE_NOSCAN_WEIGHT=12.
static int noscan_weight_from_environment(void) {
  SHADE_TEST_EXPECT(shade_init(NULL) == 0);
  SHADE_TEST_EXPECT_EQ(shade_test_stats().noscan_weight, 12);
  SHADE_TEST_RUN(test_pointer_free_bytes_count_by_their_weight);
  return shade_test_finish();
}

// Started with SHADE_RETAIN_GOAL=on.
static int retain_goal_from_environment(void) {
  SHADE_TEST_EXPECT(shade_init(NULL) == 0);
  SHADE_TEST_RUN(test_goal_stays_after_a_peak);
  return shade_test_finish();
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "gc-percent-off") == 0)
    return gc_percent_off_from_environment();
  if (argc > 1 && strcmp(argv[1], "retain-goal") == 0)
    return retain_goal_from_environment();
  if (argc > 1 && strcmp(argv[1], "noscan-weight") == 0)
    return noscan_weight_from_environment();
  unsetenv("SHADE_RETAIN_GOAL");
  unsetenv("SHADE_NOSCAN_WEIGHT");
  unsetenv("SHADE_GC_PERCENT");
  SHADE_TEST_EXPECT(shade_init(NULL) == 0);
  SHADE_TEST_RUN(test_each_collection_counts_one_cycle);
  SHADE_TEST_RUN(test_heap_live_follows_reachable_memory);
  SHADE_TEST_RUN(test_allocation_counters_grow);
  SHADE_TEST_RUN(test_pause_times_are_recorded);
  SHADE_TEST_RUN(test_sweep_termination_is_recorded);
  SHADE_TEST_RUN(test_threads_counts_registered_threads);
  SHADE_TEST_RUN(test_gc_percent_returns_old_value_and_negative_stops_collection);
  SHADE_TEST_RUN(test_smaller_gc_percent_collects_more_often);
  SHADE_TEST_RUN(test_disable_and_enable_nest);
  SHADE_TEST_RUN(test_root_bytes_follow_the_roots);
  SHADE_TEST_RUN(test_goal_follows_the_live_heap_down);
  SHADE_TEST_EXPECT_EQ(shade_test_stats().noscan_weight, 100);
  SHADE_TEST_RUN(test_pointer_free_bytes_count_by_their_weight);
  return shade_test_finish();
}
