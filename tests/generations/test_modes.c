// test_modes.c (gen_modes_stw, gen_modes_concurrent): the flags of shade_collect_generation.
//   stw:        generations on. SHADE_COLLECT_NONBLOCKING of gen2 is a blocking full collection
//               (counted when the call returns). SHADE_COLLECT_OPTIMIZED right after a collection
//               does nothing; after more than gen0's budget was allocated it collects gen0,
//               gen1 once gen0 collections promoted more than half of gen1's budget (a gen1
//               collection, not a full one), and gen2 after more than half the way to the heap
//               goal.
//   concurrent: options.mode = SHADE_MODE_CONCURRENT (the barrier declared; this program stores
//               no pointer into the heap). Not generational (yet): stats.generational is 0.
//               SHADE_COLLECT_NONBLOCKING of gen2 returns and a concurrent cycle completes soon
//               after; OPTIMIZED right after a collection does nothing.
#include "gen_test.h"

static int mode = SHADE_MODE_STW;

static void wait_ms(long ms) {
  struct timespec nap = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&nap, NULL);
}

static void test_nonblocking_full_collection(void) {
  struct shade_stats before = shade_test_stats();
  uint64_t c2 = shade_collection_count(2);
  double start = shade_test_now();
  shade_collect_generation(2, SHADE_COLLECT_NONBLOCKING);
  double returned = shade_test_now() - start;
  if (mode == SHADE_MODE_STW) {
    SHADE_TEST_EXPECTF(shade_collection_count(2) == c2 + 1,
                       "stw: count(2) %" PRIu64 " after a NONBLOCKING gen2 request, expected %" PRIu64
                       " (a blocking full collection)", shade_collection_count(2), c2 + 1);
    SHADE_TEST_EXPECT_EQ(shade_test_stats().cycles, before.cycles + 1);
    return;
  }
  // concurrent: a background cycle starts; it completes while this thread waits
  double cap = 10.0 * (SHADE_TEST_SANITIZED ? 8 : 1);
  struct shade_stats now = shade_test_stats();
  while (now.concurrent_cycles == before.concurrent_cycles && shade_test_now() - start < cap) {
    wait_ms(2);
    shade_safepoint();
    now = shade_test_stats();
  }
  fprintf(stderr, "NONBLOCKING returned after %.3f ms; concurrent cycle done after %.3f ms\n",
          returned * 1e3, (shade_test_now() - start) * 1e3);
  SHADE_TEST_EXPECTF(now.concurrent_cycles > before.concurrent_cycles,
                     "no concurrent cycle completed within %.0f s of a NONBLOCKING gen2 request "
                     "(concurrent cycles %" PRIu64 ", cycles %" PRIu64 " -> %" PRIu64 ")",
                     cap, now.concurrent_cycles, before.cycles, now.cycles);
  SHADE_TEST_EXPECT(shade_collection_count(2) > c2);
}

static SHADE_TEST_NOINLINE void garbage(size_t bytes) {
  shade_test_allocate_garbage(bytes);
  shade_test_clear_stack();
}

static void **volatile kept_chunks; // a global: what promote_into_gen1 keeps

// Keeps `bytes` (and a little more) in 64 KiB chunks through a gen0 collection: promoted to gen1.
static SHADE_TEST_NOINLINE void promote_into_gen1(size_t bytes) {
  size_t chunks = bytes / 65536 + 2;
  void **list = shade_malloc(chunks * sizeof *list);
  for (size_t i = 0; i < chunks; i++)
    list[i] = shade_malloc_atomic(65536);
  kept_chunks = list;
  shade_collect_generation(0, SHADE_COLLECT_FORCED);
}

