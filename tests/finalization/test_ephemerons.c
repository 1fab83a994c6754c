// Ephemerons (shade_ephemeron_new / _key / _value): the value lives through the ephemeron only
// while the key is reachable from elsewhere; a value that refers to its own key does not keep
// the key alive (the weak hash table problem); chains resolve to a fixpoint, in one collection
// however they were made; an ephemeron found through another's value counts; a key revived by
// its finalizer keeps its value through the collection that queued the finalizer.
#include "fin_test.h"

#define COUNT 500

// Keys kept, values reachable only through their ephemerons: values stay, intact.
static void test_live_key_keeps_value(void) {
  struct fin_node **keys = shade_malloc(COUNT * sizeof *keys);
  struct shade_ephemeron **eph = shade_malloc(COUNT * sizeof *eph);
  for (int i = 0; i < COUNT; i++) {
    SHADE_STORE(keys[i], fin_node_new((uintptr_t)i));
    SHADE_STORE(eph[i], shade_ephemeron_new(keys[i], fin_node_new((uintptr_t)i + COUNT)));
  }
  for (int c = 0; c < 3; c++) {
    shade_malloc(1 << 20);
    shade_test_collect_clean();
  }
  int intact = 0;
  for (int i = 0; i < COUNT; i++) {
    struct fin_node *v = shade_ephemeron_value(eph[i]);
    intact += shade_ephemeron_key(eph[i]) == keys[i] && v &&
              fin_node_intact(v, (uintptr_t)i + COUNT);
  }
  SHADE_TEST_EXPECT_EQ(intact, COUNT);
  __asm__ volatile("" : : "r"(keys), "r"(eph) : "memory");
}

// Keys dropped, each value pointing back to its key: key and value both die, the ephemeron
// reads NULL, and the values are freed.
SHADE_TEST_NOINLINE static void make_cyclic(struct shade_ephemeron **eph,
                                            shade_test_hidden *values) {
  for (int i = 0; i < COUNT; i++) {
    struct fin_node *key = fin_node_new((uintptr_t)i);
    struct fin_node *value = fin_node_new((uintptr_t)i + COUNT);
    SHADE_STORE(value->next, key);
    SHADE_STORE(eph[i], shade_ephemeron_new(key, value));
    values[i] = shade_test_hide(value);
  }
}
static void test_dead_key_clears_even_when_value_refers_to_it(void) {
  struct shade_ephemeron **eph = shade_malloc(COUNT * sizeof *eph);
  shade_test_hidden *values = malloc(COUNT * sizeof *values);
  make_cyclic(eph, values);
  shade_test_collect_clean();
  shade_test_collect_clean();
  int cleared = 0;
  for (int i = 0; i < COUNT; i++)
    cleared += shade_ephemeron_key(eph[i]) == NULL && shade_ephemeron_value(eph[i]) == NULL;
  SHADE_TEST_EXPECTF(cleared >= COUNT * 9 / 10, "%d of %d cleared", cleared, COUNT);
  size_t live = shade_test_count_live(values, COUNT);
  SHADE_TEST_EXPECTF(live <= COUNT / 10, "%zu of %d values still live", live, COUNT);
  free(values);
  __asm__ volatile("" : : "r"(eph) : "memory");
}

