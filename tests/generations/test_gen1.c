// test_gen1.c (gen_gen1_<scenario>): gen1 collections collect gen0 and gen1 only, and find every
// gen2 object that points into them through the cards (generations.c), however long ago the
// pointer was written.
// A gen1 collection unmarks the gen0 and gen1 objects and marks from the roots, from the old
// objects on pages written since the last collection, and from the gen2 objects on the cards the
// markers noted. A gen2 object holding the only pointer to a younger one must therefore be
// scanned by every gen1 collection while that pointer is there.
//
//   after_gen0   a gen2 -> gen0 pointer written before a gen0 collection (which promoted the
//                target to gen1, and saw the written page for the last time): the next gen1
//                collections find it
//   to_gen1      a gen2 -> gen1 pointer (the target already gen1 when stored) written before
//                two gen0 collections: a gen1 collection finds it
//   after_gen1   the pointer was written before a gen1 collection (which promoted the target
//                from gen0 to gen1): the gen1 collection after that must still find it
//   promoted     the holder is gen1 and becomes gen2 in a gen1 (or full) collection that makes
//                its gen0 target gen1: the promotion notes the card, a later gen1 finds it
//   random       plain stores into gen2 objects of every size, a random mix of gen0, gen1 and
//                full collections, checksums checked after each
//   scanned      a gen1 collection scans far fewer objects than a full one when gen2 is large
//                (shade_stats.scanned_objects: a count, not a timing)
//
// SHADE_VERIFY=1 aborts at the first young object a collection misses, and at the first slot of
// a gen2 object that points to a younger object with a clean card; without it the test reports
// the damaged object.
#include "gen_test.h"

static struct gen_node **volatile old; // a global: the gen2 holder

static SHADE_TEST_NOINLINE void store_young(size_t slot, uint64_t key) {
  old[slot] = gen_node_new(key, 6, NULL);
}

// The holder is a large object of its own pages (under the LOH threshold, promoted to gen2):
// the garbage the test allocates never lands on the page the pointer is in.
enum { HOLDER_BYTES = 40000, SLOT = 2600 };

static void make_old(size_t bytes) {
  old = shade_malloc(bytes);
  shade_collect_generation(0, SHADE_COLLECT_FORCED);
  shade_collect_generation(1, SHADE_COLLECT_FORCED);
  SHADE_TEST_EXPECT_EQ(shade_generation((void *)old), 2);
}

static void expect_young_intact(size_t slot, int generation, const char *after) {
  struct gen_node *n = old[slot];
  int ok = gen_node_ok(n);
  SHADE_TEST_EXPECTF(ok && shade_generation(n) == generation,
                     "after %s: the object the gen2 holder points to (%p) is %s, generation %d "
                     "(expected %d)", after, (void *)n, ok ? "intact" : "freed or damaged",
                     shade_generation(n), generation);
}

static SHADE_TEST_NOINLINE void collect_clean(int generation) {
  shade_test_clear_stack();
  shade_test_allocate_garbage(256 << 10); // what a wrong collection frees is reused
  shade_test_clear_stack();
  shade_collect_generation(generation, SHADE_COLLECT_FORCED);
  shade_test_allocate_garbage(256 << 10);
}

static void test_pointer_written_before_a_gen0_collection(void) {
  make_old(HOLDER_BYTES);
  store_young(SLOT, 1);
  collect_clean(0); // the target becomes gen1; the written page is logged
  expect_young_intact(SLOT, 1, "a gen0 collection");
  collect_clean(0);
  expect_young_intact(SLOT, 1, "a second gen0 collection");
  collect_clean(1); // the target is unmarked, found again through the log, becomes gen2
  expect_young_intact(SLOT, 2, "a gen1 collection");
  collect_clean(1);
  expect_young_intact(SLOT, 2, "a second gen1 collection");
}

static void test_pointer_to_gen1_written_before_gen0_collections(void) {
  make_old(HOLDER_BYTES);
  struct gen_node *volatile target = gen_node_new(4, 6, NULL);
  collect_clean(0); // the target is gen1, held by this frame
  SHADE_TEST_EXPECT_EQ(shade_generation((void *)target), 1);
  old[SLOT] = target;
  target = NULL;
  collect_clean(0); // the written page is seen for the last time: the card is noted here
  expect_young_intact(SLOT, 1, "a gen0 collection");
  collect_clean(0);
  expect_young_intact(SLOT, 1, "a second gen0 collection");
  collect_clean(1); // only the card finds the holder
  expect_young_intact(SLOT, 2, "a gen1 collection");
}

// The holder becomes gen2 in collection `promoting` (1 or 2) while its target becomes gen1.
static void promoted_holder(int promoting) {
  struct gen_node **holder = shade_malloc(HOLDER_BYTES);
  collect_clean(0); // the holder is gen1 (old, held by this frame)
  SHADE_TEST_EXPECT_EQ(shade_generation(holder), 1);
  old = holder;
  holder = NULL;
  store_young(SLOT, 10u + (unsigned)promoting); // a gen0 target
  collect_clean(promoting); // the holder is traced: gen1 -> gen2; the target gen0 -> gen1
  SHADE_TEST_EXPECT_EQ(shade_generation((void *)old), 2);
  expect_young_intact(SLOT, 1, promoting == 1 ? "the promoting gen1 collection"
                                              : "the promoting full collection");
  collect_clean(0);
  collect_clean(0);
  expect_young_intact(SLOT, 1, "two gen0 collections");
  collect_clean(1); // nothing wrote the holder since it became gen2: only the card finds it
  expect_young_intact(SLOT, 2, "the next gen1 collection");
}

static void test_holder_promoted_to_gen2(void) {
  promoted_holder(1);
  promoted_holder(2);
}

