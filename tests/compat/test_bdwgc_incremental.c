// test_bdwgc_incremental.c: bdwgc's incremental mode asked for before GC_init
// (GC_enable_incremental, as a program does before its first allocation) gives Shade's
// generations: young collections run, GC_is_incremental_mode says 1, and what the program keeps
// survives them intact (the heap verifier checks each collection under SHADE_VERIFY=1).
#define GC_THREADS 1
#define GC_NO_THREAD_REDIRECTS 1
#include <gc.h>

#include "../test_util.h"

struct node {
  struct node *next;
  GC_word value;
};

static void test_young_collections_run_and_keep_what_is_reachable(void) {
  uint64_t seed = shade_test_seed(), state = seed;
  struct node *kept = NULL;
  size_t count = 0;
  uint64_t young_before = shade_collection_count(0) - shade_collection_count(1);
  for (int i = 0; i < 400000; i++) {
    struct node *n = GC_malloc(sizeof *n); // mostly garbage at once
    n->value = (GC_word)i ^ seed;
    if (shade_test_random(&state) % 16 == 0) {
      n->next = kept; // an old list growing young nodes: old-to-young pointers
      kept = n;
      count++;
    }
  }
  uint64_t young = shade_collection_count(0) - shade_collection_count(1) - young_before;
  SHADE_TEST_EXPECTF(young >= 1, "%" PRIu64 " young collections", young);
  GC_gcollect();
  size_t seen = 0;
  for (struct node *n = kept; n != NULL; n = n->next, seen++)
    if ((n->value ^ seed) >= 400000) {
      SHADE_TEST_EXPECTF(0, "node %zu damaged", seen);
      break;
    }
  SHADE_TEST_EXPECT_EQ(seen, count);
}

int main(void) {
  const char *setting = getenv("SHADE_GENERATIONAL");
  if (setting != NULL && setting[0] != '\0')
    shade_test_skip("SHADE_GENERATIONAL is set: it decides");
  shade_test_capture_messages();
  GC_enable_incremental();
  GC_INIT();
  struct shade_stats stats;
  shade_get_stats(&stats);
  if (!stats.generational && shade_test_messages_contain("SHADE_GENERATIONAL", "not possible"))
    shade_test_skip("generations are not possible here (no write tracking from the kernel)");
  shade_test_stop_capturing_messages();
  SHADE_TEST_EXPECT_EQ(stats.generational, 1);
  SHADE_TEST_EXPECT_EQ(GC_is_incremental_mode(), 1);
  SHADE_TEST_EXPECT_EQ(stats.mode, SHADE_MODE_STW);
  SHADE_TEST_RUN(test_young_collections_run_and_keep_what_is_reachable);
  return shade_test_finish();
}