// A chain: e1 = (k1 -> v1), e2 = (v1 -> v2), e3 = (v2 -> v3), in an order that makes one
// round of resolution insufficient. With k1 kept every value lives; without it none does.
#define CHAIN 50
static void test_chains_resolve_to_a_fixpoint(void) {
  struct shade_ephemeron **eph = shade_malloc(CHAIN * sizeof *eph);
  struct fin_node **values = shade_malloc(CHAIN * sizeof *values);
  struct fin_node *k1 = fin_node_new(1000);
  for (int i = 0; i < CHAIN; i++)
    SHADE_STORE(values[i], fin_node_new((uintptr_t)i));
  for (int i = CHAIN - 1; i >= 0; i--) // the end of the chain is made (and listed) first
    SHADE_STORE(eph[i], shade_ephemeron_new(i == 0 ? k1 : values[i - 1], values[i]));
  memset(values, 0, CHAIN * sizeof *values);
  for (int c = 0; c < 2; c++) {
    shade_malloc(1 << 20);
    shade_test_collect_clean();
  }
  int intact = 0;
  for (int i = 0; i < CHAIN; i++) {
    struct fin_node *v = shade_ephemeron_value(eph[i]);
    intact += v && fin_node_intact(v, (uintptr_t)i);
  }
  SHADE_TEST_EXPECT_EQ(intact, CHAIN);
  SHADE_TEST_EXPECT(fin_node_intact(k1, 1000));
  __asm__ volatile("" : : "r"(eph), "r"(k1), "r"(values) : "memory");
}

// An ephemeron reachable only through another ephemeron's value still keeps its own value (its
// key being alive), and a long random chain resolves in one collection.
#define NESTED 100
#define DEPTH 8
SHADE_TEST_NOINLINE static struct shade_ephemeron *make_nested(struct fin_node *key) {
  struct shade_ephemeron *e = shade_ephemeron_new(key, fin_node_new(78)); // the innermost
  for (int level = 1; level < DEPTH; level++) {
    struct fin_node *box = fin_node_new(77);
    SHADE_STORE(box->next, (struct fin_node *)(void *)e);
    e = shade_ephemeron_new(key, box);
  }
  return e;
}
static void test_ephemeron_reached_through_a_value(void) {
  struct fin_node **keys = shade_malloc(NESTED * sizeof *keys);
  struct shade_ephemeron **outer = shade_malloc(NESTED * sizeof *outer);
  for (int i = 0; i < NESTED; i++) {
    SHADE_STORE(keys[i], fin_node_new(1));
    SHADE_STORE(outer[i], make_nested(keys[i]));
  }
  for (int c = 0; c < 2; c++) {
    for (int k = 0; k < 500; k++) // garbage of the values' size, to reuse what was freed
      fin_node_new(0);
    shade_test_collect_clean();
  }
  int intact = 0;
  for (int i = 0; i < NESTED; i++) {
    struct shade_ephemeron *e = outer[i];
    for (int level = 1; e && level < DEPTH; level++) {
      struct fin_node *box = shade_ephemeron_value(e);
      bool live = box && shade_is_heap_pointer(box) && fin_node_intact(box, 77);
      e = live && shade_is_heap_pointer(box->next) ? (struct shade_ephemeron *)(void *)box->next
                                                   : NULL;
    }
    struct fin_node *value = e ? shade_ephemeron_value(e) : NULL;
    intact += value && shade_is_heap_pointer(value) && fin_node_intact(value, 78);
  }
  SHADE_TEST_EXPECT_EQ(intact, NESTED);
  __asm__ volatile("" : : "r"(keys), "r"(outer) : "memory");
}

