// test_kinds.c (core_kinds): what each allocation kind's contents keep alive.
//   conservative: every word that looks like a pointer
//   atomic:       nothing (its memory is never scanned)
//   typed:        exactly the words the type's bitmap marks, repeated for every element of an
//                 array, or the pointers a trace callback visits
// Each case holds 1000 targets through the words in question: targets behind pointer words are
// all kept, intact; targets behind non-pointer words are reclaimed (at least 90% of them).
#include "test_util.h"

enum { TARGETS = 1000, TARGET_SIZE = 40 };

static size_t count_intact(const shade_test_hidden *hidden, size_t n, uint64_t seed) {
  size_t intact = 0;
  for (size_t i = 0; i < n; i++)
    intact += shade_is_heap_pointer(shade_test_unhide(hidden[i])) == 1 &&
              shade_test_is_filled(shade_test_unhide(hidden[i]), TARGET_SIZE, seed + i);
  return intact;
}

static void collect_and_churn(void) {
  for (int i = 0; i < 2; i++) {
    shade_test_collect_clean();
    shade_test_allocate_garbage(1 << 20);
  }
  shade_test_collect_clean();
}

static void expect_all_kept(const shade_test_hidden *hidden, size_t n, uint64_t seed,
                            const char *what) {
  size_t intact = count_intact(hidden, n, seed);
  SHADE_TEST_EXPECTF(intact == n, "%s: %zu of %zu targets kept intact", what, intact, n);
}

static void expect_mostly_reclaimed(const shade_test_hidden *hidden, size_t n, const char *what) {
  size_t live = shade_test_count_live(hidden, n);
  SHADE_TEST_EXPECTF(live <= n / 10, "%s: %zu of %zu targets still live", what, live, n);
}

// Holders made by `allocate`, each of `words` words, whose word i * stride + offset holds one
// target; `n` targets are spread over HOLDERS holders, which are kept alive by the global array
// `holders` (a program global, never itself a Shade object that could be falsely retained).
// Dropping a holder lets its targets go: spread over many holders, a holder that stays alive
// by a stray conservative reference keeps only a few targets.
enum { HOLDERS = 100 };
static void *volatile holders[HOLDERS];
static void *volatile other_holders[HOLDERS];
static void *volatile anchor; // keeps a table of typed objects

static SHADE_TEST_NOINLINE void make_holders(void *(*allocate)(size_t), size_t stride,
                                             size_t offset, shade_test_hidden *hidden, size_t n,
                                             uint64_t seed, void *volatile *into) {
  size_t per_holder = (n + HOLDERS - 1) / HOLDERS;
  size_t words = per_holder * stride;
  for (size_t h = 0; h < HOLDERS; h++) {
    uintptr_t *holder = allocate(words * sizeof(uintptr_t));
    memset(holder, 0, words * sizeof(uintptr_t));
    for (size_t j = 0; j < per_holder && h * per_holder + j < n; j++) {
      size_t i = h * per_holder + j;
      hidden[i] = shade_test_new_filled(TARGET_SIZE, seed + i);
      holder[j * stride + offset] = (uintptr_t)shade_test_unhide(hidden[i]);
    }
    into[h] = holder;
  }
}

static void drop_holders(void *volatile *which) {
  for (size_t h = 0; h < HOLDERS; h++)
    which[h] = NULL;
}

static size_t live_holders(void *volatile *which) {
  size_t live = 0;
  for (size_t h = 0; h < HOLDERS; h++)
    live += shade_is_heap_pointer(which[h]) == 1;
  return live;
}

// Control: a conservative object's words keep their targets alive.
static void test_conservative_object_keeps_what_its_words_point_to(void) {
  shade_test_hidden hidden[TARGETS];
  make_holders(shade_malloc, 1, 0, hidden, TARGETS, 100, holders);
  collect_and_churn();
  expect_all_kept(hidden, TARGETS, 100, "conservative holders");
  drop_holders(holders);
  shade_test_collect_clean();
  expect_mostly_reclaimed(hidden, TARGETS, "after the conservative holders were dropped");
}

// An atomic object holding the only pointers to objects does not keep them alive, although the
// atomic object itself is live.
static void test_atomic_object_contents_are_not_pointers(void) {
  shade_test_hidden hidden[TARGETS];
  make_holders(shade_malloc_atomic, 1, 0, hidden, TARGETS, 200, holders);
  shade_test_collect_clean();
  SHADE_TEST_EXPECT(live_holders(holders) == HOLDERS);
  expect_mostly_reclaimed(hidden, TARGETS, "targets held only by atomic objects");
  drop_holders(holders);
}

