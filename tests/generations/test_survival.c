// test_survival.c (gen_survival): when young collections find most of generation 0 alive, the
// collections that allocation triggers are full ones for a while (a young collection would cost
// nearly what a full one does and promote what only a full one frees), and young collections
// come back once what is allocated dies young again; the young collection that tries again after
// a pause runs on a quarter of gen0's budget, so that it is short if most survive again. Counts of
// collections and bytes, not timings.
//
// Run with SHADE_GEN0_BUDGET=1 MiB: phase 1 allocates 32 MiB and keeps all of it (without the
// pause, about 32 young collections, every one promoting all it saw); phase 2 drops it and
// allocates 96 MiB of garbage (young collections again, once the pause is over).
#include "gen_test.h"

enum { OBJECT = 64, KEPT = (32 << 20) / OBJECT, GARBAGE = 96 << 20, BUDGET = 1 << 20 };

static void **kept; // from shade_malloc_uncollectable: a root, not a young object itself

struct counts {
  uint64_t young, full;
};

static struct counts counts_now(void) {
  struct shade_stats stats = shade_test_stats();
  return (struct counts){stats.collections[0] - stats.collections[2], stats.collections[2]};
}

static void test_young_collections_pause_while_most_survive(void) {
  kept = shade_malloc_uncollectable(KEPT * sizeof *kept);
  SHADE_TEST_EXPECT(kept != NULL);
  struct counts start = counts_now(), seen = start;
  // Each young collection, by what came before it: a full one (the trial that ends a pause, on a
  // quarter of gen0's budget) or a young one. Looked at every 4 KiB allocated.
  uint64_t trials = 0, trial_max = 0, others = 0, others_max = 0;
  bool after_full = false;
  for (size_t i = 0; i < KEPT; i++) {
    kept[i] = shade_malloc(OBJECT);
    memset(kept[i], 0x11, 16);
    if (i % 64 != 63)
      continue;
    struct shade_stats stats = shade_test_stats();
    struct counts now = {stats.collections[0] - stats.collections[2], stats.collections[2]};
    SHADE_TEST_EXPECT(now.young + now.full <= seen.young + seen.full + 1);
    if (now.full > seen.full)
      after_full = true;
    if (now.young > seen.young) {
      uint64_t collected = stats.generation_size_before[0];
      uint64_t *max = after_full ? &trial_max : &others_max;
      *max = collected > *max ? collected : *max;
      *(after_full ? &trials : &others) += 1;
      after_full = false;
    }
    seen = now;
  }
  fprintf(stderr, "young collections after a full one: %" PRIu64 ", gen0 at most %" PRIu64
          " KiB; the others: %" PRIu64 ", gen0 at most %" PRIu64 " KiB\n", trials,
          trial_max >> 10, others, others_max >> 10);
  SHADE_TEST_EXPECT(trials >= 1);
  SHADE_TEST_EXPECTF(trial_max <= (BUDGET / 4) + (64 << 10), "a young collection after a pause "
                     "collected %" PRIu64 " KiB, more than a quarter of the budget", trial_max >> 10);
  struct counts kept_phase = counts_now();
  uint64_t young = kept_phase.young - start.young, full = kept_phase.full - start.full;
  fprintf(stderr, "keeping 32 MiB: %" PRIu64 " young and %" PRIu64 " full collections\n", young,
          full);
  SHADE_TEST_EXPECTF(young <= 12, "%" PRIu64 " young collections while all of gen0 survived",
                     young);
  SHADE_TEST_EXPECT(full >= 1);

  memset(kept, 0, KEPT * sizeof *kept); // everything dies: young collections pay again
  for (size_t done = 0; done < GARBAGE; done += OBJECT) {
    unsigned char *volatile p = shade_malloc(OBJECT);
    p[0] = 1;
  }
  struct counts end = counts_now();
  young = end.young - kept_phase.young, full = end.full - kept_phase.full;
  fprintf(stderr, "96 MiB of garbage: %" PRIu64 " young and %" PRIu64 " full collections\n",
          young, full);
  SHADE_TEST_EXPECTF(young >= 16, "only %" PRIu64 " young collections for 96 MiB of garbage",
                     young);
  shade_free(kept);
}

int main(void) {
  gen_start(NULL);
  gen_require_generational();
  SHADE_TEST_RUN(test_young_collections_pause_while_most_survive);
  return shade_test_finish();
}
