// The memory environment variables (set by CMake: SHADE_MEMORY_LIMIT=512MiB,
// SHADE_HEAP_LIMIT=2GiB, SHADE_PERIODIC_GC_MS=100) reach the collector; the limit calls return
// the old value; periodic collections run in a program that only sleeps (in concurrent mode,
// memory_options_concurrent, as concurrent cycles).
#include "memory_test.h"

static void test_sizes_from_the_environment(void) {
  struct shade_stats stats;
  shade_get_stats(&stats);
  SHADE_TEST_EXPECT(stats.memory_limit == (uint64_t)512 << 20);
  SHADE_TEST_EXPECT(stats.heap_limit == (uint64_t)2 << 30);
  SHADE_TEST_EXPECT(shade_set_memory_limit((size_t)1 << 30) == (size_t)512 << 20);
  SHADE_TEST_EXPECT(shade_set_memory_limit(0) == (size_t)1 << 30);
  shade_get_stats(&stats);
  SHADE_TEST_EXPECT(stats.memory_limit == 0);
  SHADE_TEST_EXPECT(shade_set_heap_limit(0) == (size_t)2 << 30);
}

static void test_periodic_collections_run_while_the_program_sleeps(void) {
  struct shade_stats before, after;
  shade_get_stats(&before);
  // 0.8 s (2 s under the sanitizers, which slow each collection), and longer, up to 10 s, on a
  // host that runs the scavenger thread late.
  double seconds = SHADE_TEST_SANITIZED ? 2.0 : 0.8, start = shade_test_now();
  unsigned expected = SHADE_TEST_SANITIZED ? 1 : 3;
  do {
    sleep_seconds(0.1);
    shade_get_stats(&after);
  } while (shade_test_now() - start < 10.0 &&
           (shade_test_now() - start < seconds || after.periodic_collections < expected ||
            after.cycles - before.cycles < expected));
  seconds = shade_test_now() - start;
  fprintf(stderr, "  %llu cycles, %llu periodic collections in %.1f s\n",
          (unsigned long long)(after.cycles - before.cycles),
          (unsigned long long)after.periodic_collections, seconds);
  SHADE_TEST_EXPECT(after.cycles - before.cycles >= expected);
  SHADE_TEST_EXPECT(after.periodic_collections >= expected);
  if (after.mode == SHADE_MODE_CONCURRENT) { // (memory_options_concurrent) no STW marking
    SHADE_TEST_EXPECT(after.concurrent_cycles - before.concurrent_cycles >= expected);
    // one cycle per periodic collection (the program is idle: no paced cycle, none under way)
    SHADE_TEST_EXPECTF(after.concurrent_cycles - before.concurrent_cycles <=
                after.periodic_collections - before.periodic_collections + 1,
                       "%llu cycles for %llu periodic collections",
                       (unsigned long long)(after.concurrent_cycles - before.concurrent_cycles),
                       (unsigned long long)(after.periodic_collections -
                                            before.periodic_collections));
    // Every cycle concurrent (no stop-the-world marking). The two counters are read one after
    // the other while periodic cycles go on: a cycle ending between the reads counts in one only.
    uint64_t cycles = after.cycles - before.cycles;
    uint64_t concurrent = after.concurrent_cycles - before.concurrent_cycles;
    SHADE_TEST_EXPECTF(cycles <= concurrent + 1 && concurrent <= cycles + 1,
                       "%llu cycles, %llu of them concurrent", (unsigned long long)cycles,
                       (unsigned long long)concurrent);
  }
}

int main(void) {
  shade_init(&(struct shade_options){.write_barrier = 1}); // no pointer stores: SHADE_MODE may choose
  (void)shade_malloc(100);
  SHADE_TEST_RUN(test_sizes_from_the_environment);
  SHADE_TEST_RUN(test_periodic_collections_run_while_the_program_sleeps);
  return shade_test_finish();
}