// Growing an atomic object with shade_realloc keeps it atomic.
static void test_realloc_keeps_an_object_atomic(void) {
  shade_test_hidden hidden[TARGETS];
  make_holders(shade_malloc_atomic, 1, 0, hidden, TARGETS, 300, holders);
  for (size_t h = 0; h < HOLDERS; h++) // from 10 words to 2000: a new object, still atomic
    holders[h] = shade_realloc(holders[h], 2000 * sizeof(uintptr_t));
  shade_test_collect_clean();
  SHADE_TEST_EXPECT(live_holders(holders) == HOLDERS);
  expect_mostly_reclaimed(hidden, TARGETS, "targets held only by realloc'd atomic objects");
  drop_holders(holders);
}

// Atomic objects themselves are kept by pointers to them, and collected without.
static void *volatile atomic_table[TARGETS];

static SHADE_TEST_NOINLINE void make_atomic_objects(shade_test_hidden *hidden, uint64_t seed) {
  for (size_t i = 0; i < TARGETS; i++) {
    char *p = shade_malloc_atomic(TARGET_SIZE);
    shade_test_fill(p, TARGET_SIZE, seed + i);
    hidden[i] = shade_test_hide(p);
    atomic_table[i] = p;
  }
}

static void test_atomic_objects_are_collected_like_others(void) {
  shade_test_hidden hidden[TARGETS];
  make_atomic_objects(hidden, 400);
  collect_and_churn();
  expect_all_kept(hidden, TARGETS, 400, "atomic objects held by a global table");
  for (size_t i = 0; i < TARGETS; i++)
    atomic_table[i] = NULL;
  shade_test_collect_clean();
  expect_mostly_reclaimed(hidden, TARGETS, "atomic objects after the table was cleared");
}

// ---------------------------------------------------------------------------------------------
// Typed objects with a bitmap

// Two words per element: word 0 a pointer, word 1 an address stored as a plain integer.
static const uint64_t pair_bitmap[1] = {0x1};
static const struct shade_type pair_type = {"pair", 16, pair_bitmap, NULL, 0};

static void *allocate_pairs(size_t size) { return shade_malloc_typed(size, &pair_type); }

// An array of typed elements: the pointer word of every element keeps its target, the integer
// word of every element does not.
static void test_typed_array_keeps_only_pointer_words(void) {
  static shade_test_hidden pointed[TARGETS], integers[TARGETS];
  make_holders(allocate_pairs, 2, 0, pointed, TARGETS, 500, holders);
  // Arrays of the same type, with targets only in the integer words.
  make_holders(allocate_pairs, 2, 1, integers, TARGETS, 600, other_holders);
  collect_and_churn();
  expect_all_kept(pointed, TARGETS, 500, "targets in pointer words of typed arrays");
  expect_mostly_reclaimed(integers, TARGETS, "targets in non-pointer words of typed arrays");
  SHADE_TEST_EXPECT(live_holders(other_holders) == HOLDERS);
  drop_holders(holders);
  drop_holders(other_holders);
}

// Single typed objects (one element each), held by a conservative table.
static void test_typed_objects_keep_only_pointer_words(void) {
  static shade_test_hidden pointed[TARGETS], integers[TARGETS];
  void **table = shade_malloc(TARGETS * sizeof *table);
  anchor = table;
  for (size_t i = 0; i < TARGETS; i++) {
    uintptr_t *pair = shade_malloc_typed(16, &pair_type);
    pointed[i] = shade_test_new_filled(TARGET_SIZE, 700 + i);
    integers[i] = shade_test_new_filled(TARGET_SIZE, 800 + i);
    pair[0] = (uintptr_t)shade_test_unhide(pointed[i]) + TARGET_SIZE / 2; // interior pointer
    pair[1] = (uintptr_t)shade_test_unhide(integers[i]);
    table[i] = pair;
  }
  table = NULL;
  collect_and_churn();
  expect_all_kept(pointed, TARGETS, 700, "targets in the pointer word of typed objects");
  expect_mostly_reclaimed(integers, TARGETS, "targets in the integer word of typed objects");
  anchor = NULL;
}

// A type wider than 64 words: the bitmap's second word counts. Element of 80 words; word 70 is a
// pointer, word 3 is not. Objects of three elements.
static const uint64_t wide_bitmap[2] = {0, (uint64_t)1 << (70 - 64)};
static const struct shade_type wide_type = {"wide", 80 * 8, wide_bitmap, NULL, 0};