static void test_optimized_collects_only_when_worthwhile(void) {
  shade_disable(); // only explicit collections: the test decides what was allocated since
  for (int g = 0; g <= 2; g++) {
    shade_collect();
    uint64_t c0 = shade_collection_count(0);
    shade_collect_generation(g, SHADE_COLLECT_OPTIMIZED);
    SHADE_TEST_EXPECTF(shade_collection_count(0) == c0, "OPTIMIZED gen%d right after a collection "
                       "collected", g);
  }
  struct shade_stats s = shade_test_stats();
  if (mode == SHADE_MODE_STW) {
    SHADE_TEST_EXPECT(s.generational == 1);
    shade_collect_generation(0, SHADE_COLLECT_FORCED);
    uint64_t budget = shade_test_stats().gen0_budget;
    garbage((size_t)budget / 8); // an eighth of the budget: not worth it
    uint64_t c0 = shade_collection_count(0);
    shade_collect_generation(0, SHADE_COLLECT_OPTIMIZED);
    SHADE_TEST_EXPECTF(shade_collection_count(0) == c0, "OPTIMIZED gen0 after %" PRIu64
                       " bytes (budget %" PRIu64 ") collected", budget / 8, budget);
    garbage((size_t)budget + (budget / 4)); // more than the budget
    shade_collect_generation(0, SHADE_COLLECT_OPTIMIZED);
    SHADE_TEST_EXPECTF(shade_collection_count(0) == c0 + 1 && shade_collection_count(1) ==
                       shade_collection_count(1), "OPTIMIZED gen0 after more than the budget "
                       "(%" PRIu64 " bytes): count(0) %" PRIu64 ", expected %" PRIu64, budget,
                       shade_collection_count(0), c0 + 1);
    // a young one, not a full one
    uint64_t c2 = shade_collection_count(2);
    garbage((size_t)budget + (budget / 4));
    shade_collect_generation(0, SHADE_COLLECT_OPTIMIZED);
    SHADE_TEST_EXPECT_EQ(shade_collection_count(2), c2);
    // gen1: nothing promoted since the last gen1 or full collection, then more than its budget
    shade_collect();
    uint64_t c1 = shade_collection_count(1);
    c2 = shade_collection_count(2);
    shade_collect_generation(1, SHADE_COLLECT_OPTIMIZED);
    SHADE_TEST_EXPECT_EQ(shade_collection_count(1), c1);
    promote_into_gen1((size_t)shade_test_stats().gen1_budget);
    shade_collect_generation(1, SHADE_COLLECT_OPTIMIZED);
    SHADE_TEST_EXPECTF(shade_collection_count(1) == c1 + 1 && shade_collection_count(2) == c2,
                       "OPTIMIZED gen1 after promoting its budget (%" PRIu64 " bytes): count(1) "
                       "%" PRIu64 " (expected %" PRIu64 "), count(2) %" PRIu64 " (expected %"
                       PRIu64 ")", shade_test_stats().gen1_budget, shade_collection_count(1),
                       c1 + 1, shade_collection_count(2), c2);
    kept_chunks = NULL;
  }
  // gen2: after allocating the whole way from the live heap to the goal
  shade_collect();
  s = shade_test_stats();
  uint64_t c2 = shade_collection_count(2);
  garbage((size_t)(s.heap_goal > s.heap_live ? s.heap_goal - s.heap_live : (1u << 20)) + (1u << 20));
  shade_collect_generation(2, SHADE_COLLECT_OPTIMIZED);
  SHADE_TEST_EXPECTF(shade_collection_count(2) == c2 + 1, "OPTIMIZED gen2 after allocating past "
                     "the goal (live %" PRIu64 ", goal %" PRIu64 "): count(2) %" PRIu64
                     ", expected %" PRIu64, s.heap_live, s.heap_goal, shade_collection_count(2), c2 + 1);
  shade_enable();
}

static void test_generational_only_in_stw_mode(void) {
  struct shade_stats s = shade_test_stats();
  SHADE_TEST_EXPECTF(s.mode == mode, "mode %d, asked for %d", s.mode, mode);
  if (mode == SHADE_MODE_CONCURRENT) {
    SHADE_TEST_EXPECT_EQ(s.generational, 0);
    void *volatile p = shade_malloc(64);
    shade_collect_generation(0, SHADE_COLLECT_FORCED);
    SHADE_TEST_EXPECT_EQ(shade_generation(p), 0);
    SHADE_TEST_EXPECT_EQ(shade_collection_count(0), shade_collection_count(2));
    p = NULL;
  }
}

int main(int argc, char **argv) {
  mode = argc > 1 && strcmp(argv[1], "concurrent") == 0 ? SHADE_MODE_CONCURRENT : SHADE_MODE_STW;
  struct shade_options options;
  memset(&options, 0, sizeof options);
  options.mode = mode;
  options.write_barrier = mode != SHADE_MODE_STW;
  gen_start(&options);
  fprintf(stderr, "mode %s\n", mode == SHADE_MODE_STW ? "stw" : "concurrent");
  if (mode == SHADE_MODE_STW)
    gen_require_generational();
  SHADE_TEST_RUN(test_generational_only_in_stw_mode);
  SHADE_TEST_RUN(test_nonblocking_full_collection);
  SHADE_TEST_RUN(test_optimized_collects_only_when_worthwhile);
  return shade_test_finish();
}
