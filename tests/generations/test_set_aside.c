// test_set_aside.c (gen_set_aside, gen_set_aside_limited): after a young collection, spans dense
// with old objects take no new objects until the next full collection, so that the young objects
// a program writes (through the barrier: cards) are not placed among old ones whose card they
// share; else every young collection scans those old objects again.
//
// An old heap of 40-byte objects with a hole every eighth slot; then young cycles of 40-byte
// objects, initialised through shade_write, dropped, and a gen0 collection. The first cycle's
// young objects fill the holes, and its collection scans the old objects around them. Later
// cycles must scan few: their objects went to other spans. Counts of scanned objects, not
// timings. `limited`: under a memory limit nothing is set aside (every free slot counts), and
// the later cycles scan as many old objects as the first.
#include "gen_test.h"

enum { HOLE_EVERY = 8, CYCLES = 8 };

struct cell {
  struct cell *next;
  void *words[4];
}; // 40 bytes, as the cache workload's entries and requests

static struct cell **olds; // uncollectable: the roots of the old heap
static size_t old_count;

static void young_cycle(size_t count) {
  struct cell *head = NULL;
  for (size_t i = 0; i < count; i++) {
    struct cell *c = shade_malloc(sizeof *c);
    SHADE_TEST_EXPECT(c != NULL);
    shade_write(c, (void **)&c->next, head);
    head = c;
  }
  head = NULL;
  gen_collect_clean(0);
}

static uint64_t young_scanned(void) { return shade_test_stats().scanned_objects[0]; }

static void test_dense_spans_are_set_aside(bool limited) {
  old_count = (size_t)((double)(400u << 10) * shade_test_scale()); // 16 MiB of cells
  olds = shade_malloc_uncollectable(old_count * sizeof *olds);
  SHADE_TEST_EXPECT(olds != NULL);
  for (size_t i = 0; i < old_count; i++)
    olds[i] = shade_malloc(sizeof(struct cell));
  for (size_t i = 0; i < old_count; i += HOLE_EVERY)
    olds[i] = NULL;
  shade_collect(); // the rest is old; the dropped eighth are free slots among old objects
  size_t holes = old_count / HOLE_EVERY;
  young_cycle(holes); // into the holes: the first cycle scans old objects around them
  uint64_t first = young_scanned();
  uint64_t later_max = 0;
  for (int cycle = 1; cycle < CYCLES; cycle++) {
    young_cycle(holes);
    uint64_t scanned = young_scanned();
    later_max = scanned > later_max ? scanned : later_max;
  }
  fprintf(stderr, "%zu old cells, %zu holes: the first young collection scanned %" PRIu64
          " objects, the later ones at most %" PRIu64 "\n", old_count, holes, first, later_max);
  SHADE_TEST_EXPECTF(first >= old_count / 4, "the first young collection scanned %" PRIu64
                     " objects: the young cells did not go among the old ones", first);
  if (limited) // nothing set aside: the holes take young cells every cycle
    SHADE_TEST_EXPECTF(later_max >= first / 2, "later young collections scanned at most %" PRIu64
                       " objects, the first %" PRIu64, later_max, first);
  else
    SHADE_TEST_EXPECTF(later_max <= first / 10, "later young collections scanned up to %" PRIu64
                       " objects, the first %" PRIu64 ": dense spans were not set aside",
                       later_max, first);
  // The heap is intact: every old cell is still allocated.
  for (size_t i = 0; i < old_count; i++)
    SHADE_TEST_EXPECT(olds[i] == NULL || shade_generation(olds[i]) == 2 ||
                      shade_generation(olds[i]) == 1);
  shade_free(olds);
}

static bool limited;
static void test_set_aside(void) { test_dense_spans_are_set_aside(limited); }

int main(int argc, char **argv) {
  limited = argc > 1 && strcmp(argv[1], "limited") == 0;
  struct shade_options options = {.write_barrier = 1};
  if (limited)
    options.memory_limit = (size_t)1 << 30;
  gen_start(&options);
  gen_require_generational();
  SHADE_TEST_RUN(test_set_aside);
  return shade_test_finish();
}
