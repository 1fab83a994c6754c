// test_sweep_pace.c (conc_sweep_pace_{concurrent,incremental,stw}): proportional sweeping.
//
// Small objects of one size (the "old" class) fill many spans, some kept live in a list, the
// rest garbage. Then the program allocates only objects of another size (the "new" class) for
// several cycles. Lazy sweeping alone would never touch the old class's spans, and each cycle's
// start would sweep them all at once on the allocating thread (in incremental mode that was the
// slowest allocation on churn: 6-15 ms). With the sweep pacer, allocating threads sweep them as
// the heap grows, so sweep termination finds (almost) nothing left:
//   - stats.sweep_termination_pages grows by under 10% of the old class's pages per cycle (its
//     pages: those holding live nodes, a lower bound);
//   - incremental and stw, where nobody else sweeps the old class: stats.sweep_paced_pages grows
//     by at least 90% of them per cycle, and in proportion: 10-80% of it in the first quarter of
//     the way from the live heap to the goal. (Concurrent mode's background sweeper may get
//     there first, so its variant checks only that cycles start with everything swept, which
//     it would without the pacer too);
//   - the live list is intact afterwards (paced sweeping freed nothing reachable; the verifier
//     checks every cycle too).
#include "conc_test.h"

#define OLD_SIZE 48
#define NEW_SIZE 1024
#define NODE_MAGIC 0x5EE9ACE5EE9ACE5Eull

struct node {
  uint64_t magic;
  uint64_t key; // tagged position
  struct node *next;
  void *unused;
  uint64_t pad[2]; // OLD_SIZE bytes in all
};

static struct node *live_list; // global: SHADE_STORE

static SHADE_TEST_NOINLINE void fill_old_class(size_t live_nodes, size_t garbage_nodes) {
  struct node *next = NULL;
  for (size_t i = 0; i < live_nodes + garbage_nodes; i++) {
    struct node *n = shade_malloc(sizeof *n);
    n->magic = NODE_MAGIC;
    if (i % (1 + garbage_nodes / live_nodes) == 0) { // live ones spread over every span
      n->key = CONC_TAG | i;
      shade_write(n, (void **)&n->next, next);
      next = n;
    }
  }
  SHADE_STORE(live_list, next);
}

static int compare_words(const void *a, const void *b) {
  uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
  return (x > y) - (x < y);
}

// The 8 KiB pages (Shade's page size) holding live nodes: each cycle leaves their spans unswept.
static size_t live_pages(size_t count) {
  uintptr_t *pages = malloc(count * sizeof *pages);
  SHADE_TEST_EXPECT(pages != NULL);
  size_t n = 0, distinct = 0;
  for (const struct node *p = live_list; p != NULL && n < count; p = p->next)
    pages[n++] = (uintptr_t)p >> 13;
  qsort(pages, n, sizeof *pages, compare_words);
  for (size_t i = 0; i < n; i++)
    distinct += i == 0 || pages[i] != pages[i - 1];
  free(pages);
  return distinct;
}

static size_t check_list(void) {
  size_t bad = 0, count = 0;
  for (const struct node *n = live_list; n != NULL; n = n->next, count++)
    if (n->magic != NODE_MAGIC || !(n->key & CONC_TAG))
      bad++;
  SHADE_TEST_EXPECTF(bad == 0, "%zu of %zu live nodes damaged", bad, count);
  return count;
}

static SHADE_TEST_NOINLINE void allocate_new_class(void) {
  for (int i = 0; i < 64; i++) {
    unsigned char *volatile p = shade_malloc_atomic(NEW_SIZE);
    p[0] = 1;
  }
}

// Allocates until a cycle ends (0 if none did within 1 GiB) or, with `until_in_use`, until
// heap_in_use reaches it.
static SHADE_TEST_NOINLINE int allocate_until(uint64_t cycles_before, uint64_t until_in_use) {
  for (size_t done = 0; done < ((size_t)1 << 30); done += NEW_SIZE * 64) {
    struct shade_stats now = shade_test_stats();
    if (now.cycles != cycles_before || (until_in_use && now.heap_in_use >= until_in_use))
      return 1;
    allocate_new_class();
  }
  return 0;
}

static void test_old_spans_are_swept_before_the_next_cycle(void) {
  size_t garbage = shade_test_scaled(400000, 40000), live = garbage / 8;
  fill_old_class(live, garbage);
  size_t kept = check_list();
  size_t old_pages = live_pages(kept);
  // Two cycles: after the first the old class's spans are unswept (its garbage dead).
  for (int i = 0; i < 2; i++)
    SHADE_TEST_EXPECT(allocate_until(shade_test_stats().cycles, 0));
  struct shade_stats before = shade_test_stats();
  const int rounds = 4;
  uint64_t paced_early = 0;
  for (int i = 0; i < rounds; i++) {
    struct shade_stats start = shade_test_stats();
    // A quarter of the way to the goal (the trigger is at or before it): in proportion, not all
    // swept yet.
    uint64_t quarter = start.heap_in_use + (start.heap_goal - start.heap_in_use) / 4;
    allocate_until(start.cycles, quarter);
    struct shade_stats early = shade_test_stats();
    if (early.cycles == start.cycles)
      paced_early += early.sweep_paced_pages - start.sweep_paced_pages;
    SHADE_TEST_EXPECTF(allocate_until(start.cycles, 0), "no cycle after 1 GiB (round %d)", i);
  }
  struct shade_stats after = shade_test_stats();
  uint64_t termination = after.sweep_termination_pages - before.sweep_termination_pages;
  uint64_t paced = after.sweep_paced_pages - before.sweep_paced_pages;
  fprintf(stderr, "old class: %zu pages, %zu live nodes; over %d cycles: %" PRIu64
          " pages paced (%" PRIu64 " in the first quarters), %" PRIu64
          " left to sweep termination\n",
          old_pages, kept, rounds, paced, paced_early, termination);
  SHADE_TEST_EXPECTF(after.cycles - before.cycles == (uint64_t)rounds,
                     "%" PRIu64 " cycles in %d rounds", after.cycles - before.cycles, rounds);
  SHADE_TEST_EXPECTF(termination * 10 < old_pages * rounds,
                     "%" PRIu64 " pages left to sweep termination in %d cycles (old class: %zu)",
                     termination, rounds, old_pages);
  if (conc_mode != SHADE_MODE_CONCURRENT) {
    // Nobody else sweeps the old class in these modes: paced + termination covers it each cycle.
    SHADE_TEST_EXPECTF(paced * 10 >= old_pages * rounds * 9,
                       "only %" PRIu64 " pages paced in %d cycles (old class: %zu)", paced,
                       rounds, old_pages);
    // ... and in proportion to the growth: some, not all, in the first quarter of the way.
    SHADE_TEST_EXPECTF(paced_early * 10 >= paced && paced_early * 10 <= paced * 8,
                       "%" PRIu64 " of %" PRIu64 " paced pages swept in the first quarters",
                       paced_early, paced);
  }
  SHADE_TEST_EXPECT(check_list() == kept);
}

int main(int argc, char **argv) {
  int mode = conc_mode_from_args(argc, argv);
  conc_start(mode, (struct conc_pacing){.gc_percent = 100, .min_heap_goal = 4 << 20});
  SHADE_TEST_RUN(test_old_spans_are_swept_before_the_next_cycle);
  return shade_test_finish();
}
