// test_generations.c: thresholds, counts, promotion, the 25% rule, enable/disable, freeze,
// get_objects and the collection callbacks.
#include "rc_test.h"

struct call {
  enum shade_rc_phase phase;
  struct shade_rc_collect_info info;
};
static struct call calls[64];
static int call_count;
static void record(enum shade_rc_phase phase, const struct shade_rc_collect_info *info, void *arg) {
  (void)arg;
  if (call_count < 64)
    calls[call_count++] = (struct call){phase, *info};
}

static void test_default_thresholds(void) {
  long t[3];
  shade_rc_get_threshold(t);
  SHADE_TEST_EXPECT_EQ(t[0], 700);
  SHADE_TEST_EXPECT_EQ(t[1], 10);
  SHADE_TEST_EXPECT_EQ(t[2], 10);
  shade_rc_set_threshold(5, 6, 7);
  shade_rc_get_threshold(t);
  SHADE_TEST_EXPECT(t[0] == 5 && t[1] == 6 && t[2] == 7);
  SHADE_TEST_EXPECT(shade_rc_is_enabled());
}

// Generation 0's count is container allocations minus deallocations; atomic objects do not count.
static void test_count_is_allocations_minus_deallocations(void) {
  long c[3];
  shade_rc_get_count(c);
  SHADE_TEST_EXPECT_EQ(c[0], 0);
  struct node *a = node_new(1), *b = node_new(2);
  void *leaf = shade_rc_new(&leaf_type);
  shade_rc_get_count(c);
  SHADE_TEST_EXPECT_EQ(c[0], 2);
  shade_decref(a);
  shade_rc_get_count(c);
  SHADE_TEST_EXPECT_EQ(c[0], 1);
  shade_decref(b);
  shade_decref(leaf);
  shade_rc_collect(0);
  shade_rc_get_count(c);
  SHADE_TEST_EXPECT(c[0] == 0 && c[1] == 1 && c[2] == 0);
  shade_rc_collect(1);
  shade_rc_get_count(c);
  SHADE_TEST_EXPECT(c[0] == 0 && c[1] == 0 && c[2] == 1);
}

// Passing threshold 0 collects generation 0 automatically; survivors move to generation 1, and
// every threshold-1 collections of generation 0, generation 1 is collected too.
static void test_threshold_triggers_collection_and_promotion(void) {
  shade_rc_set_threshold(10, 3, 1000);
  call_count = 0;
  shade_rc_add_callback(record, NULL);
  struct node *kept[10];
  for (int i = 0; i < 10; i++)
    kept[i] = node_new(i);
  SHADE_TEST_EXPECT_EQ(call_count, 0);
  SHADE_TEST_EXPECT_EQ(shade_rc_get_objects(0, NULL, 0), 10);
  struct node *eleventh = node_new(10); // count passes 10: generation 0 is collected first
  SHADE_TEST_EXPECT_EQ(call_count, 2);
  SHADE_TEST_EXPECT(calls[0].phase == SHADE_RC_START && calls[0].info.generation == 0);
  SHADE_TEST_EXPECT(calls[1].phase == SHADE_RC_STOP && calls[1].info.generation == 0);
  SHADE_TEST_EXPECT_EQ(shade_rc_get_objects(1, NULL, 0), 10);
  SHADE_TEST_EXPECT_EQ(shade_rc_get_objects(0, NULL, 0), 1);
  void *objs[16];
  SHADE_TEST_EXPECT_EQ(shade_rc_get_objects(0, objs, 16), 1);
  SHADE_TEST_EXPECT(objs[0] == eleventh);
  // Generation 1's count is now 1. When it passes 3 (after the fourth generation-0 collection),
  // the next collection is of generation 1, and promotes its survivors to generation 2.
  struct node *hold[100];
  int held = 0;
  while (call_count < 10 && held < 100)
    hold[held++] = node_new(0);
  SHADE_TEST_EXPECT_EQ(call_count, 10);
  for (int i = 2; i < 8; i += 2)
    SHADE_TEST_EXPECT_EQ(calls[i].info.generation, 0);
  SHADE_TEST_EXPECT_EQ(calls[8].info.generation, 1);
  SHADE_TEST_EXPECT(shade_rc_get_objects(2, NULL, 0) >= 10); // promoted from 1 to 2
  shade_rc_remove_callback(record, NULL);
  for (int i = 0; i < 10; i++)
    shade_decref(kept[i]);
  for (int i = 0; i < held; i++)
    shade_decref(hold[i]);
  shade_decref(eleventh);
}

