// test_idle_return.c (memory_idle_return): the scavenger's idle rule. With the heap under its
// target (goal + 10%: a large buffer stays live) and idle collections off, a free page run goes
// back to the OS once it has been unused for SHADE_SCAVENGE_IDLE_MS (ctest sets 300 ms), not
// before, and so does one freed after the first went back (the page heap skips its search while
// no free run can be old enough, by a bound it keeps on their free times: a bound left too high
// would keep the second run for ever). Run with SHADE_IDLE_GC_MS=off.
#include "memory_test.h"

#define KEPT_BYTES ((size_t)96 << 20)
#define DROPPED_BYTES ((size_t)32 << 20)
#define IDLE_SECONDS 0.3

static void *volatile kept; // a root: the goal stays above what is resident

static __attribute__((noinline)) shade_test_hidden fill(size_t bytes) {
  unsigned char *buffer = shade_malloc_atomic(bytes);
  SHADE_TEST_EXPECT(buffer != NULL);
  if (buffer != NULL)
    memset(buffer, 0x5a, bytes);
  return shade_test_hide(buffer);
}

static __attribute__((noinline)) int reachable(shade_test_hidden buffer) {
  return shade_is_heap_pointer(shade_test_unhide(buffer)) == 1;
}

// Fills and drops a buffer, collecting until it is freed (a stale word may keep one: then a new
// one is tried). Returns total_released just after the collection that freed it, or UINT64_MAX.
static uint64_t drop_one(void) {
  for (int attempt = 0; attempt < 4; attempt++) {
    shade_test_hidden buffer = fill(DROPPED_BYTES);
    shade_test_clear_stack();
    shade_collect();
    if (!reachable(buffer))
      return shade_test_stats().total_released;
    fprintf(stderr, "  attempt %d: the buffer is still reachable (a stale word)\n", attempt);
  }
  return UINT64_MAX;
}

// Waits until total_released passes `from` by half the buffer; returns the seconds it took, or -1.
static double wait_for_release(uint64_t from, double cap) {
  double start = shade_test_now();
  while (shade_test_now() - start < cap) {
    if (shade_test_stats().total_released >= from + DROPPED_BYTES / 2)
      return shade_test_now() - start;
    sleep_seconds(0.01);
  }
  return -1;
}

static void test_unused_runs_go_back_after_the_idle_time(void) {
  kept = shade_test_unhide(fill(KEPT_BYTES));
  for (int round = 1; round <= 2; round++) {
    uint64_t released = drop_one();
    if (released == UINT64_MAX)
      shade_test_skip("every buffer stayed reachable from a stale word");
    double early = wait_for_release(released, IDLE_SECONDS / 3);
    double after = early >= 0 ? early : wait_for_release(released, 10.0);
    struct shade_stats s = shade_test_stats();
    fprintf(stderr, "  round %d: returned after %.2f s (idle time %.1f s); goal %.1f MB, resident "
            "%.1f MB, %.1f MB returned in all, %llu idle collections\n", round,
            early >= 0 ? early : after + IDLE_SECONDS / 3, IDLE_SECONDS, s.heap_goal / MB,
            s.heap_resident / MB, s.total_released / MB,
            (unsigned long long)s.idle_collections);
    SHADE_TEST_EXPECTF(s.idle_collections == 0, "%llu idle collections (SHADE_IDLE_GC_MS=off?)",
                       (unsigned long long)s.idle_collections);
    SHADE_TEST_EXPECTF(early < 0, "round %d: returned after %.3f s, before the %.1f s idle time",
                       round, early, IDLE_SECONDS);
    SHADE_TEST_EXPECTF(after >= 0, "round %d: the free run was not returned within 10 s", round);
  }
  SHADE_TEST_EXPECT(shade_is_heap_pointer(kept) == 1);
}

int main(void) {
  shade_init(NULL);
  SHADE_TEST_RUN(test_unused_runs_go_back_after_the_idle_time);
  return shade_test_finish();
}