static void test_long_shuffled_chain(void) {
  enum { LENGTH = 20000 };
  uint64_t rng = shade_test_seed();
  struct fin_node **values = shade_malloc(LENGTH * sizeof *values);
  struct shade_ephemeron **eph = shade_malloc(LENGTH * sizeof *eph);
  unsigned *order = malloc(LENGTH * sizeof *order);
  struct fin_node *k1 = fin_node_new(1 << 30);
  for (unsigned i = 0; i < LENGTH; i++) {
    SHADE_STORE(values[i], fin_node_new(i));
    order[i] = i;
  }
  for (unsigned i = LENGTH - 1; i > 0; i--) { // made in a random order
    unsigned j = (unsigned)shade_test_random_between(&rng, 0, i);
    unsigned t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  for (unsigned n = 0; n < LENGTH; n++) {
    unsigned i = order[n];
    SHADE_STORE(eph[i], shade_ephemeron_new(i == 0 ? k1 : values[i - 1], values[i]));
  }
  free(order);
  memset(values, 0, LENGTH * sizeof *values);
  double start = shade_test_now();
  shade_test_collect_clean();
  printf("one collection with a shuffled chain of %d ephemerons: %.1f ms\n", LENGTH,
         (shade_test_now() - start) * 1e3);
  int intact = 0;
  for (unsigned i = 0; i < LENGTH; i++) {
    struct fin_node *v = shade_ephemeron_value(eph[i]);
    intact += v && fin_node_intact(v, i);
  }
  SHADE_TEST_EXPECT_EQ(intact, LENGTH);
  __asm__ volatile("" : : "r"(eph), "r"(k1), "r"(values) : "memory");
}

// Keys with finalizers, dropped: the collection that finds them unreachable revives them until
// their finalizers have run, and with them the values their ephemerons hold. Each finalizer
// reads its key's value: intact (were the values left unmarked, they would be freed with the
// key alive, and the ephemeron would return freed memory).
static struct shade_ephemeron **revived_eph; // a Shade object
static atomic_int revived_runs, revived_intact;
static void read_value_of_key(void *key, void *data) {
  uintptr_t i = (uintptr_t)data;
  struct fin_node *v = shade_ephemeron_value(revived_eph[i]);
  atomic_fetch_add(&revived_runs, 1);
  if (shade_ephemeron_key(revived_eph[i]) == key && v && fin_node_intact(v, i + COUNT))
    atomic_fetch_add(&revived_intact, 1);
}
SHADE_TEST_NOINLINE static void make_finalizable_keys(void) {
  for (uintptr_t i = 0; i < COUNT; i++) {
    struct fin_node *key = fin_node_new(i);
    SHADE_TEST_EXPECT(shade_set_finalizer(key, read_value_of_key, (void *)i,
                                          SHADE_FINALIZE_ORDERED) == 0);
    SHADE_STORE(revived_eph[i], shade_ephemeron_new(key, fin_node_new(i + COUNT)));
  }
}
static void test_key_revived_by_its_finalizer_keeps_its_value(void) {
  SHADE_STORE(revived_eph, shade_malloc(COUNT * sizeof *revived_eph));
  make_finalizable_keys();
  for (int c = 0; c < 4 && atomic_load(&revived_runs) < COUNT * 9 / 10; c++) {
    shade_malloc(1 << 20);
    fin_test_collect_and_finalize();
  }
  int runs = atomic_load(&revived_runs);
  SHADE_TEST_EXPECTF(runs >= COUNT * 9 / 10, "%d of %d finalizers ran", runs, COUNT);
  SHADE_TEST_EXPECT_EQ(atomic_load(&revived_intact), runs);
  SHADE_STORE(revived_eph, NULL);
}

// Bad arguments: a key that is not a collectable Shade object gives NULL with EINVAL.
static void test_ephemeron_bad_arguments(void) {
  static int global;
  errno = 0;
  SHADE_TEST_EXPECT(shade_ephemeron_new(&global, NULL) == NULL && errno == EINVAL);
  errno = 0;
  SHADE_TEST_EXPECT(shade_ephemeron_new(NULL, NULL) == NULL && errno == EINVAL);
  SHADE_TEST_EXPECT(shade_ephemeron_key(NULL) == NULL && shade_ephemeron_value(NULL) == NULL);
}

int main(int argc, char **argv) {
  fin_test_init(argc, argv);
  SHADE_TEST_RUN(test_live_key_keeps_value);
  SHADE_TEST_RUN(test_dead_key_clears_even_when_value_refers_to_it);
  SHADE_TEST_RUN(test_chains_resolve_to_a_fixpoint);
  SHADE_TEST_RUN(test_ephemeron_reached_through_a_value);
  SHADE_TEST_RUN(test_long_shuffled_chain);
  SHADE_TEST_RUN(test_key_revived_by_its_finalizer_keeps_its_value);
  SHADE_TEST_RUN(test_ephemeron_bad_arguments);
  return shade_test_finish();
}
