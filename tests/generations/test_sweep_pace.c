// test_sweep_pace.c (gen_sweep_pace): with generations, the sweep a full collection leaves is
// paced to the next young collection's trigger, not to the pacer's (the heap goal's). A young
// collection comes long before the goal; had the sweep been paced to the goal, the young
// collection's sweep termination would sweep most of the heap at its start, on the thread that
// triggered it (churn: 40-50 ms on a 1.4 GB heap before a young collection of a few ms).
//
// An "old" class of small objects fills many spans (with automatic collections disabled, so that
// young ones, finding everything alive, do not pause), kept in a list until a full collection
// made them old; then three in four are dropped, and a full collection leaves those spans
// unswept. Then the program allocates only objects of another class, dropped at once, until
// three young collections by allocation have run (gen0's budget: 4 MiB, a third of the way to
// the goal; the pace sweeps at most 32 spans per span a thread takes, enough for the old class's
// 8,192 pages in that budget). A trial young collection, after a pause of young ones, runs on a
// sixteenth of gen0's floor, too little to sweep a large heap in: the pace leaves it out, and
// this test has no pause. Counts, not timings:
//   - sweep_termination_pages over those collections is under 10% of the old class's pages;
//   - sweep_paced_pages grew by at least 90% of them;
//   - the list is intact (the verifier checks every collection too).
#include "gen_test.h"

#define OLD_SIZE 48
#define NEW_SIZE 1024
#define NODE_MAGIC 0x0DD5EE9ACE5EE9A0ull

struct node {
  uint64_t magic;
  uint64_t key; // tagged
  struct node *next;
  uint64_t pad[3]; // OLD_SIZE bytes in all
};

static struct node *live_list; // global: a root

// Every node in the list, kept (young collections run meanwhile).
static SHADE_TEST_NOINLINE void fill_old_class(size_t nodes) {
  struct node *next = NULL;
  for (size_t i = 0; i < nodes; i++) {
    struct node *n = shade_malloc(sizeof *n);
    SHADE_TEST_EXPECT(n != NULL);
    n->magic = NODE_MAGIC;
    n->key = i | GEN_TAG;
    n->next = next;
    next = n;
  }
  live_list = next;
}

// Keeps one node in four (in every span): the others are old garbage.
static SHADE_TEST_NOINLINE size_t drop_most(void) {
  size_t kept = 0;
  for (struct node *n = live_list; n != NULL; n = n->next, kept++) {
    struct node *keep = n->next;
    for (int i = 0; i < 3 && keep != NULL; i++)
      keep = keep->next;
    n->next = keep;
  }
  return kept;
}

// The nodes of the list that are still what they were made as.
static size_t intact_nodes(void) {
  size_t ok = 0;
  for (const struct node *n = live_list; n != NULL; n = n->next)
    ok += n->magic == NODE_MAGIC && (n->key & GEN_TAG) != 0;
  return ok;
}

static void test_young_collections_find_the_heap_swept(void) {
  size_t nodes = 1u << 20; // 48 MiB (not scaled: the way to the goal must be long)
  shade_disable(); // no young collection by allocation, which would pause them (all survive)
  fill_old_class(nodes);
  shade_enable();
  gen_collect_clean(2); // every node old
  uint64_t old_pages = shade_test_stats().heap_in_use / 8192;
  size_t kept = drop_most();
  gen_collect_clean(2); // the old class's spans: unswept, three quarters garbage
  struct shade_stats before = shade_test_stats();
  SHADE_TEST_EXPECTF(before.heap_goal > before.heap_in_use + 2 * before.gen0_budget,
                     "goal %" PRIu64 ", in use %" PRIu64 ", gen0 budget %" PRIu64
                     ": the young trigger is not well before the goal", before.heap_goal,
                     before.heap_in_use, before.gen0_budget);
  size_t allocated = 0; // objects of another class than the old one, dropped at once
  while (shade_test_stats().collections[0] < before.collections[0] + 3) {
    unsigned char *volatile p = shade_malloc_atomic(NEW_SIZE);
    p[0] = 1;
    SHADE_TEST_EXPECTF(++allocated < 1u << 20, "no third young collection after %zu MiB",
                       allocated * NEW_SIZE >> 20);
  }
  struct shade_stats after = shade_test_stats();
  uint64_t termination = after.sweep_termination_pages - before.sweep_termination_pages;
  uint64_t paced = after.sweep_paced_pages - before.sweep_paced_pages;
  fprintf(stderr, "old class: %" PRIu64 " pages, %zu live nodes; %" PRIu64 " young and %" PRIu64
          " full collections: %" PRIu64 " pages paced, %" PRIu64 " left to sweep termination\n",
          old_pages, kept, after.collections[0] - before.collections[0],
          after.collections[2] - before.collections[2], paced, termination);
  SHADE_TEST_EXPECTF(after.collections[2] == before.collections[2],
                     "%" PRIu64 " full collections: the goal was reached",
                     after.collections[2] - before.collections[2]);
  SHADE_TEST_EXPECTF(termination * 10 < old_pages,
                     "%" PRIu64 " pages left to sweep termination (old class: %" PRIu64 ")",
                     termination, old_pages);
  SHADE_TEST_EXPECTF(paced * 10 >= old_pages * 9,
                     "only %" PRIu64 " pages paced (old class: %" PRIu64 ")", paced, old_pages);
  size_t intact = intact_nodes();
  SHADE_TEST_EXPECTF(intact == kept, "%zu of %zu live nodes intact", intact, kept);
}

int main(void) {
  gen_start(NULL);
  gen_require_generational();
  test_young_collections_find_the_heap_swept();
  gen_print_stats("end");
  return shade_test_finish();
}
