// test_api.c (gen_api): the generation numbers and collection counts of the public API, as .NET
// defines them (GC.MaxGeneration, GC.GetGeneration, GC.Collect(n), GC.CollectionCount(n)):
// a new object is in gen0, each collection of its generation moves a survivor up one generation
// (to 2 at most; a full collection makes every survivor gen2 after much allocation),
// collection_count(0) counts every collection, (1) those of gen1 and gen2, (2)
// the full ones; arguments out of range are reported and clamped (collect) or answered with 0
// (count); unknown flags are reported and collect as FORCED.
#include "gen_test.h"

static void *volatile kept;       // a global: a root in every collection
static void *volatile kept_later; // allocated after kept was promoted
static int a_global;

static void expect_counts(uint64_t c0, uint64_t c1, uint64_t c2, const char *after) {
  SHADE_TEST_EXPECTF(shade_collection_count(0) == c0, "after %s: count(0) %" PRIu64 ", expected %" PRIu64,
                     after, shade_collection_count(0), c0);
  SHADE_TEST_EXPECTF(shade_collection_count(1) == c1, "after %s: count(1) %" PRIu64 ", expected %" PRIu64,
                     after, shade_collection_count(1), c1);
  SHADE_TEST_EXPECTF(shade_collection_count(2) == c2, "after %s: count(2) %" PRIu64 ", expected %" PRIu64,
                     after, shade_collection_count(2), c2);
  struct shade_stats s = shade_test_stats();
  SHADE_TEST_EXPECTF(s.collections[0] == c0 && s.collections[1] == c1 && s.collections[2] == c2,
                     "after %s: stats.collections %" PRIu64 "/%" PRIu64 "/%" PRIu64
                     " differ from the counts %" PRIu64 "/%" PRIu64 "/%" PRIu64,
                     after, s.collections[0], s.collections[1], s.collections[2], c0, c1, c2);
}

static void test_max_generation_is_two(void) {
  SHADE_TEST_EXPECT_EQ(shade_max_generation(), 2);
  SHADE_TEST_EXPECT_EQ(SHADE_GENERATION_OLDEST, 2);
}

static void test_survivors_move_up_one_generation_per_collection(void) {
  kept = shade_malloc(64);
  SHADE_TEST_EXPECT_EQ(shade_generation(kept), 0);
  SHADE_TEST_EXPECT_EQ(shade_generation((char *)kept + 40), 0); // an interior pointer
  shade_collect_generation(0, SHADE_COLLECT_FORCED);
  SHADE_TEST_EXPECT_EQ(shade_generation(kept), 1);
  shade_collect_generation(0, SHADE_COLLECT_FORCED); // gen1 objects stay in gen1
  SHADE_TEST_EXPECT_EQ(shade_generation(kept), 1);
  kept_later = shade_malloc(200);
  SHADE_TEST_EXPECT_EQ(shade_generation(kept_later), 0);
  shade_collect_generation(1, SHADE_COLLECT_FORCED); // gen1 -> gen2, gen0 -> gen1
  SHADE_TEST_EXPECT_EQ(shade_generation(kept), 2);
  SHADE_TEST_EXPECT_EQ(shade_generation((char *)kept + 63), 2);
  SHADE_TEST_EXPECT_EQ(shade_generation(kept_later), 1);
  shade_collect_generation(0, SHADE_COLLECT_FORCED);
  SHADE_TEST_EXPECT_EQ(shade_generation(kept), 2);
  SHADE_TEST_EXPECT_EQ(shade_generation(kept_later), 1);
  shade_collect(); // full: gen2 stays gen2, gen1 -> gen2
  SHADE_TEST_EXPECT_EQ(shade_generation(kept), 2);
  SHADE_TEST_EXPECT_EQ(shade_generation(kept_later), 2);
  // Every kind ages the same way.
  void *volatile atomic = shade_malloc_atomic(48);
  void *volatile big = shade_malloc(40000); // large, but under the LOH threshold
  SHADE_TEST_EXPECT_EQ(shade_generation(atomic), 0);
  SHADE_TEST_EXPECT_EQ(shade_generation(big), 0);
  shade_collect_generation(0, SHADE_COLLECT_FORCED);
  SHADE_TEST_EXPECT_EQ(shade_generation(atomic), 1);
  SHADE_TEST_EXPECT_EQ(shade_generation(big), 1);
  shade_collect_generation(1, SHADE_COLLECT_FORCED);
  SHADE_TEST_EXPECT_EQ(shade_generation(atomic), 2);
  SHADE_TEST_EXPECT_EQ(shade_generation(big), 2);
  kept = kept_later = NULL;
}

