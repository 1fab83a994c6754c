// The environment variables of issue 5 (set by CMake: SHADE_MEMORY_LIMIT=512MiB,
// SHADE_HEAP_LIMIT=2GiB, SHADE_PERIODIC_GC_MS=100) reach the collector; the limit calls return
// the old value; periodic collections run in a program that only sleeps (in concurrent mode,
// memory_options_concurrent, as concurrent cycles).
#include "memory_test.h"

static void test_sizes_from_the_environment(void) {
  struct shade_stats stats;
  shade_get_stats(&stats);
  EXPECT(stats.memory_limit == (uint64_t)512 << 20);
  EXPECT(stats.heap_limit == (uint64_t)2 << 30);
  EXPECT(shade_set_memory_limit((size_t)1 << 30) == (size_t)512 << 20);
  EXPECT(shade_set_memory_limit(0) == (size_t)1 << 30);
  shade_get_stats(&stats);
  EXPECT(stats.memory_limit == 0);
  EXPECT(shade_set_heap_limit(0) == (size_t)2 << 30);
}

static void test_periodic_collections_run_while_the_program_sleeps(void) {
  struct shade_stats before, after;
  shade_get_stats(&before);
  double seconds = MEMORY_TEST_SANITIZED ? 2.0 : 0.8; // (sanitizers slow each collection)
  sleep_seconds(seconds);
  shade_get_stats(&after);
  fprintf(stderr, "  %llu cycles, %llu periodic collections in %.1f s\n",
          (unsigned long long)(after.cycles - before.cycles),
          (unsigned long long)after.periodic_collections, seconds);
  unsigned expected = MEMORY_TEST_SANITIZED ? 1 : 3; // sanitizers make each collection slow
  EXPECT(after.cycles - before.cycles >= expected);
  EXPECT(after.periodic_collections >= expected);
  if (after.mode == SHADE_MODE_CONCURRENT) { // (memory_options_concurrent) no STW marking
    EXPECT(after.concurrent_cycles - before.concurrent_cycles >= expected);
    // one cycle per periodic collection (the program is idle: no paced cycle, none under way)
    EXPECTF(after.concurrent_cycles - before.concurrent_cycles <=
                after.periodic_collections - before.periodic_collections + 1,
            "%llu cycles for %llu periodic collections",
            (unsigned long long)(after.concurrent_cycles - before.concurrent_cycles),
            (unsigned long long)(after.periodic_collections - before.periodic_collections));
    EXPECT(after.cycles - before.cycles == after.concurrent_cycles - before.concurrent_cycles);
  }
}

int main(void) {
  shade_init(&(struct shade_options){.write_barrier = 1}); // no pointer stores: SHADE_MODE may choose
  (void)shade_malloc(100);
  RUN(test_sizes_from_the_environment);
  RUN(test_periodic_collections_run_while_the_program_sleeps);
  return memory_test_finish();
}
