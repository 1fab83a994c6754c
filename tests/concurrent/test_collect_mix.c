// test_collect_mix.c (conc_collect_mix_concurrent, conc_collect_mix_incremental): explicit
// shade_collect() calls mixed with concurrent or incremental cycles over a large live heap.
//
// A long linked list (a global; 200000 nodes scaled by SHADE_TEST_SCALE, at least 20000) is the
// live heap. Each round, in turn:
//   after      wait for a marking to begin, allocate until it ends, then two full collections
//              (shade_collect after a wiped stack), back to back;
//   during     wait for a marking to begin, then a full collection at once (it must finish the
//              marking under way, then collect with the world stopped);
//   alone      allocate until a concurrent/incremental cycle completes, no explicit collection.
// The list is walked after every round: each node carries a magic word and its position; a node
// freed while reachable is reused by the garbage (the same size class) and shows. The heap
// verifier (SHADE_VERIFY=1) checks every cycle, the explicit ones included.
#include "conc_test.h"

#define LIST_MAGIC 0xF1157F1157F1157Full

struct lnode {
  uint64_t magic;
  uint64_t key; // tagged position
  struct lnode *next;
  void *unused;
};

static struct lnode *list_head; // global: SHADE_STORE
static size_t list_length;
static uint64_t rng;
static long bad_nodes;

static SHADE_TEST_NOINLINE void build_list(void) {
  struct lnode *next = NULL;
  for (size_t i = list_length; i-- > 0;) {
    struct lnode *node = shade_malloc(sizeof *node);
    node->magic = LIST_MAGIC;
    node->key = CONC_TAG | i;
    shade_write(node, (void **)&node->next, next);
    next = node;
  }
  SHADE_STORE(list_head, next);
}

static int check_list(const char *where) {
  size_t i = 0;
  const struct lnode *n = list_head;
  for (; n != NULL && i < list_length; n = n->next, i++) {
    if (n->magic != LIST_MAGIC || n->key != (CONC_TAG | i)) {
      if (bad_nodes++ < 10)
        fprintf(stderr, "%s: node %zu at %p: magic %#" PRIx64 ", key %#" PRIx64 "\n", where, i,
                (const void *)n, n->magic, n->key);
      return 0;
    }
  }
  if (i != list_length || n != NULL) {
    if (bad_nodes++ < 10)
      fprintf(stderr, "%s: list of %zu nodes, %zu expected\n", where, i, list_length);
    return 0;
  }
  return 1;
}

static void test_explicit_collections_mixed_with_marking(void) {
  rng = shade_test_seed();
  list_length = shade_test_scaled(200000, 20000);
  const int rounds = (int)shade_test_scaled(60, 12);
  build_list();
  shade_test_collect_clean();
  fprintf(stderr, "list of %zu nodes, %d rounds\n", list_length, rounds);
  struct shade_stats before = shade_test_stats();
  static const char *const kinds[] = {"after", "during", "alone"};
  for (int round = 0; round < rounds; round++) {
    const char *kind = kinds[round % 3];
    if (round % 3 == 0) {
      SHADE_TEST_EXPECT(conc_wait_for_new_marking(&rng));
      SHADE_TEST_EXPECT(conc_allocate_until_marking(0, &rng, (size_t)1 << 30));
      shade_test_collect_clean();
      shade_test_collect_clean();
    } else if (round % 3 == 1) {
      SHADE_TEST_EXPECT(conc_wait_for_new_marking(&rng));
      shade_test_collect_clean();
      SHADE_TEST_EXPECT(!conc_marking_now());
    } else {
      uint64_t cycles = shade_test_stats().concurrent_cycles;
      while (shade_test_stats().concurrent_cycles == cycles)
        for (int g = 0; g < 256; g++)
          conc_garbage(&rng);
    }
    for (int g = 0; g < 4096; g++) // reuse what was freed
      conc_garbage(&rng);
    char where[64];
    snprintf(where, sizeof where, "round %d (%s)", round, kind);
    SHADE_TEST_EXPECTF(check_list(where), "%s: the list is damaged", where);
  }
  struct shade_stats after = shade_test_stats();
  conc_print_stats("collect_mix", &before, &after);
  SHADE_TEST_EXPECT(after.concurrent_cycles - before.concurrent_cycles >= (uint64_t)rounds);
}

int main(int argc, char **argv) {
  int mode = conc_mode_from_args(argc, argv);
  if (mode == SHADE_MODE_STW)
    shade_test_skip("needs a concurrent or incremental mode");
  conc_start(mode, (struct conc_pacing){.gc_percent = 100});
  SHADE_TEST_RUN(test_explicit_collections_mixed_with_marking);
  return shade_test_finish();
}
