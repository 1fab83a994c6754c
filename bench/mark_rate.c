// mark_rate.c: how fast a full collection traces a live heap, Shade against bdwgc.
//
// Usage: mark_rate_<collector> [NODES] [COLLECTIONS]   (2000000 and 15 by default)
//
// Three live heaps of NODES two-pointer nodes each, traced in turn by COLLECTIONS explicit full
// collections (shade_collect, GC_gcollect) after two untimed ones:
//   tree    a complete binary tree, each node allocated before its children (C's binary-trees:
//           the long-lived tree);
//   post    the same tree, each node allocated after its children, as a Lisp's cons builds it
//           (Guile's binary-trees): a marker that scans the last child found first walks it
//           down through memory in one stream;
//   random  the nodes reached through an array of them, each node pointing at two random nodes:
//           every edge is a cache miss (a cache's entries, a graph).
// Only one heap is live while another is timed. Nothing is allocated during the timed
// collections, so each one is a stop, a mark of the live heap, and the sweep's share that the
// collector does in the call. Both collectors run with their defaults: set SHADE_MARKERS=1 and
// GC_MARKERS=1 to compare one marking thread each.
//
// The BENCH line adds, per heap (tree, post, random): <heap>_median_ms, <heap>_best_ms (per
// collection) and <heap>_ns_per_object (the median over NODES).
#include <string.h>

#include "allocator.h"

#if defined(BENCH_SHADE)
#define bench_collect() shade_collect()
#elif defined(BENCH_BDWGC)
#define bench_collect() GC_gcollect()
#else
#error "mark_rate is for the collectors (BENCH_SHADE or BENCH_BDWGC)"
#endif

struct node {
  struct node *left, *right;
};

static struct node *make_tree(long count) {
  if (count <= 0)
    return NULL;
  struct node *n = bench_alloc(sizeof *n);
  long rest = count - 1;
  n->left = make_tree(rest / 2);
  n->right = make_tree(rest - rest / 2);
  return n;
}

static struct node *make_tree_children_first(long count) {
  if (count <= 0)
    return NULL;
  long rest = count - 1;
  struct node *left = make_tree_children_first(rest / 2);
  struct node *right = make_tree_children_first(rest - rest / 2);
  struct node *n = bench_alloc(sizeof *n);
  n->left = left;
  n->right = right;
  return n;
}

static uint64_t random_state = 0x9e3779b97f4a7c15u;
static uint64_t next_random(void) { // xorshift64*
  random_state ^= random_state >> 12;
  random_state ^= random_state << 25;
  random_state ^= random_state >> 27;
  return random_state * 0x2545f4914f6cdd1du;
}

static struct node **make_random(long count) {
  struct node **all = bench_alloc((size_t)count * sizeof *all);
  for (long i = 0; i < count; i++)
    all[i] = bench_alloc(sizeof(struct node));
  for (long i = 0; i < count; i++) {
    all[i]->left = all[next_random() % (uint64_t)count];
    all[i]->right = all[next_random() % (uint64_t)count];
  }
  return all;
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

// Times `collections` collections after two untimed ones; *median and *best in ms.
static void time_collections(int collections, double *median, double *best) {
  double times[collections];
  bench_collect();
  bench_collect();
  for (int i = 0; i < collections; i++) {
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    bench_collect();
    times[i] = bench_seconds_since(&start) * 1e3;
  }
  qsort(times, (size_t)collections, sizeof times[0], compare_doubles);
  *median = times[collections / 2];
  *best = times[0];
}

// Counts the tree's nodes (and checks it is whole after the collections).
static long count_tree(const struct node *n) {
  return n == NULL ? 0 : 1 + count_tree(n->left) + count_tree(n->right);
}

int main(int argc, char **argv) {
  bench_start();
  long nodes = argc > 1 ? atol(argv[1]) : 2000000;
  int collections = argc > 2 ? atoi(argv[2]) : 15;
  if (nodes < 1 || collections < 1) {
    fprintf(stderr, "usage: %s [NODES >= 1] [COLLECTIONS >= 1]\n", argv[0]);
    return 2;
  }
  double tree_median, tree_best, post_median, post_best, random_median, random_best;

  static struct node *volatile tree; // (a global: a root whatever the compiler keeps in registers)
  tree = make_tree(nodes);
  time_collections(collections, &tree_median, &tree_best);
  if (count_tree(tree) != nodes) {
    fprintf(stderr, "mark_rate: the tree lost nodes\n");
    return 1;
  }
  tree = make_tree_children_first(nodes);
  time_collections(collections, &post_median, &post_best);
  if (count_tree(tree) != nodes) {
    fprintf(stderr, "mark_rate: the children-first tree lost nodes\n");
    return 1;
  }
  tree = NULL;

  static struct node **volatile all;
  all = make_random(nodes);
  time_collections(collections, &random_median, &random_best);
  for (long i = 0; i < nodes; i++) // every node still has its two links into the set
    if (all[i]->left == NULL || all[i]->right == NULL) {
      fprintf(stderr, "mark_rate: node %ld lost a link\n", i);
      return 1;
    }

  char extra[384];
  snprintf(extra, sizeof extra,
           " nodes=%ld tree_median_ms=%.2f tree_best_ms=%.2f tree_ns_per_object=%.1f"
           " post_median_ms=%.2f post_best_ms=%.2f post_ns_per_object=%.1f"
           " random_median_ms=%.2f random_best_ms=%.2f random_ns_per_object=%.1f",
           nodes, tree_median, tree_best, tree_median * 1e6 / (double)nodes, post_median,
           post_best, post_median * 1e6 / (double)nodes, random_median, random_best,
           random_median * 1e6 / (double)(nodes + 1));
  bench_finish(extra);
  return 0;
}