static void test_bitmap_beyond_64_words(void) {
  enum { OBJECTS = 300, ELEMENTS = 3 };
  static shade_test_hidden pointed[OBJECTS * ELEMENTS], integers[OBJECTS * ELEMENTS];
  void **table = shade_malloc(OBJECTS * sizeof *table);
  anchor = table;
  for (size_t i = 0; i < OBJECTS; i++) {
    uintptr_t *object = shade_malloc_typed(ELEMENTS * wide_type.size, &wide_type);
    for (size_t e = 0; e < ELEMENTS; e++) {
      size_t k = i * ELEMENTS + e;
      pointed[k] = shade_test_new_filled(TARGET_SIZE, 900 + k);
      integers[k] = shade_test_new_filled(TARGET_SIZE, 2000 + k);
      object[e * 80 + 70] = (uintptr_t)shade_test_unhide(pointed[k]);
      object[e * 80 + 3] = (uintptr_t)shade_test_unhide(integers[k]);
    }
    table[i] = object;
  }
  table = NULL;
  collect_and_churn();
  expect_all_kept(pointed, OBJECTS * ELEMENTS, 900, "targets in word 70 of a wide type");
  expect_mostly_reclaimed(integers, OBJECTS * ELEMENTS, "targets in word 3 of a wide type");
  anchor = NULL;
}

// ---------------------------------------------------------------------------------------------
// Typed objects with a trace callback

// Three words per element: word 0 and word 2 are visited (word 2 as an interior pointer), word
// 1 is not. The callback walks all elements of the object.
static atomic_size_t smallest_traced_size = SIZE_MAX;
static atomic_long trace_calls;

static void trace_triple(void *object, size_t object_size, shade_visit_fn visit, void *context) {
  uintptr_t *words = object;
  atomic_fetch_add(&trace_calls, 1);
  size_t seen = atomic_load(&smallest_traced_size);
  while (object_size < seen && !atomic_compare_exchange_weak(&smallest_traced_size, &seen, object_size))
    ;
  for (size_t element = 0; element + 3 <= object_size / 8; element += 3) {
    if (words[element] != 0)
      visit((void *)words[element], context);
    if (words[element + 2] != 0)
      visit((void *)words[element + 2], context);
  }
}

static const struct shade_type triple_type = {"triple", 24, NULL, trace_triple, 0};

static void test_trace_callback_decides_what_is_kept(void) {
  enum { OBJECTS = TARGETS / 2, ELEMENTS = 2 }; // 500 objects of 2 elements: 1000 of each
  static shade_test_hidden first[TARGETS], third[TARGETS], second[TARGETS];
  void **table = shade_malloc(OBJECTS * sizeof *table);
  anchor = table;
  for (size_t i = 0; i < OBJECTS; i++) {
    uintptr_t *object = shade_malloc_typed(ELEMENTS * 24, &triple_type);
    for (size_t e = 0; e < ELEMENTS; e++) {
      size_t k = i * ELEMENTS + e;
      first[k] = shade_test_new_filled(TARGET_SIZE, 5000 + k);
      second[k] = shade_test_new_filled(TARGET_SIZE, 6000 + k);
      third[k] = shade_test_new_filled(TARGET_SIZE, 7000 + k);
      object[e * 3 + 0] = (uintptr_t)shade_test_unhide(first[k]);
      object[e * 3 + 1] = (uintptr_t)shade_test_unhide(second[k]);
      object[e * 3 + 2] = (uintptr_t)shade_test_unhide(third[k]) + 8;
    }
    table[i] = object;
  }
  table = NULL;
  atomic_store(&trace_calls, 0);
  collect_and_churn();
  SHADE_TEST_EXPECT(atomic_load(&trace_calls) >= OBJECTS);
  SHADE_TEST_EXPECTF(atomic_load(&smallest_traced_size) >= ELEMENTS * 24,
                     "trace got object_size %zu for objects of %d bytes",
                     atomic_load(&smallest_traced_size), ELEMENTS * 24);
  expect_all_kept(first, TARGETS, 5000, "targets visited by the trace callback (word 0)");
  expect_all_kept(third, TARGETS, 7000, "targets visited by the trace callback (word 2)");
  expect_mostly_reclaimed(second, TARGETS, "targets the trace callback does not visit");
  anchor = NULL;
}

int main(void) {
  SHADE_TEST_RUN(test_conservative_object_keeps_what_its_words_point_to);
  SHADE_TEST_RUN(test_atomic_object_contents_are_not_pointers);
  SHADE_TEST_RUN(test_realloc_keeps_an_object_atomic);
  SHADE_TEST_RUN(test_atomic_objects_are_collected_like_others);
  SHADE_TEST_RUN(test_typed_array_keeps_only_pointer_words);
  SHADE_TEST_RUN(test_typed_objects_keep_only_pointer_words);
  SHADE_TEST_RUN(test_bitmap_beyond_64_words);
  SHADE_TEST_RUN(test_trace_callback_decides_what_is_kept);
  return shade_test_finish();
}
