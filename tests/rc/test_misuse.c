// test_misuse.c: each misuse gets one message naming the call, the object and its type, and is
// then ignored. Run with SHADE_RC_DEBUG=1 (set here too): freed objects wait in a quarantine, so a
// use after free is recognised as such.
#include "rc_test.h"

#include <stdio.h>

static bool has(const char *text, const char *needle) { return strstr(text, needle) != NULL; }

// A decrement of a freed object.
static void test_decref_of_freed_object_is_reported(void) {
  struct node *n = node_new(1);
  shade_decref(n);
  rc_capture_begin();
  shade_decref(n);
  const char *text = rc_capture_end();
  char expected[128];
  snprintf(expected, sizeof expected, "shade: shade_decref(%p): use of a freed object (type node)",
           (void *)n);
  RC_EXPECT(has(text, expected));
}

// An increment of a freed object, in code compiled with the checks (SHADE_RC_CHECKS).
static void test_checked_incref_of_freed_object_is_reported(void) {
  void *leaf = shade_rc_new(&leaf_type);
  shade_decref(leaf);
  rc_capture_begin();
  if (shade_rc__head(leaf)->shade_count == 0) // what shade_incref checks when SHADE_RC_CHECKS is 1
    shade_rc__incref_dead(leaf);
  const char *text = rc_capture_end();
  RC_EXPECT(has(text, "shade_incref(") && has(text, "use of a freed object (type leaf)"));
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
  rc_capture_begin();
  shade_decref(obj);
  const char *text = rc_capture_end();
  char expected[128];
  snprintf(expected, sizeof expected, "shade: shade_decref(%p): count below zero (type bad_clear)",
           obj);
  RC_EXPECT(has(text, expected));
}

// Tracking an object whose type has no traverse.
static void test_tracking_atomic_object_is_reported(void) {
  void *leaf = shade_rc_new(&leaf_type);
  rc_capture_begin();
  shade_rc_track(leaf);
  const char *text = rc_capture_end();
  char expected[160];
  snprintf(expected, sizeof expected, "shade: shade_rc_track(%p): the type has no traverse", leaf);
  RC_EXPECT(has(text, expected) && has(text, "(type leaf)"));
  RC_EXPECT(!shade_rc_is_tracked(leaf));
  shade_decref(leaf);
}

// Other calls on a freed object, and bad type descriptions.
static void test_other_misuse_is_reported(void) {
  struct node *n = node_new(1);
  shade_decref(n);
  rc_capture_begin();
  shade_rc_track(n);
  RC_EXPECT(shade_rc_weakref_new(n, NULL, NULL) == NULL);
  static struct shade_rc_type no_size = {.name = "no_size"};
  RC_EXPECT(shade_rc_new(&no_size) == NULL);
  RC_EXPECT_EQ(shade_rc_collect(3), 0);
  const char *text = rc_capture_end();
  RC_EXPECT(has(text, "shade_rc_track(") && has(text, "use of a freed object (type node)"));
  RC_EXPECT(has(text, "shade_rc_weakref_new(") && has(text, "freed"));
  RC_EXPECT(has(text, "neither a size nor a size function (type no_size)"));
  RC_EXPECT(has(text, "no such generation"));
}

// Once RC objects are shared between threads (the lock has been taken), a call without the lock
// is reported. Last: it changes the mode of the whole program.
static void test_call_without_lock_is_reported(void) {
  shade_rc_lock();
  shade_rc_unlock();
  rc_capture_begin();
  void *leaf = shade_rc_new(&leaf_type);
  const char *text = rc_capture_end();
  RC_EXPECT(has(text, "shade_rc_new(") && has(text, "without the RC lock"));
  shade_rc_lock();
  rc_capture_begin();
  shade_decref(leaf);
  shade_rc_lock(); // recursive
  shade_rc_collect(2);
  shade_rc_unlock();
  text = rc_capture_end();
  RC_EXPECT(text[0] == 0);
  shade_rc_unlock();
}

int main(void) {
  setenv("SHADE_RC_DEBUG", "1", 1);
  RC_TEST_RUN(test_decref_of_freed_object_is_reported);
  RC_TEST_RUN(test_checked_incref_of_freed_object_is_reported);
  RC_TEST_RUN(test_decref_below_zero_is_reported);
  RC_TEST_RUN(test_tracking_atomic_object_is_reported);
  RC_TEST_RUN(test_other_misuse_is_reported);
  rc_test_current = "test_call_without_lock_is_reported";
  test_call_without_lock_is_reported();
  return rc_test_finish();
}