// Garbage cycles are found by the automatic collections, without any explicit call.
static void test_automatic_collection_frees_cycles(void) {
  long before = atomic_load(&nodes_finalized);
  for (int i = 0; i < 5000; i++) {
    struct node *n = node_new(i);
    link_to(&n->left, n);
    shade_decref(n);
  }
  SHADE_TEST_EXPECT(atomic_load(&nodes_finalized) - before >= 5000 - 701);
}

// disable stops automatic collection; collect still works.
static void test_disable_stops_automatic_collection(void) {
  shade_rc_disable();
  SHADE_TEST_EXPECT(!shade_rc_is_enabled());
  long before = atomic_load(&nodes_finalized);
  for (int i = 0; i < 2000; i++) {
    struct node *n = node_new(i);
    link_to(&n->left, n);
    shade_decref(n);
  }
  SHADE_TEST_EXPECT_EQ(atomic_load(&nodes_finalized), before);
  long c[3];
  shade_rc_get_count(c);
  SHADE_TEST_EXPECT_EQ(c[0], 2000);
  SHADE_TEST_EXPECT_EQ(shade_rc_collect(2), 2000);
  shade_rc_enable();
  SHADE_TEST_EXPECT(shade_rc_is_enabled());
}

// threshold0 = 0 turns automatic collection off too.
static void test_threshold_zero_turns_automatic_collection_off(void) {
  shade_rc_set_threshold(0, 10, 10);
  for (int i = 0; i < 1000; i++) {
    struct node *n = node_new(i);
    link_to(&n->left, n);
    shade_decref(n);
  }
  SHADE_TEST_EXPECT_EQ(shade_rc_get_objects(0, NULL, 0), 1000);
}

// The oldest generation is collected automatically only when the objects promoted into it since
// its last full collection are more than a quarter of those that survived it.
static void test_oldest_generation_waits_for_a_quarter(void) {
  shade_rc_set_threshold(100, 1, 1);
  shade_rc_disable();
  enum { LONG_LIVED = 4000 };
  static struct node *long_lived[LONG_LIVED];
  for (int i = 0; i < LONG_LIVED; i++)
    long_lived[i] = node_new(i);
  shade_rc_collect(2); // long_lived_total = 4000
  shade_rc_enable();
  struct shade_rc_gen_stats before[3], after[3];
  shade_rc_get_stats(before);
  // Short-lived garbage only: gen 2's count passes its threshold but nothing is pending.
  for (int i = 0; i < 3000; i++) {
    struct node *n = node_new(i);
    link_to(&n->left, n);
    shade_decref(n);
  }
  shade_rc_get_stats(after);
  SHADE_TEST_EXPECT(after[0].collections > before[0].collections);
  SHADE_TEST_EXPECT(after[1].collections > before[1].collections);
  SHADE_TEST_EXPECT_EQ(after[2].collections, before[2].collections);
  // Survivors: once more than 1000 have been promoted into generation 2, it is collected.
  static struct node *survivors[1200];
  for (int i = 0; i < 1200; i++)
    survivors[i] = node_new(i);
  for (int i = 0; i < 1000; i++) {
    struct node *n = node_new(i);
    link_to(&n->left, n);
    shade_decref(n);
  }
  shade_rc_get_stats(after);
  SHADE_TEST_EXPECT(after[2].collections > before[2].collections);
  for (int i = 0; i < LONG_LIVED; i++)
    shade_decref(long_lived[i]);
  for (int i = 0; i < 1200; i++)
    shade_decref(survivors[i]);
}

