// Ephemerons (shade_ephemeron_new / _key / _value): the value lives through the ephemeron only
// while the key is reachable from elsewhere; a value that refers to its own key does not keep
// the key alive (the weak hash table problem); chains resolve to a fixpoint.
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
    intact += shade_ephemeron_key(eph[i]) == keys[i] && v && fin_node_intact(v, (uintptr_t)i + COUNT);
  }
  SHADE_TEST_EXPECT_EQ(intact, COUNT);
  __asm__ volatile("" : : "r"(keys), "r"(eph) : "memory");
}

// Keys dropped, each value pointing back to its key: key and value both die, the ephemeron
// reads NULL, and the values are freed.
SHADE_TEST_NOINLINE static void make_cyclic(struct shade_ephemeron **eph, shade_test_hidden *values) {
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
  SHADE_TEST_RUN(test_ephemeron_bad_arguments);
  return shade_test_finish();
}
