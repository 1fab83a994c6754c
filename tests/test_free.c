// test_free.c (core_free): explicit shade_free, and what happens when it is misused.
//   - a freed small object's memory is handed out again (zeroed) after the next collection;
//   - a freed large object's pages leave the heap at once;
//   - shade_free(NULL) is silent;
//   - a foreign pointer ("not a pointer to a Shade object"), an interior pointer ("not the start
//     of an object") and a second free ("double free") each produce one message naming
//     shade_free and the pointer, and are otherwise ignored: the program continues and the object
//     concerned is unharmed.
#include "test_util.h"

enum { COUNT = 1000, SIZE = 48 };

static int is_zero(const unsigned char *p, size_t size) {
  for (size_t i = 0; i < size; i++)
    if (p[i] != 0)
      return 0;
  return 1;
}

static int compare_pointers(const void *a, const void *b) {
  uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
  return x < y ? -1 : x > y;
}

// Objects freed explicitly are reused by later allocations of their size once a collection has
// run, and come back zeroed.
static void test_freed_objects_are_reused_after_a_collection(void) {
  shade_test_capture_messages();
  uintptr_t *freed = malloc(COUNT * sizeof *freed);
  struct shade_stats before = shade_test_stats();
  for (size_t i = 0; i < COUNT; i++) {
    unsigned char *p = shade_malloc(SIZE);
    memset(p, 0xAB, SIZE);
    freed[i] = (uintptr_t)p;
  }
  for (size_t i = 0; i < COUNT; i++)
    shade_free((void *)freed[i]);
  struct shade_stats after = shade_test_stats();
  SHADE_TEST_EXPECTF(after.total_freed_explicitly - before.total_freed_explicitly >= COUNT * SIZE,
                     "total_freed_explicitly grew by %" PRIu64,
                     after.total_freed_explicitly - before.total_freed_explicitly);
  shade_test_collect_clean();
  qsort(freed, COUNT, sizeof *freed, compare_pointers);
  size_t reused = 0, not_zeroed = 0;
  void **fresh = shade_malloc(COUNT * sizeof *fresh);
  for (size_t i = 0; i < COUNT; i++) {
    unsigned char *p = shade_malloc(SIZE);
    fresh[i] = p;
    uintptr_t key = (uintptr_t)p;
    reused += bsearch(&key, freed, COUNT, sizeof *freed, compare_pointers) != NULL;
    not_zeroed += !is_zero(p, SIZE);
  }
  SHADE_TEST_EXPECTF(reused >= COUNT / 2, "%zu of %d freed slots reused", reused, COUNT);
  SHADE_TEST_EXPECTF(not_zeroed == 0, "%zu reused objects not zeroed", not_zeroed);
  SHADE_TEST_EXPECTF(shade_test_message_count_now() == 0, "valid frees produced messages");
  free(freed);
}

// A freed object is no longer a live heap object.
static void test_freed_object_is_not_live(void) {
  void *p = shade_malloc(SIZE);
  SHADE_TEST_EXPECT(shade_is_heap_pointer(p) == 1);
  shade_free(p);
  SHADE_TEST_EXPECT(shade_is_heap_pointer(p) == 0);
}

// A large object's pages leave the heap when it is freed, without waiting for a collection.
static void test_freeing_a_large_object_returns_its_pages_at_once(void) {
  enum { LARGE = 8 << 20 };
  shade_disable();
  for (int round = 0; round < 3; round++) {
    unsigned char *p = shade_malloc(LARGE);
    SHADE_TEST_EXPECT(p != NULL);
    if (p == NULL)
      break;
    memset(p, 0xCD, LARGE);
    struct shade_stats before = shade_test_stats();
    shade_free(p);
    struct shade_stats after = shade_test_stats();
    SHADE_TEST_EXPECTF(before.heap_committed - after.heap_committed >= LARGE,
                       "round %d: heap_committed %" PRIu64 " -> %" PRIu64, round,
                       before.heap_committed, after.heap_committed);
    SHADE_TEST_EXPECT(after.total_freed_explicitly - before.total_freed_explicitly >= LARGE);
    SHADE_TEST_EXPECT(shade_is_heap_pointer(p) == 0);
    // The pages can serve the next large object, zeroed.
    unsigned char *q = shade_malloc(LARGE);
    SHADE_TEST_EXPECT(q != NULL && is_zero(q, LARGE));
    shade_free(q);
  }
  shade_enable();
}

// shade_free(NULL) does nothing and says nothing.
static void test_free_of_null_is_silent(void) {
  shade_test_capture_messages();
  shade_free(NULL);
  SHADE_TEST_EXPECT(shade_test_message_count_now() == 0);
}