static void test_generation_of_a_non_shade_pointer_is_minus_one(void) {
  int on_stack = 0;
  char *from_libc = malloc(64);
  SHADE_TEST_EXPECT_EQ(shade_generation(NULL), -1);
  SHADE_TEST_EXPECT_EQ(shade_generation(&on_stack), -1);
  SHADE_TEST_EXPECT_EQ(shade_generation(&a_global), -1);
  SHADE_TEST_EXPECT_EQ(shade_generation(from_libc), -1);
  SHADE_TEST_EXPECT_EQ(shade_generation((void *)(uintptr_t)0x10), -1);
  free(from_libc);
  // Freed objects are not live: small and large, young and old.
  void *small = shade_malloc(64), *large = shade_malloc(50000);
  void *old_small = shade_malloc(96);
  shade_collect_generation(0, SHADE_COLLECT_FORCED);
  SHADE_TEST_EXPECT_EQ(shade_generation(old_small), 1);
  shade_free(small);
  shade_free(large);
  shade_free(old_small);
  SHADE_TEST_EXPECT_EQ(shade_generation(small), -1);
  SHADE_TEST_EXPECT_EQ(shade_generation(large), -1);
  SHADE_TEST_EXPECT_EQ(shade_generation(old_small), -1);
  shade_collect_generation(0, SHADE_COLLECT_FORCED);
  SHADE_TEST_EXPECT_EQ(shade_generation(small), -1);
  SHADE_TEST_EXPECT_EQ(shade_generation(old_small), -1);
}

// A full collection makes gen0's survivors gen1, unless more than gen1's budget was allocated
// since the last collection: then every survivor is gen2 (else all of it would be traced by the
// first gen1 collection).
static void test_a_full_collection_promotes_all_after_much_allocation(void) {
  shade_disable(); // only the collections asked for
  void *volatile few = shade_malloc(64);
  shade_collect(); // little allocated since the last collection
  SHADE_TEST_EXPECT_EQ(shade_generation(few), 1);
  size_t count = (16u << 20) / 64; // 16 MiB kept: more than any gen1 budget of this small heap
  void **many = shade_malloc_uncollectable(count * sizeof *many);
  SHADE_TEST_EXPECT(many != NULL);
  for (size_t i = 0; i < count; i++)
    many[i] = shade_malloc(64);
  shade_collect();
  for (size_t i = 0; i < count; i += count / 64)
    SHADE_TEST_EXPECTF(shade_generation(many[i]) == 2, "object %zu of the 16 MiB: generation %d",
                       i, shade_generation(many[i]));
  SHADE_TEST_EXPECT_EQ(shade_generation(few), 2); // gen1 -> gen2 as always
  SHADE_TEST_EXPECT_EQ(shade_test_stats().generation_size_after[1], 0);
  shade_free(many);
  few = NULL;
  shade_enable();
}