static void test_pointer_written_before_a_gen1_collection(void) {
  make_old(HOLDER_BYTES);
  store_young(SLOT, 2);
  collect_clean(1); // the target: gen0 -> gen1
  expect_young_intact(SLOT, 1, "a gen1 collection");
  collect_clean(0);
  expect_young_intact(SLOT, 1, "a gen0 collection after it");
  collect_clean(1); // the target is unmarked; nothing wrote the holder since the last gen1 one
  expect_young_intact(SLOT, 2, "the next gen1 collection");
}

enum { HOLDERS = 40 };
static void **holders[HOLDERS];
static size_t holder_slots[HOLDERS];

static SHADE_TEST_NOINLINE void random_stores(uint64_t *rng, int count) {
  for (int k = 0; k < count; k++) {
    int h = (int)shade_test_random_between(rng, 0, HOLDERS - 1);
    size_t s = (size_t)shade_test_random_between(rng, 0, holder_slots[h] - 1);
    holders[h][s] = shade_test_random(rng) % 8 == 0
                        ? NULL
                        : gen_node_new(shade_test_random(rng), shade_test_random_between(rng, 2, 20), NULL);
  }
}

static void test_random_mix_of_collections(void) {
  uint64_t rng = shade_test_seed();
  for (int h = 0; h < HOLDERS; h++) {
    size_t bytes = h < 30 ? 256 : h < 38 ? 16384 : 200000; // small, large, LOH
    holders[h] = shade_malloc(bytes);
    holder_slots[h] = bytes / sizeof(void *);
  }
  shade_collect_generation(0, SHADE_COLLECT_FORCED);
  shade_collect_generation(1, SHADE_COLLECT_FORCED);
  size_t rounds = shade_test_scaled(400, 40);
  int reported = 0;
  for (uint64_t round = 0; round < rounds && reported < 5; round++) {
    random_stores(&rng, 8);
    uint64_t r = shade_test_random(&rng) % 16;
    int generation = r < 11 ? 0 : r < 15 ? 1 : 2;
    collect_clean(generation);
    for (int h = 0; h < HOLDERS && reported < 5; h++)
      for (size_t s = 0; s < holder_slots[h] && reported < 5; s++) {
        struct gen_node *n = holders[h][s];
        if (n != NULL && !gen_node_ok(n)) {
          reported++;
          SHADE_TEST_EXPECTF(0, "round %" PRIu64 " (a gen%d collection): slot %zu of gen2 holder "
                             "%d lost its object %p", round, generation, s, h, (void *)n);
        }
      }
  }
  gen_print_stats("random mix");
}

// A gen2 list of many nodes and a few young objects: a gen1 collection scans the young ones
// and the remembered gen2 ones, a full one the whole list.
enum { LIST = 100000 };
static struct gen_node *volatile list;

static SHADE_TEST_NOINLINE void build_list(void) {
  struct gen_node *head = NULL;
  for (uint64_t i = 0; i < LIST; i++)
    head = gen_node_new(i, 2, head);
  list = head;
}

static void test_gen1_scans_less_than_a_full_collection(void) {
  build_list();
  make_old(HOLDER_BYTES);
  collect_clean(0);
  collect_clean(1); // the list is gen2
  SHADE_TEST_EXPECT_EQ(shade_generation((void *)list), 2);
  store_young(SLOT, 20); // something for the next collections to find through the cards
  collect_clean(0);
  collect_clean(1);
  struct shade_stats gen1 = shade_test_stats();
  expect_young_intact(SLOT, 2, "the measured gen1 collection");
  store_young(SLOT, 21);
  collect_clean(2);
  struct shade_stats full = shade_test_stats();
  expect_young_intact(SLOT, 1, "the full collection");
  const struct gen_node *bad = NULL;
  SHADE_TEST_EXPECT_EQ(gen_chain_bad(list, LIST + 1, &bad), 0);
  fprintf(stderr, "objects scanned: gen1 collection %" PRIu64 ", full collection %" PRIu64 "\n",
          gen1.scanned_objects[1], full.scanned_objects[2]);
  SHADE_TEST_EXPECTF(full.scanned_objects[2] >= LIST, "a full collection scanned %" PRIu64
                     " objects; the list alone has %d", full.scanned_objects[2], LIST);
  SHADE_TEST_EXPECTF(gen1.scanned_objects[1] * 10 < full.scanned_objects[2],
                     "a gen1 collection scanned %" PRIu64 " objects, a full one %" PRIu64,
                     gen1.scanned_objects[1], full.scanned_objects[2]);
  list = NULL;
}

int main(int argc, char **argv) {
  const char *scenario = argc > 1 ? argv[1] : "";
  gen_start(NULL);
  gen_require_generational();
  shade_disable(); // only the collections the test asks for
  if (strcmp(scenario, "after_gen0") == 0)
    SHADE_TEST_RUN(test_pointer_written_before_a_gen0_collection);
  else if (strcmp(scenario, "to_gen1") == 0)
    SHADE_TEST_RUN(test_pointer_to_gen1_written_before_gen0_collections);
  else if (strcmp(scenario, "promoted") == 0)
    SHADE_TEST_RUN(test_holder_promoted_to_gen2);
  else if (strcmp(scenario, "scanned") == 0)
    SHADE_TEST_RUN(test_gen1_scans_less_than_a_full_collection);
  else if (strcmp(scenario, "after_gen1") == 0)
    SHADE_TEST_RUN(test_pointer_written_before_a_gen1_collection);
  else if (strcmp(scenario, "random") == 0)
    SHADE_TEST_RUN(test_random_mix_of_collections);
  else {
    fprintf(stderr, "usage: %s after_gen0|to_gen1|after_gen1|promoted|random|scanned\n", argv[0]);
    return 2;
  }
  return shade_test_finish();
}