static void expect_one_message(const void *p, const char *what) {
  char text[32];
  shade_test_pointer_text(p, text, sizeof text);
  SHADE_TEST_EXPECTF(shade_test_message_count_now() == 1, "%d messages for %s",
                     shade_test_message_count_now(), what);
  SHADE_TEST_EXPECTF(shade_test_messages_contain(what, "shade_free"),
                     "no message containing \"%s\" and \"shade_free\"", what);
  SHADE_TEST_EXPECTF(shade_test_messages_contain(what, text),
                     "the \"%s\" message does not name the pointer %s", what, text);
  if (shade_test_message_count_now() != 1)
    shade_test_print_messages();
}

// Pointers Shade did not allocate: one message each, then nothing happens.
static void test_free_of_foreign_pointer_is_reported_and_ignored(void) {
  char *from_malloc = malloc(64);
  strcpy(from_malloc, "still here");
  shade_test_capture_messages();
  shade_free(from_malloc);
  expect_one_message(from_malloc, "not a pointer to a shade object");
  SHADE_TEST_EXPECT(strcmp(from_malloc, "still here") == 0);
  free(from_malloc);

  long on_stack = 42;
  shade_test_capture_messages();
  shade_free(&on_stack);
  expect_one_message(&on_stack, "not a pointer to a shade object");
  SHADE_TEST_EXPECT(on_stack == 42);
}

// An interior pointer: reported, and the object stays allocated and intact (a later valid free
// of it is accepted silently).
static void test_free_of_interior_pointer_is_reported_and_ignored(void) {
  static const size_t sizes[] = {100, 100000};
  for (size_t s = 0; s < 2; s++) {
    unsigned char *p = shade_malloc(sizes[s]);
    shade_test_fill(p, sizes[s], s);
    shade_test_capture_messages();
    shade_free(p + 8);
    expect_one_message(p + 8, "not the start of an object");
    shade_test_allocate_garbage(1 << 20);
    shade_collect();
    SHADE_TEST_EXPECT(shade_is_heap_pointer(p) == 1);
    SHADE_TEST_EXPECTF(shade_test_is_filled(p, sizes[s], s), "object of %zu bytes damaged",
                       sizes[s]);
    shade_test_capture_messages();
    shade_free(p);
    SHADE_TEST_EXPECT(shade_test_message_count_now() == 0);
  }
}

// A second free of the same object, before its memory is reused: reported once, ignored; the
// program carries on allocating and collecting.
static void expect_double_free_reported(size_t size) {
  void *p = shade_malloc(size);
  shade_test_capture_messages();
  shade_free(p);
  SHADE_TEST_EXPECT(shade_test_message_count_now() == 0);
  shade_free(p);
  expect_one_message(p, "double free");
  shade_test_allocate_garbage(4 << 20);
  shade_collect();
  void *after = shade_malloc(size);
  SHADE_TEST_EXPECT(after != NULL && is_zero(after, size));
}

static void test_double_free_of_small_object_is_reported_and_ignored(void) {
  expect_double_free_reported(SIZE);
}

// For a large object too, although its pages left the heap at the first free.
static void test_double_free_of_large_object_is_reported_and_ignored(void) {
  expect_double_free_reported(100000);
}

// By default the messages go to stderr; setting a handler returns the previous one, and NULL
// restores the default.
static void test_message_handler_is_replaceable(void) {
  shade_message_fn previous = shade_set_message_handler(shade_test_message_handler);
  SHADE_TEST_EXPECT(shade_set_message_handler(NULL) == shade_test_message_handler);
  shade_set_message_handler(previous);
}

int main(void) {
  shade_init(NULL); // start-up messages (an environment the program ignores) come before any test captures
  SHADE_TEST_RUN(test_freed_objects_are_reused_after_a_collection);
  SHADE_TEST_RUN(test_freed_object_is_not_live);
  SHADE_TEST_RUN(test_freeing_a_large_object_returns_its_pages_at_once);
  SHADE_TEST_RUN(test_free_of_null_is_silent);
  SHADE_TEST_RUN(test_free_of_foreign_pointer_is_reported_and_ignored);
  SHADE_TEST_RUN(test_free_of_interior_pointer_is_reported_and_ignored);
  SHADE_TEST_RUN(test_double_free_of_small_object_is_reported_and_ignored);
  SHADE_TEST_RUN(test_double_free_of_large_object_is_reported_and_ignored);
  SHADE_TEST_RUN(test_message_handler_is_replaceable);
  return shade_test_finish();
}
