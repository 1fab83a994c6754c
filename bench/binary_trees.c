// binary_trees.c: the binary-trees workload of the Computer Language Benchmarks Game, single-threaded.
//
// For depth N (argv[1], default 21; at least 6):
//   1. build a "stretch" tree of depth N+1, check it, drop it;
//   2. build a long-lived tree of depth N and keep it to the end;
//   3. for d = 4, 6, ..., N: build 2^(N-d+4) trees of depth d one after the other, checking each
//      and dropping it;
//   4. check the long-lived tree.
// "check" counts the nodes of a tree (a tree of depth d has 2^(d+1) - 1). A node is two pointers
// and nothing else. With BENCH_MALLOC every tree is freed after its check; the garbage-collected
// builds never free. The output (stdout) is the Benchmarks Game's, tab for tab; bench/run.sh
// compares it with the expected lines.
//
// Built with -DBENCH_BARRIER (target bt_shade_barrier), every pointer store goes through Shade's
// write barrier (bench_store -> shade_write), initialising stores included: run in the default stw
// mode it measures what the barrier costs a program when no marking is under way
// (bench/churn/run.sh compares it with bt_shade). The BENCH line then says barrier=1.
#include <stdio.h>
#include <stdlib.h>

#include "allocator.h"

struct node {
  struct node *left;
  struct node *right;
};

enum { MIN_DEPTH = 4, DEFAULT_DEPTH = 21 };

static struct node *bottom_up_tree(unsigned depth) {
  struct node *tree = bench_alloc(sizeof *tree);
  if (depth > 0) {
    bench_store(tree, tree->left, bottom_up_tree(depth - 1));
    bench_store(tree, tree->right, bottom_up_tree(depth - 1));
  } else {
    bench_store(tree, tree->left, NULL);
    bench_store(tree, tree->right, NULL);
  }
  return tree;
}

static long item_check(const struct node *tree) {
  if (tree->left == NULL)
    return 1;
  return 1 + item_check(tree->left) + item_check(tree->right);
}

#if BENCH_FREES_MEMORY
static void delete_tree(struct node *tree) {
  if (tree->left != NULL) {
    delete_tree(tree->left);
    delete_tree(tree->right);
  }
  bench_free(tree);
}
#else
#define delete_tree(tree) ((void)(tree)) // the collector reclaims it
#endif

int main(int argc, char **argv) {
  bench_start();

  unsigned max_depth = DEFAULT_DEPTH;
  if (argc > 1) {
    char *end;
    long requested = strtol(argv[1], &end, 10);
    if (*end != '\0' || requested < 0 || requested > 30) {
      fprintf(stderr, "usage: %s [depth 0..30]\n", argv[0]);
      return 2;
    }
    max_depth = (unsigned)requested;
  }
  if (max_depth < MIN_DEPTH + 2)
    max_depth = MIN_DEPTH + 2;

  unsigned stretch_depth = max_depth + 1;
  struct node *stretch_tree = bottom_up_tree(stretch_depth);
  printf("stretch tree of depth %u\t check: %ld\n", stretch_depth, item_check(stretch_tree));
  delete_tree(stretch_tree);
  stretch_tree = NULL;

  struct node *long_lived_tree = bottom_up_tree(max_depth);

  for (unsigned depth = MIN_DEPTH; depth <= max_depth; depth += 2) {
    long iterations = 1L << (max_depth - depth + MIN_DEPTH);
    long check = 0;
    for (long i = 0; i < iterations; i++) {
      struct node *tree = bottom_up_tree(depth);
      check += item_check(tree);
      delete_tree(tree);
    }
    printf("%ld\t trees of depth %u\t check: %ld\n", iterations, depth, check);
  }

  printf("long lived tree of depth %u\t check: %ld\n", max_depth, item_check(long_lived_tree));
  delete_tree(long_lived_tree);

  char extra[64];
#if defined(BENCH_SHADE) && defined(BENCH_BARRIER)
  snprintf(extra, sizeof extra, " depth=%u barrier=1", max_depth);
#else
  snprintf(extra, sizeof extra, " depth=%u", max_depth);
#endif
  bench_finish(extra);
  return 0;
}
