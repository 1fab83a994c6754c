// test_set_aside.c (gen_set_aside, gen_set_aside_limited): after a generational collection, spans
// dense with survivors take no new objects until the next gen1 or full collection, so that the
// young objects a program writes (through the barrier: cards) are not placed among old ones whose
// card they share; else every young collection scans those old objects again. Counts of scanned
// objects, not timings; 40-byte cells, as the cache workload's entries and requests.
// `limited`: under a memory limit nothing is set aside (every free slot counts), and the young
// collections scan the old neighbours.
#include "gen_test.h"

enum { HOLE_EVERY = 8, CYCLES = 8 };

struct cell {
  struct cell *next;
  void *words[4];
}; // 40 bytes, as the cache workload's entries and requests

static struct cell **olds; // uncollectable: the roots of the old heap
static size_t old_count;

// count cells, each storing a pointer (to itself) through the barrier, dropped; a gen0 collection.
// (Not chained: a stale copy of one cell's address must not keep the others.)
static void young_cycle(size_t count) {
  for (size_t i = 0; i < count; i++) {
    struct cell *c = shade_malloc(sizeof *c);
    SHADE_TEST_EXPECT(c != NULL);
    shade_write(c, (void **)&c->next, c);
  }
  gen_collect_clean(0);
}

static uint64_t young_scanned(void) { return shade_test_stats().scanned_objects[0]; }

// After a full collection: the free slots among old objects wait for the next one.
static void test_after_a_full_collection(bool limited) {
  old_count = (size_t)((double)(400u << 10) * shade_test_scale()); // 16 MiB of cells
  olds = shade_malloc_uncollectable(old_count * sizeof *olds);
  SHADE_TEST_EXPECT(olds != NULL);
  for (size_t i = 0; i < old_count; i++)
    olds[i] = shade_malloc(sizeof(struct cell));
  for (size_t i = 0; i < old_count; i += HOLE_EVERY)
    olds[i] = NULL;
  shade_collect(); // the rest is old; the dropped eighth are free slots among old objects
  size_t holes = old_count / HOLE_EVERY;
  uint64_t most = 0;
  for (int cycle = 0; cycle < CYCLES; cycle++) {
    young_cycle(holes);
    uint64_t scanned = young_scanned();
    most = scanned > most ? scanned : most;
  }
  fprintf(stderr, "%zu old cells, %zu free slots among them: young collections scanned at most %"
          PRIu64 " objects\n", old_count, holes, most);
  if (limited) // nothing set aside: the young cells take the free slots, beside old ones
    SHADE_TEST_EXPECTF(most >= old_count / 4, "young collections scanned at most %" PRIu64
                       " objects: the young cells did not go among the old ones", most);
  else
    SHADE_TEST_EXPECTF(most <= old_count / 20, "a young collection scanned %" PRIu64 " objects: "
                       "the young cells went among the old ones", most);
  for (size_t i = 0; i < old_count; i++) // every old cell is still allocated, and old
    SHADE_TEST_EXPECT(olds[i] == NULL || shade_generation(olds[i]) >= 1);
  shade_free(olds);
}

// After young collections: a cycle keeps a quarter of its cells (they become gen1, then gen2),
// and its spans, a quarter full of survivors, wait; else the next cycle's cells fill the free
// slots between the survivors, whose cards they set, and every young collection scans the last
// cycle's survivors again besides its own.
static void test_after_young_collections(bool limited) {
  size_t per_cycle = (size_t)((double)(16u << 10) * shade_test_scale());
  size_t kept_count = per_cycle / 4 * CYCLES;
  struct cell **kept = shade_malloc_uncollectable(kept_count * sizeof *kept);
  SHADE_TEST_EXPECT(kept != NULL);
  size_t k = 0;
  uint64_t most = 0;
  for (int cycle = 0; cycle < CYCLES; cycle++) {
    for (size_t i = 0; i < per_cycle; i++) {
      struct cell *c = shade_malloc(sizeof *c);
      SHADE_TEST_EXPECT(c != NULL);
      shade_write(c, (void **)&c->next, c);
      if (i % 4 == 0 && k < kept_count)
        kept[k++] = c; // (a root: the uncollectable array)
    }
    gen_collect_clean(0);
    uint64_t scanned = young_scanned();
    if (cycle > 0)
      most = scanned > most ? scanned : most;
  }
  fprintf(stderr, "%zu cells a cycle, a quarter kept: young collections after the first scanned "
          "at most %" PRIu64 " objects\n", per_cycle, most);
  // Scanned either way: the quarter kept this cycle (young, reached from the roots). Besides,
  // reusing the free slots: the survivors of the cycles before on the cards the new cells set.
  if (limited)
    SHADE_TEST_EXPECTF(most >= per_cycle / 4 + per_cycle / 8, "young collections scanned at "
                       "most %" PRIu64 " objects: the new cells did not go among the kept ones",
                       most);
  else
    SHADE_TEST_EXPECTF(most <= per_cycle / 4 + per_cycle / 32, "a young collection scanned %"
                       PRIu64 " objects: the new cells went among the kept ones", most);
  for (size_t i = 0; i < k; i++)
    SHADE_TEST_EXPECT(shade_generation(kept[i]) >= 1);
  shade_free(kept);
}

static bool limited;
static void test_set_aside_after_young_collections(void) { test_after_young_collections(limited); }
static void test_set_aside_after_a_full_collection(void) { test_after_a_full_collection(limited); }

int main(int argc, char **argv) {
  limited = argc > 1 && strcmp(argv[1], "limited") == 0;
  struct shade_options options = {.write_barrier = 1};
  if (limited)
    options.memory_limit = (size_t)1 << 30;
  gen_start(&options);
  gen_require_generational();
  // (the full collection's test first: its old heap makes a heap goal whose sixteenth, the limit
  // of what is set aside, holds what the young collections' test sets aside)
  SHADE_TEST_RUN(test_set_aside_after_a_full_collection);
  SHADE_TEST_RUN(test_set_aside_after_young_collections);
  return shade_test_finish();
}
