// test_loh.c (gen_loh, gen_loh_threshold): objects of SHADE_LOH_THRESHOLD bytes and more (85000
// by default; gen_loh_threshold runs with SHADE_LOH_THRESHOLD=40000 and says so in argv[1]) are
// born in generation 2 (.NET's Large Object Heap): young collections neither free them nor
// trace them (their writes are remembered), only a full collection frees a dropped one.
#include "gen_test.h"

static size_t threshold = 85000;

static void test_objects_at_the_threshold_are_born_in_gen2(void) {
  void *volatile at = shade_malloc(threshold);
  void *volatile atomic_at = shade_malloc_atomic(threshold);
  void *volatile above = shade_malloc(threshold * 3 + 12345);
  void *volatile below = shade_malloc(threshold - 1);
  void *volatile well_below = shade_malloc(threshold - 4096);
  void *volatile fixed = shade_malloc(40000); // LOH only when the threshold is 40000
  SHADE_TEST_EXPECTF(shade_generation(at) == 2, "shade_malloc(%zu): generation %d",
                     threshold, shade_generation(at));
  SHADE_TEST_EXPECTF(shade_generation(atomic_at) == 2, "shade_malloc_atomic(%zu): generation %d",
                     threshold, shade_generation(atomic_at));
  SHADE_TEST_EXPECTF(shade_generation(above) == 2, "shade_malloc(%zu): generation %d",
                     threshold * 3 + 12345, shade_generation(above));
  SHADE_TEST_EXPECTF(shade_generation(well_below) == 0, "shade_malloc(%zu): generation %d",
                     threshold - 4096, shade_generation(well_below));
  SHADE_TEST_EXPECTF(shade_generation(below) == 0,
                     "shade_malloc(%zu), one byte under the threshold: generation %d (expected 0: "
                     "only objects of %zu bytes and more are born in gen2)",
                     threshold - 1, shade_generation(below), threshold);
  int expected_fixed = threshold <= 40000 ? 2 : 0;
  SHADE_TEST_EXPECTF(shade_generation(fixed) == expected_fixed,
                     "shade_malloc(40000) with threshold %zu: generation %d, expected %d",
                     threshold, shade_generation(fixed), expected_fixed);
  // They stay in gen2 through every kind of collection.
  shade_collect_generation(0, SHADE_COLLECT_FORCED);
  SHADE_TEST_EXPECT_EQ(shade_generation(at), 2);
  shade_collect_generation(1, SHADE_COLLECT_FORCED);
  SHADE_TEST_EXPECT_EQ(shade_generation(at), 2);
  shade_collect();
  SHADE_TEST_EXPECT_EQ(shade_generation(at), 2);
  SHADE_TEST_EXPECT_EQ(shade_generation(above), 2);
  at = atomic_at = above = below = well_below = fixed = NULL;
}

enum { DROPPED = 12 };

static SHADE_TEST_NOINLINE void make_dropped_large(shade_test_hidden *hidden, uint64_t seed) {
  for (int i = 0; i < DROPPED; i++) {
    size_t size = threshold + (size_t)i * 10007;
    unsigned char *p = shade_malloc(size);
    SHADE_TEST_EXPECT(p != NULL && shade_generation(p) == 2);
    if (p != NULL) {
      p[0] = (unsigned char)(seed + (uint64_t)i) | 1;
      p[size - 1] = 0x5b;
    }
    hidden[i] = shade_test_hide(p);
    p = NULL;
  }
}

static int large_still_there(const shade_test_hidden *hidden, uint64_t seed) {
  int intact = 0;
  for (int i = 0; i < DROPPED; i++) {
    unsigned char *p = shade_test_unhide(hidden[i]);
    size_t size = threshold + (size_t)i * 10007;
    intact += shade_is_heap_pointer(p) == 1 && shade_base(p + size / 2) == p &&
              shade_size(p) >= size && p[0] == ((unsigned char)(seed + (uint64_t)i) | 1) &&
              p[size - 1] == 0x5b;
  }
  return intact;
}

