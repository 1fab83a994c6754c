// gcbench.c: GCBench (Hans Boehm, John Ellis, Kovac), the C version, rewritten for the three builds.
//
// A node is two pointers and two ints. The program
//   - stretches the heap with a tree of depth 18 (built bottom-up), then drops it;
//   - builds a long-lived tree of depth 16 top-down and an array of 500,000 doubles (half filled),
//     both kept live to the end;
//   - for d = 4, 6, ..., 16 builds NumIters(d) = 2 * TreeSize(18) / TreeSize(d) trees top-down
//     (Populate: allocate the children of an existing node, then descend) and then as many
//     bottom-up (MakeTree: children first, then the parent), dropping each tree at once;
//   - prints the time of each phase and the total in-program time ("Completed in N msec").
// With BENCH_MALLOC each dropped tree is freed; the garbage-collected builds never free.
//
// The last line of stdout is a checksum that bench/run.sh compares:
//   temp_nodes=15202791 long_lived_nodes=131071 array[1000]=0.001000
// temp_nodes counts the nodes allocated for the stretch tree and all temporary trees;
// long_lived_nodes counts the long-lived tree by walking it after all the garbage was made, so a
// collector that lost a live node shows it here.
#include <stdio.h>
#include <stdlib.h>

#include "allocator.h"

struct node {
  struct node *left;
  struct node *right;
  int i, j;
};

enum {
  STRETCH_TREE_DEPTH = 18,   // about 16 MB
  LONG_LIVED_TREE_DEPTH = 16, // about 4 MB
  ARRAY_SIZE = 500000,       // about 4 MB
  MIN_TREE_DEPTH = 4,
  MAX_TREE_DEPTH = 16,
};

static long nodes_allocated;

static double milliseconds_since(const struct timespec *start) {
  return bench_seconds_since(start) * 1000.0;
}

static struct node *new_node(struct node *left, struct node *right) {
  struct node *n = bench_alloc(sizeof *n);
  n->left = left;
  n->right = right;
  n->i = 0;
  n->j = 0;
  nodes_allocated++;
  return n;
}

// Nodes in a tree of the given depth.
static int tree_size(int depth) { return (1 << (depth + 1)) - 1; }

// Trees of the given depth built in each half of a phase.
static int num_iters(int depth) { return 2 * tree_size(STRETCH_TREE_DEPTH) / tree_size(depth); }

// Build a tree top-down: give an existing node its children, then fill them in.
static void populate(int depth, struct node *this_node) {
  if (depth <= 0)
    return;
  depth--;
  this_node->left = new_node(NULL, NULL);
  this_node->right = new_node(NULL, NULL);
  populate(depth, this_node->left);
  populate(depth, this_node->right);
}

// Build a tree bottom-up: the children exist before their parent.
static struct node *make_tree(int depth) {
  if (depth <= 0)
    return new_node(NULL, NULL);
  struct node *left = make_tree(depth - 1);
  struct node *right = make_tree(depth - 1);
  return new_node(left, right);
}

#if BENCH_FREES_MEMORY
static void destroy(struct node *tree) {
  if (tree->left != NULL)
    destroy(tree->left);
  if (tree->right != NULL)
    destroy(tree->right);
  bench_free(tree);
}
#else
#define destroy(tree) ((void)(tree)) // the collector reclaims it
#endif

static long count_nodes(const struct node *tree) {
  if (tree == NULL)
    return 0;
  return 1 + count_nodes(tree->left) + count_nodes(tree->right);
}

static void time_construction(int depth) {
  int iterations = num_iters(depth);
  struct timespec start;

  printf("Creating %d trees of depth %d\n", iterations, depth);

  clock_gettime(CLOCK_MONOTONIC, &start);
  for (int i = 0; i < iterations; i++) {
    struct node *temp_tree = new_node(NULL, NULL);
    populate(depth, temp_tree);
    destroy(temp_tree);
  }
  printf("\tTop down construction took %.0f msec\n", milliseconds_since(&start));

  clock_gettime(CLOCK_MONOTONIC, &start);
  for (int i = 0; i < iterations; i++) {
    struct node *temp_tree = make_tree(depth);
    destroy(temp_tree);
  }
  printf("\tBottom up construction took %.0f msec\n", milliseconds_since(&start));
}

int main(void) {
  bench_start();

  printf("Garbage Collector Test (%s)\n", BENCH_ALLOCATOR_NAME);
  printf(" Live storage will peak at %zu bytes.\n\n",
         2 * sizeof(struct node) * (size_t)tree_size(LONG_LIVED_TREE_DEPTH) +
             sizeof(double) * ARRAY_SIZE);
  printf(" Stretching memory with a binary tree of depth %d\n", STRETCH_TREE_DEPTH);

  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);

  // Stretch the memory space quickly.
  struct node *temp_tree = make_tree(STRETCH_TREE_DEPTH);
  destroy(temp_tree);
  temp_tree = NULL;

  // A long-lived tree, built top-down like the temporary ones.
  printf(" Creating a long-lived binary tree of depth %d\n", LONG_LIVED_TREE_DEPTH);
  long allocated_before_long_lived = nodes_allocated;
  struct node *long_lived_tree = new_node(NULL, NULL);
  populate(LONG_LIVED_TREE_DEPTH, long_lived_tree);
  long long_lived_allocated = nodes_allocated - allocated_before_long_lived;

  // A long-lived array of numbers, half of it filled.
  printf(" Creating a long-lived array of %d doubles\n", ARRAY_SIZE);
  double *array = bench_alloc_atomic(sizeof(double) * ARRAY_SIZE);
  for (int i = 0; i < ARRAY_SIZE / 2; i++)
    array[i] = 1.0 / i;

  for (int depth = MIN_TREE_DEPTH; depth <= MAX_TREE_DEPTH; depth += 2)
    time_construction(depth);

  // The original's "fake reference" keeping the tree and the array alive to here.
  if (long_lived_tree == NULL || array[1000] != 1.0 / 1000)
    fprintf(stderr, "Failed\n");

  double elapsed_ms = milliseconds_since(&start);
  printf("Completed in %.0f msec\n", elapsed_ms);

  // Checksums, outside the timed part.
  long long_lived_nodes = count_nodes(long_lived_tree);
  printf("temp_nodes=%ld long_lived_nodes=%ld array[1000]=%.6f\n",
         nodes_allocated - long_lived_allocated, long_lived_nodes, array[1000]);

  destroy(long_lived_tree);
  bench_free(array);

  char extra[64];
  snprintf(extra, sizeof extra, " inprog_ms=%.1f", elapsed_ms);
  bench_finish(extra);
  return 0;
}
