// test_plain_full.c (gen_plain_full): while young collections are paused (most of gen0 survives
// them), a full collection that another full one follows is plain: it notes no card, and its
// sweep leaves every survivor gen2 and unmarked. Until the pause's last full collection, which
// is generational again, old objects are not marked, so no young collection may run: an explicit
// gen0 collection runs full instead, and frees nothing reachable.
//
// A table of slots, each holding a checksummed node, where a random slot's node is replaced over
// and over (as the churn workload does): nodes live about as long as the table takes to turn
// over, far longer than gen0's 1 MiB budget, so young collections keep finding most of gen0 alive
// and pause for 1, 2, 4, ... full collections. Every 65,536 replacements the program drops a large
// object (born gen2) it holds only through a weak reference and asks for a gen0 collection.
//   - some of those gen0 collections ran full (old objects were unmarked: a plain one came
//     before), and each such full collection freed the large object dropped before it (born
//     marked, it must be unmarked even though small objects need not be);
//   - every node checks out at the end (the verifier checks every collection too), and every one
//     is gen1 or gen2 after a last full collection.
#include "gen_test.h"

enum { SLOTS = 1 << 16, NODE_WORDS = 6, BIG = 256 << 10, REPLACEMENTS = 1 << 21, EVERY = 1 << 16 };

static struct gen_node **slots; // uncollectable: a root, not a young object itself

static SHADE_TEST_NOINLINE struct shade_weak *drop_big(void) {
  void *big = shade_malloc(BIG);
  SHADE_TEST_EXPECT(big != NULL);
  memset(big, 0x5a, 64);
  struct shade_weak *w = shade_weak_new(big, SHADE_WEAK_SHORT);
  SHADE_TEST_EXPECT(w != NULL);
  SHADE_TEST_EXPECT(shade_generation(big) == 2); // born old
  return w;
}

static void test_young_collections_wait_for_marked_old_objects(void) {
  slots = shade_malloc_uncollectable(SLOTS * sizeof *slots);
  SHADE_TEST_EXPECT(slots != NULL);
  for (uint64_t i = 0; i < SLOTS; i++)
    slots[i] = gen_node_new(i, NODE_WORDS, NULL);
  uint64_t seed = shade_test_seed(), state = seed | 1;
  uint64_t asked = 0, ran_full = 0, big_kept = 0;
  struct shade_stats start = shade_test_stats();
  for (uint64_t r = 1; r <= REPLACEMENTS; r++) {
    uint64_t i = shade_test_random(&state) % SLOTS;
    slots[i] = gen_node_new(i + r * SLOTS, NODE_WORDS, NULL);
    if (r % EVERY != 0)
      continue;
    struct shade_weak *w = drop_big();
    uint64_t full_before = shade_test_stats().collections[2];
    gen_collect_clean(0);
    asked++;
    if (shade_test_stats().collections[2] == full_before)
      continue;
    ran_full++;
    if (shade_weak_get(w) != NULL)
      big_kept++;
  }
  struct shade_stats end = shade_test_stats();
  fprintf(stderr, "seed=%" PRIu64 ": %" PRIu64 " gen0 collections asked for, %" PRIu64
          " ran full (%" PRIu64 " kept the dropped large object); by allocation and asked for: %"
          PRIu64 " young, %" PRIu64 " full\n", seed, asked, ran_full, big_kept,
          (end.collections[0] - end.collections[2]) - (start.collections[0] - start.collections[2]),
          end.collections[2] - start.collections[2]);
  SHADE_TEST_EXPECTF(ran_full > 0, "no gen0 collection asked for ran full: no plain full "
                     "collection left old objects unmarked (were young collections paused?)");
  SHADE_TEST_EXPECTF(ran_full < asked, "every gen0 collection asked for ran full");
  SHADE_TEST_EXPECTF(big_kept == 0, "%" PRIu64 " full collections kept a dropped large object",
                     big_kept);
  gen_collect_clean(2);
  uint64_t bad = 0, young = 0;
  for (uint64_t i = 0; i < SLOTS; i++) {
    bad += !gen_node_ok(slots[i]) || (slots[i]->key & ~GEN_TAG) % SLOTS != i;
    young += shade_generation(slots[i]) < 1;
  }
  SHADE_TEST_EXPECTF(bad == 0, "%" PRIu64 " of %d nodes damaged", bad, SLOTS);
  SHADE_TEST_EXPECTF(young == 0, "%" PRIu64 " nodes still gen0 after a full collection", young);
  shade_free(slots);
}

int main(void) {
  gen_start(NULL);
  gen_require_generational();
  SHADE_TEST_RUN(test_young_collections_wait_for_marked_old_objects);
  gen_print_stats("end");
  return shade_test_finish();
}