static void test_dropped_large_objects_survive_young_collections(void) {
  shade_test_hidden hidden[DROPPED];
  uint64_t seed = 7;
  make_dropped_large(hidden, seed);
  shade_test_clear_stack();
  for (int round = 0; round < 3; round++) {
    shade_test_allocate_garbage(1 << 20);
    shade_test_clear_stack();
    shade_collect_generation(0, SHADE_COLLECT_FORCED);
    int intact = large_still_there(hidden, seed);
    SHADE_TEST_EXPECTF(intact == DROPPED, "after gen0 collection %d: %d of %d dropped LOH objects "
                       "left (a young collection must not free gen2 objects)", round, intact, DROPPED);
  }
  // (A gen1 collection runs as a full one for now, docs/generations.md: it would free them too.)
  shade_test_clear_stack();
  shade_collect();
  size_t live = shade_test_count_live(hidden, DROPPED);
  SHADE_TEST_EXPECTF(live <= 2, "after a full collection %zu of %d dropped LOH objects are live",
                     live, DROPPED);
}

// A reachable LOH object (gen2 from birth, never traced by a young collection) holds the only
// pointers to young objects, written all over it; the writes are remembered.
static struct gen_node **volatile big_table;

static SHADE_TEST_NOINLINE void fill_big_table(size_t slots, size_t stride, uint64_t round) {
  for (size_t i = 0; i < slots; i += stride)
    big_table[i] = gen_node_new(round * 1000003u + i, 3 + i % 7, NULL);
}

static void test_young_objects_referenced_only_from_a_large_object(void) {
  size_t bytes = threshold * 2 + 4000, slots = bytes / sizeof(void *);
  big_table = shade_malloc(bytes);
  SHADE_TEST_EXPECT(shade_generation((void *)big_table) == 2);
  size_t rounds = shade_test_scaled(60, 10);
  int failures = 0;
  for (uint64_t round = 0; round < rounds && failures < 5; round++) {
    size_t stride = 37 + round % 5 * 113; // slots on every page of the object, in turn
    fill_big_table(slots, stride, round);
    shade_test_clear_stack();
    shade_test_allocate_garbage(256 << 10);
    shade_collect_generation(round % 7 == 6 ? 1 : 0, SHADE_COLLECT_FORCED);
    shade_test_allocate_garbage(256 << 10);
    for (size_t i = 0; i < slots; i += stride) {
      const struct gen_node *bad = NULL;
      if (gen_chain_bad(big_table[i], 1, &bad) && failures++ < 5)
        SHADE_TEST_EXPECTF(0, "round %" PRIu64 ": the young object in slot %zu of a gen2 LOH "
                           "object (%p) was lost", round, i, (const void *)bad);
    }
    memset((void *)big_table, 0, bytes);
  }
  big_table = NULL;
}

// An uncollectable object of the LOH's size is a root of every collection, not an old object: it
// is not born in gen2, and a young collection scans it whatever was written in it (a young
// collection once took it for old and scanned it only where its pages were written: it never
// was, its kind being left out of the remembered set as a root's).
static void test_a_large_uncollectable_object_is_a_root_of_young_collections(void) {
  size_t slots = (threshold * 2) / sizeof(void *);
  struct gen_node **roots = shade_malloc_uncollectable(slots * sizeof *roots);
  SHADE_TEST_EXPECT(roots != NULL);
  SHADE_TEST_EXPECTF(shade_generation(roots) != 2, "a large uncollectable object in generation %d",
                     shade_generation(roots));
  for (size_t i = 0; i < slots; i += 97)
    roots[i] = gen_node_new(777000 + i, 4, NULL);
  shade_test_clear_stack();
  shade_collect_generation(0, SHADE_COLLECT_FORCED);
  shade_test_allocate_garbage(256 << 10);
  size_t lost = 0;
  for (size_t i = 0; i < slots; i += 97) {
    const struct gen_node *bad = NULL;
    lost += gen_chain_bad(roots[i], 1, &bad);
  }
  SHADE_TEST_EXPECTF(lost == 0, "%zu young objects held only by a large uncollectable object lost",
                     lost);
  shade_free(roots);
}

int main(int argc, char **argv) {
  if (argc > 1)
    threshold = (size_t)strtoull(argv[1], NULL, 10);
  gen_start(NULL);
  gen_require_generational();
  fprintf(stderr, "LOH threshold %zu (SHADE_LOH_THRESHOLD=%s)\n", threshold,
          getenv("SHADE_LOH_THRESHOLD") ? getenv("SHADE_LOH_THRESHOLD") : "(unset)");
  SHADE_TEST_RUN(test_objects_at_the_threshold_are_born_in_gen2);
  SHADE_TEST_RUN(test_dropped_large_objects_survive_young_collections);
  SHADE_TEST_RUN(test_young_objects_referenced_only_from_a_large_object);
  SHADE_TEST_RUN(test_a_large_uncollectable_object_is_a_root_of_young_collections);
  return shade_test_finish();
}
