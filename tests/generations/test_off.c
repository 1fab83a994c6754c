// test_off.c (gen_off: SHADE_GENERATIONAL=off; gen_off_options: options.generational = -1):
// without generations stats.generational is 0, every collection is a full one and counts for
// all three generations, every live object is in generation 0 (however many collections it
// survived; large objects too), and a "gen0" collection frees old garbage as well.
#include "gen_test.h"

static void *volatile kept;

enum { N = 2000 };
static void *holder[N];
static shade_test_hidden hidden[N];

static SHADE_TEST_NOINLINE void make_held(void) {
  for (int i = 0; i < N; i++) {
    holder[i] = shade_malloc(80);
    hidden[i] = shade_test_hide(holder[i]);
  }
}

static void test_not_generational(void) {
  struct shade_stats s = shade_test_stats();
  SHADE_TEST_EXPECT_EQ(s.generational, 0);
  SHADE_TEST_EXPECT_EQ(s.gen0_budget, 0);
  SHADE_TEST_EXPECT_EQ(shade_max_generation(), 2);
}

static void test_every_collection_counts_for_all_generations(void) {
  shade_disable();
  uint64_t cycles = shade_test_stats().cycles;
  uint64_t c0 = shade_collection_count(0);
  SHADE_TEST_EXPECT_EQ(shade_collection_count(1), c0);
  SHADE_TEST_EXPECT_EQ(shade_collection_count(2), c0);
  shade_collect_generation(0, SHADE_COLLECT_FORCED);
  shade_collect_generation(1, SHADE_COLLECT_FORCED);
  shade_collect_generation(2, SHADE_COLLECT_FORCED);
  shade_collect();
  for (int g = 0; g <= 2; g++)
    SHADE_TEST_EXPECTF(shade_collection_count(g) == c0 + 4, "count(%d) %" PRIu64 ", expected %" PRIu64,
                       g, shade_collection_count(g), c0 + 4);
  struct shade_stats s = shade_test_stats();
  SHADE_TEST_EXPECT_EQ(s.cycles, cycles + 4);
  SHADE_TEST_EXPECT(s.collections[0] == c0 + 4 && s.collections[1] == c0 + 4 &&
                    s.collections[2] == c0 + 4);
  SHADE_TEST_EXPECT_EQ(s.young_pause_max_ns, 0);
  SHADE_TEST_EXPECT_EQ(s.promoted_bytes, 0);
  shade_enable();
}

static void test_live_objects_stay_in_generation_zero(void) {
  kept = shade_malloc(64);
  void *volatile large = shade_malloc(200000); // no LOH without generations
  SHADE_TEST_EXPECT_EQ(shade_generation(kept), 0);
  SHADE_TEST_EXPECT_EQ(shade_generation(large), 0);
  for (int g = 0; g <= 2; g++) {
    shade_collect_generation(g, SHADE_COLLECT_FORCED);
    SHADE_TEST_EXPECTF(shade_generation(kept) == 0, "after a gen%d request: generation %d", g,
                       shade_generation(kept));
    SHADE_TEST_EXPECTF(shade_generation(large) == 0, "large, after a gen%d request: generation %d",
                       g, shade_generation(large));
  }
  SHADE_TEST_EXPECT_EQ(shade_generation(&hidden), -1);
  kept = large = NULL;
}

static void test_a_gen0_request_frees_old_garbage(void) {
  shade_disable();
  make_held();
  shade_collect_generation(0, SHADE_COLLECT_FORCED);
  shade_collect_generation(1, SHADE_COLLECT_FORCED);
  SHADE_TEST_EXPECT_EQ(shade_test_count_live(hidden, N), N);
  memset(holder, 0, sizeof holder);
  shade_test_clear_stack();
  shade_collect_generation(0, SHADE_COLLECT_FORCED);
  size_t live = shade_test_count_live(hidden, N);
  SHADE_TEST_EXPECTF(live <= N / 20, "a gen0 request without generations left %zu of %d objects "
                     "that survived two collections", live, N);
  shade_enable();
}

int main(int argc, char **argv) {
  struct shade_options options;
  memset(&options, 0, sizeof options);
  if (argc > 1 && strcmp(argv[1], "options") == 0)
    options.generational = -1;
  fprintf(stderr, "generations off by %s (SHADE_GENERATIONAL=%s)\n",
          options.generational < 0 ? "options.generational = -1" : "the environment",
          getenv("SHADE_GENERATIONAL") ? getenv("SHADE_GENERATIONAL") : "(unset)");
  gen_start(&options);
  SHADE_TEST_RUN(test_not_generational);
  SHADE_TEST_RUN(test_every_collection_counts_for_all_generations);
  SHADE_TEST_RUN(test_live_objects_stay_in_generation_zero);
  SHADE_TEST_RUN(test_a_gen0_request_frees_old_garbage);
  return shade_test_finish();
}