static void test_collection_counts_as_dotnet(void) {
  shade_disable(); // no automatic collection may change the counts
  uint64_t c0 = shade_collection_count(0), c1 = shade_collection_count(1),
           c2 = shade_collection_count(2);
  SHADE_TEST_EXPECT(c0 >= c1 && c1 >= c2);
  uint64_t cycles = shade_test_stats().cycles;
  shade_collect_generation(0, SHADE_COLLECT_FORCED);
  expect_counts(++c0, c1, c2, "a gen0 collection");
  shade_collect_generation(1, SHADE_COLLECT_FORCED);
  expect_counts(++c0, ++c1, c2, "a gen1 collection");
  shade_collect_generation(2, SHADE_COLLECT_FORCED);
  expect_counts(++c0, ++c1, ++c2, "a gen2 collection");
  shade_collect();
  expect_counts(++c0, ++c1, ++c2, "shade_collect()");
  for (int i = 0; i < 5; i++)
    shade_collect_generation(0, SHADE_COLLECT_FORCED);
  c0 += 5;
  expect_counts(c0, c1, c2, "five gen0 collections");
  struct shade_stats s = shade_test_stats();
  SHADE_TEST_EXPECTF(s.cycles == cycles + 9, "stats.cycles grew by %" PRIu64 ", expected 9",
                     s.cycles - cycles);
  SHADE_TEST_EXPECT(s.young_pause_max_ns > 0);
  SHADE_TEST_EXPECT(s.full_pause_max_ns > 0);
  shade_enable();
}

static void test_out_of_range_generations_and_bad_flags(void) {
  shade_disable();
  shade_test_capture_messages();
  uint64_t c0 = shade_collection_count(0), c1 = shade_collection_count(1),
           c2 = shade_collection_count(2);
  shade_collect_generation(7, SHADE_COLLECT_FORCED); // clamped to 2
  SHADE_TEST_EXPECT(shade_test_messages_contain("shade_collect_generation(7)", "using 2"));
  expect_counts(++c0, ++c1, ++c2, "shade_collect_generation(7)");
  shade_collect_generation(-3, SHADE_COLLECT_FORCED); // clamped to 0
  SHADE_TEST_EXPECT(shade_test_messages_contain("shade_collect_generation(-3)", "using 0"));
  expect_counts(++c0, c1, c2, "shade_collect_generation(-3)");
  int before = shade_test_message_count_now();
  SHADE_TEST_EXPECT_EQ(shade_collection_count(3), 0);
  SHADE_TEST_EXPECT_EQ(shade_collection_count(-1), 0);
  SHADE_TEST_EXPECT_EQ(shade_collection_count(1000000), 0);
  SHADE_TEST_EXPECT_EQ(shade_test_message_count_now(), before + 3);
  SHADE_TEST_EXPECT(shade_test_messages_contain("shade_collection_count(3)", "returning 0"));
  SHADE_TEST_EXPECT(shade_test_messages_contain("shade_collection_count(-1)", "returning 0"));
  before = shade_test_message_count_now();
  shade_collect_generation(0, 99); // bad flags: a forced gen0 collection
  SHADE_TEST_EXPECT(shade_test_messages_contain("shade_collect_generation(0, 99)", "flags"));
  expect_counts(++c0, c1, c2, "shade_collect_generation(0, 99)");
  // Valid calls say nothing.
  before = shade_test_message_count_now();
  shade_collect_generation(1, SHADE_COLLECT_FORCED);
  (void)shade_collection_count(2);
  SHADE_TEST_EXPECT_EQ(shade_test_message_count_now(), before);
  expect_counts(++c0, ++c1, c2, "shade_collect_generation(1)");
  if (atomic_load(&shade_test_failures) != 0)
    shade_test_print_messages();
  shade_test_stop_capturing_messages();
  shade_enable();
}

int main(void) {
  gen_start(NULL);
  gen_require_generational();
  SHADE_TEST_RUN(test_max_generation_is_two);
  SHADE_TEST_RUN(test_survivors_move_up_one_generation_per_collection);
  SHADE_TEST_RUN(test_generation_of_a_non_shade_pointer_is_minus_one);
  SHADE_TEST_RUN(test_a_full_collection_promotes_all_after_much_allocation);
  SHADE_TEST_RUN(test_collection_counts_as_dotnet);
  SHADE_TEST_RUN(test_out_of_range_generations_and_bad_flags);
  return shade_test_finish();
}
