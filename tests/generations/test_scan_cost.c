// test_scan_cost.c (gen_scan_cost): young collections pause, too, when they scan more heap per
// byte allocated than a full collection does per byte of its runway, though little of gen0
// survives. The program writes a word into old objects all over a large old heap (plain stores,
// no pointer) while it allocates garbage: every page of the old heap is written between two young
// collections, so each one scans the whole old heap (the remembered set) for nothing. Counts of
// collections, not timings; the gen0 budget adapts (no SHADE_GEN0_BUDGET: a fixed one turns this
// rule off).
#include "gen_test.h"

enum { OLD_OBJECT = 64, GARBAGE_OBJECT = 256 };

struct old {
  uint64_t words[OLD_OBJECT / 8];
};

static struct old **olds; // uncollectable: a root holding the old heap
static size_t old_count;

static void test_young_collections_pause_when_they_scan_the_old_heap(void) {
  uint64_t rng = shade_test_seed();
  old_count = (size_t)((double)(64u << 20) * shade_test_scale()) / OLD_OBJECT;
  olds = shade_malloc_uncollectable(old_count * sizeof *olds);
  SHADE_TEST_EXPECT(olds != NULL);
  for (size_t i = 0; i < old_count; i++)
    olds[i] = shade_malloc(OLD_OBJECT);
  shade_collect(); // the old heap is old, and a full collection measured it
  struct shade_stats before = shade_test_stats();
  // Eight times the old heap in garbage; a store into a random old object per garbage object
  // (every 4 KiB page of the old heap takes about 16 per gen0 budget).
  size_t steps = old_count * OLD_OBJECT / GARBAGE_OBJECT * 8;
  for (size_t i = 0; i < steps; i++) {
    unsigned char *volatile garbage = shade_malloc(GARBAGE_OBJECT);
    garbage[0] = 1;
    struct old *o = olds[shade_test_random(&rng) % old_count];
    o->words[1] = GEN_TAG | i; // not a pointer: nothing young survives through it
  }
  struct shade_stats after = shade_test_stats();
  uint64_t full = after.collections[2] - before.collections[2];
  uint64_t young = (after.collections[0] - before.collections[0]) - full;
  fprintf(stderr, "%zu MiB old heap written all over: %" PRIu64 " young and %" PRIu64
          " full collections, gen0 budget %.1f MiB\n", old_count * OLD_OBJECT >> 20, young, full,
          (double)after.gen0_budget / 1048576.0);
  // Without the rule: about two young collections per full one (gen0's budget is at most a
  // quarter of the goal). With it: a young one tries again after 1, 2, 4 full ones.
  SHADE_TEST_EXPECT(full >= 4);
  SHADE_TEST_EXPECTF(young * 2 <= full + 2, "%" PRIu64 " young collections for %" PRIu64
                     " full ones, each scanning the whole old heap", young, full);
  shade_free(olds);
}

int main(void) {
  gen_start(NULL);
  gen_require_generational();
  SHADE_TEST_RUN(test_young_collections_pause_when_they_scan_the_old_heap);
  return shade_test_finish();
}