// Frozen objects are in the permanent generation, which no collection looks at.
static void test_freeze_and_unfreeze(void) {
  struct node *a = node_new(1);
  link_to(&a->left, a);
  struct node *b = node_new(2);
  shade_rc_freeze();
  SHADE_TEST_EXPECT_EQ(shade_rc_get_freeze_count(), 2);
  SHADE_TEST_EXPECT_EQ(shade_rc_get_objects(-1, NULL, 0), 0);
  shade_decref(a); // garbage, but frozen
  SHADE_TEST_EXPECT_EQ(shade_rc_collect(2), 0);
  SHADE_TEST_EXPECT_EQ(shade_rc_get_freeze_count(), 2);
  shade_decref(b); // frozen objects still die at count zero
  SHADE_TEST_EXPECT_EQ(shade_rc_get_freeze_count(), 1);
  shade_rc_unfreeze();
  SHADE_TEST_EXPECT_EQ(shade_rc_get_freeze_count(), 0);
  SHADE_TEST_EXPECT_EQ(shade_rc_get_objects(2, NULL, 0), 1);
  SHADE_TEST_EXPECT_EQ(shade_rc_collect(2), 1);
}

// Callbacks are called at the start and end of each collection with the generation and the
// numbers found; removed callbacks are not called.
static void test_callbacks_report_each_collection(void) {
  call_count = 0;
  SHADE_TEST_EXPECT_EQ(shade_rc_add_callback(record, NULL), 0);
  struct node *a = node_new(1);
  link_to(&a->left, a);
  shade_decref(a);
  shade_rc_collect(1);
  SHADE_TEST_EXPECT_EQ(call_count, 2);
  SHADE_TEST_EXPECT(calls[0].phase == SHADE_RC_START && calls[0].info.generation == 1);
  SHADE_TEST_EXPECT(calls[1].phase == SHADE_RC_STOP && calls[1].info.collected == 1);
  SHADE_TEST_EXPECT_EQ(calls[1].info.uncollectable, 0);
  SHADE_TEST_EXPECT_EQ(shade_rc_remove_callback(record, NULL), 0);
  SHADE_TEST_EXPECT_EQ(shade_rc_remove_callback(record, NULL), -1);
  shade_rc_collect(0);
  SHADE_TEST_EXPECT_EQ(call_count, 2);
}

// A collection requested while one runs (from a finalizer) returns 0 and changes nothing.
static size_t nested_result = 99;
static void collecting_finalize(void *obj) {
  (void)obj;
  nested_result = shade_rc_collect(2);
}
static struct shade_rc_type collecting_type = {.name = "collecting",
                                               .size = sizeof(struct node),
                                               .traverse = node_traverse,
                                               .clear = node_clear,
                                               .finalize = collecting_finalize};
static void test_collection_inside_collection_does_nothing(void) {
  struct node *n = shade_rc_new(&collecting_type);
  link_to(&n->left, n);
  shade_decref(n);
  SHADE_TEST_EXPECT_EQ(shade_rc_collect(2), 1);
  SHADE_TEST_EXPECT_EQ(nested_result, 0);
}

int main(void) {
  shade_test_between_tests(rc_test_reset);
  SHADE_TEST_RUN(test_default_thresholds);
  SHADE_TEST_RUN(test_count_is_allocations_minus_deallocations);
  SHADE_TEST_RUN(test_threshold_triggers_collection_and_promotion);
  SHADE_TEST_RUN(test_automatic_collection_frees_cycles);
  SHADE_TEST_RUN(test_disable_stops_automatic_collection);
  SHADE_TEST_RUN(test_threshold_zero_turns_automatic_collection_off);
  SHADE_TEST_RUN(test_oldest_generation_waits_for_a_quarter);
  SHADE_TEST_RUN(test_freeze_and_unfreeze);
  SHADE_TEST_RUN(test_callbacks_report_each_collection);
  SHADE_TEST_RUN(test_collection_inside_collection_does_nothing);
  return shade_test_finish();
}
