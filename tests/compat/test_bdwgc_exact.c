// test_bdwgc_exact.c: a bdwgc program that turns interior pointers off before GC_init (as Guile
// does) gets exact 16-byte granules, as on bdwgc: GC_malloc(16) is 16 bytes, not 32. Objects
// packed that tightly keep everything they hold through collections, and an interior pointer
// still keeps its object (Shade recognises every interior pointer: more conservative than
// bdwgc, never less).
#define GC_THREADS 1
#define GC_NO_THREAD_REDIRECTS 1
#include <gc.h>
#include <gc_inline.h>
#include <gc_mark.h>

#include "../test_util.h"

static void test_sizes_are_exact_granules(void) {
  SHADE_TEST_EXPECT_EQ(GC_get_all_interior_pointers(), 0);
  size_t cases[][2] = {{0, 16}, {1, 16}, {15, 16}, {16, 16}, {17, 32}, {32, 32}, {33, 48},
                       {48, 48}, {64, 64}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    void *p = GC_malloc(cases[i][0]), *q = GC_malloc_atomic(cases[i][0]);
    SHADE_TEST_EXPECTF(GC_size(p) == cases[i][1] && GC_size(q) == cases[i][1],
                       "GC_malloc(%zu): %zu and %zu bytes, not %zu", cases[i][0], GC_size(p),
                       GC_size(q), cases[i][1]);
    SHADE_TEST_EXPECTF(((uintptr_t)p & 15) == 0 && ((uintptr_t)q & 15) == 0, "n=%zu", cases[i][0]);
  }
  for (size_t n = 65; n < 5000; n += 37) { // larger: size classes, never a byte fewer
    void *p = GC_malloc(n);
    SHADE_TEST_EXPECTF(GC_size(p) >= n && GC_size(p) % 16 == 0, "GC_malloc(%zu): %zu", n,
                       GC_size(p));
  }
  void *list = NULL;
  GC_generic_malloc_many(16, GC_I_NORMAL, &list);
  for (void *p = list; p != NULL; p = GC_NEXT(p))
    SHADE_TEST_EXPECTF(GC_size(p) == 16 && GC_base(p) == p, "a batch object of %zu", GC_size(p));
}

// Lists of 16-byte pairs (Guile's cons cells), built from single allocations and from batches,
// survive collections intact while reachable.
struct pair {
  struct pair *next;
  GC_word value;
};
static void test_packed_pairs_survive(void) {
  uint64_t seed = shade_test_seed(), state = seed;
  struct pair *head = NULL;
  size_t built = 0;
  for (int round = 0; round < 40; round++) {
    void *batch = NULL;
    if (round % 2)
      GC_generic_malloc_many(16, GC_I_NORMAL, &batch);
    for (int i = 0; i < 2000; i++) {
      struct pair *p;
      if (batch) {
        p = batch;
        batch = GC_NEXT(batch);
        p->next = NULL;
      } else {
        p = GC_malloc(sizeof *p);
      }
      p->value = (GC_word)(built * 2654435761u) ^ seed;
      p->next = head;
      head = p;
      built++;
      if (shade_test_random(&state) % 4 == 0)
        (void)GC_malloc(16); // garbage between the live ones
    }
    if (round % 10 == 9)
      GC_gcollect();
  }
  GC_gcollect();
  size_t seen = 0;
  for (struct pair *p = head; p != NULL; p = p->next, seen++) {
    size_t n = built - 1 - seen;
    if (p->value != ((GC_word)(n * 2654435761u) ^ seed)) {
      SHADE_TEST_EXPECTF(0, "pair %zu of %zu: wrong contents", n, built);
      break;
    }
  }
  SHADE_TEST_EXPECT_EQ(seen, built);
}

// An object referenced only by a pointer into its middle stays (a disappearing link watches it).
static GC_word hidden_link;
static char *volatile interior;
static SHADE_TEST_NOINLINE void make_interior_only(void) {
  char *object = GC_malloc(64);
  hidden_link = GC_HIDE_POINTER(object);
  SHADE_TEST_EXPECT_EQ(GC_general_register_disappearing_link((void **)&hidden_link, object),
                       GC_SUCCESS);
  interior = object + 24;
}
static void test_interior_pointer_keeps_object(void) {
  make_interior_only();
  shade_test_clear_stack();
  GC_gcollect();
  GC_gcollect();
  SHADE_TEST_EXPECT(hidden_link != 0);
  SHADE_TEST_EXPECT(GC_base(interior) == (void *)GC_REVEAL_POINTER(hidden_link));
}

int main(void) {
  GC_set_all_interior_pointers(0);
  GC_INIT();
  SHADE_TEST_RUN(test_sizes_are_exact_granules);
  SHADE_TEST_RUN(test_packed_pairs_survive);
  SHADE_TEST_RUN(test_interior_pointer_keeps_object);
  return shade_test_finish();
}
