// test_misuse.c: each misuse gets one message naming the call, the object and its type, and is
// then ignored (the tests capture the messages with shade_test_capture_messages). Run with
// SHADE_RC_DEBUG=1 (set here too): freed objects wait in a quarantine, so a use after free is
// recognised as such.
#include "rc_test.h"

// A decrement of a freed object.
static void test_decref_of_freed_object_is_reported(void) {
  struct node *n = node_new(1);
  shade_decref(n);
  shade_test_capture_messages();
  shade_decref(n);
  shade_test_stop_capturing_messages();
  char expected[128];
  snprintf(expected, sizeof expected, "shade: shade_decref(%p): use of a freed object (type node)",
           (void *)n);
  SHADE_TEST_EXPECT(shade_test_messages_contain(expected, NULL));
}

// An increment of a freed object, in code compiled with the checks (SHADE_RC_CHECKS).
static void test_checked_incref_of_freed_object_is_reported(void) {
  void *leaf = shade_rc_new(&leaf_type);
  shade_decref(leaf);
  shade_test_capture_messages();
  if (shade_rc__head(leaf)->shade_count == 0) // what shade_incref checks when SHADE_RC_CHECKS is 1
    shade_rc__incref_dead(leaf);
  shade_test_stop_capturing_messages();
  SHADE_TEST_EXPECT(
      shade_test_messages_contain("shade_incref(", "use of a freed object (type leaf)"));
}

// A decrement below zero: here, a clear function that drops its own object's reference while the
// object is being freed (count already 0).
static void self_dropping_clear(void *obj) { shade_decref(obj); }
static struct shade_rc_type bad_clear_type = {.name = "bad_clear",
                                              .size = sizeof(struct node),
                                              .traverse = node_traverse,
                                              .clear = self_dropping_clear};
static void test_decref_below_zero_is_reported(void) {
  void *obj = shade_rc_new(&bad_clear_type);
  shade_test_capture_messages();
  shade_decref(obj);
  shade_test_stop_capturing_messages();
  char expected[128];
  snprintf(expected, sizeof expected, "shade: shade_decref(%p): count below zero (type bad_clear)",
           obj);
  SHADE_TEST_EXPECT(shade_test_messages_contain(expected, NULL));
}

// Tracking an object whose type has no traverse.
static void test_tracking_atomic_object_is_reported(void) {
  void *leaf = shade_rc_new(&leaf_type);
  shade_test_capture_messages();
  shade_rc_track(leaf);
  shade_test_stop_capturing_messages();
  char expected[160];
  snprintf(expected, sizeof expected, "shade: shade_rc_track(%p): the type has no traverse", leaf);
  SHADE_TEST_EXPECT(shade_test_messages_contain(expected, "(type leaf)"));
  SHADE_TEST_EXPECT(!shade_rc_is_tracked(leaf));
  shade_decref(leaf);
}

// Other calls on a freed object, and bad type descriptions.
static void test_other_misuse_is_reported(void) {
  struct node *n = node_new(1);
  shade_decref(n);
  shade_test_capture_messages();
  shade_rc_track(n);
  SHADE_TEST_EXPECT(shade_rc_weakref_new(n, NULL, NULL) == NULL);
  static struct shade_rc_type no_size = {.name = "no_size"};
  SHADE_TEST_EXPECT(shade_rc_new(&no_size) == NULL);
  SHADE_TEST_EXPECT_EQ(shade_rc_collect(3), 0);
  shade_test_stop_capturing_messages();
  SHADE_TEST_EXPECT(
      shade_test_messages_contain("shade_rc_track(", "use of a freed object (type node)"));
  SHADE_TEST_EXPECT(shade_test_messages_contain("shade_rc_weakref_new(", "freed"));
  SHADE_TEST_EXPECT(
      shade_test_messages_contain("neither a size nor a size function (type no_size)", NULL));
  SHADE_TEST_EXPECT(shade_test_messages_contain("no such generation", NULL));
}

// Once RC objects are shared between threads (the lock has been taken), a call without the lock
// is reported. Last: it changes the mode of the whole program.
static void test_call_without_lock_is_reported(void) {
  shade_rc_lock();
  shade_rc_unlock();
  shade_test_capture_messages();
  void *leaf = shade_rc_new(&leaf_type);
  shade_test_stop_capturing_messages();
  SHADE_TEST_EXPECT(shade_test_messages_contain("shade_rc_new(", "without the RC lock"));
  shade_rc_lock();
  shade_test_capture_messages();
  shade_decref(leaf);
  shade_rc_lock(); // recursive
  shade_rc_collect(2);
  shade_rc_unlock();
  shade_test_stop_capturing_messages();
  SHADE_TEST_EXPECT(shade_test_message_count_now() == 0);
  shade_rc_unlock();
}

int main(void) {
  setenv("SHADE_RC_DEBUG", "1", 1);
  shade_test_between_tests(rc_test_reset);
  SHADE_TEST_RUN(test_decref_of_freed_object_is_reported);
  SHADE_TEST_RUN(test_checked_incref_of_freed_object_is_reported);
  SHADE_TEST_RUN(test_decref_below_zero_is_reported);
  SHADE_TEST_RUN(test_tracking_atomic_object_is_reported);
  SHADE_TEST_RUN(test_other_misuse_is_reported);
  // Once the lock has been used, rc_test_reset would be a call without it.
  shade_test_between_tests(NULL);
  SHADE_TEST_RUN(test_call_without_lock_is_reported);
  return shade_test_finish();
}
