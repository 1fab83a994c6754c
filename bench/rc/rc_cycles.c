// rc_cycles.c: the cost of a full cycle collection per tracked object, Shade's RC family.
//
// The same structures as rc_cycles.py builds in CPython, with the same generator, so the two
// figures compare like for like (bench/rc/run.sh prints both and their ratio):
//   live:    LIVE objects kept for the whole run (reachable from one root vector): rings of 100
//            (field a), doubly linked circular lists of 100 (a = next, b = prev), and random
//            graphs of 1000 nodes with two edges each
//   garbage: GARBAGE objects in the same shapes, made again before each round and dropped
// Each round times one shade_rc_collect(2) and divides by the tracked objects at its start.
// Automatic collection is off while building (gc.disable() in Python). Prints the median round:
//   BENCH rc_cycles impl=shade tracked=<n> found=<n> ns_per_object=<x>
// Usage: rc_cycles [live [garbage [rounds]]]   (defaults 500000 500000 5)
#include <shade/rc.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct node {
  void *a, *b;
};
static void node_traverse(void *obj, shade_rc_visit_fn visit, void *arg) {
  struct node *n = obj;
  visit(n->a, arg);
  visit(n->b, arg);
}
static void node_clear(void *obj) {
  struct node *n = obj;
  void *a = n->a, *b = n->b;
  n->a = n->b = NULL;
  shade_xdecref(a);
  shade_xdecref(b);
}
static struct shade_rc_type node_type = {
    .name = "node", .size = sizeof(struct node), .traverse = node_traverse, .clear = node_clear};

// A growable vector of references (Python's list).
struct vec {
  size_t length, capacity;
  void **items;
};
static void vec_traverse(void *obj, shade_rc_visit_fn visit, void *arg) {
  struct vec *v = obj;
  for (size_t i = 0; i < v->length; i++)
    visit(v->items[i], arg);
}
static void vec_clear(void *obj) {
  struct vec *v = obj;
  for (size_t i = 0; i < v->length; i++)
    shade_xdecref(v->items[i]);
  v->length = 0;
  free(v->items);
  v->items = NULL;
}
static struct shade_rc_type vec_type = {
    .name = "vec", .size = sizeof(struct vec), .traverse = vec_traverse, .clear = vec_clear};
static void vec_push(struct vec *v, void *item) { // takes the reference
  if (v->length == v->capacity) {
    v->capacity = v->capacity ? v->capacity * 2 : 16;
    v->items = realloc(v->items, v->capacity * sizeof *v->items);
  }
  v->items[v->length++] = item;
}

// The generator both programs use (64-bit LCG, top bits).
static uint64_t rng = 42;
static uint64_t next_random(void) {
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  return rng >> 33;
}

static void link_to(void **field, void *target) {
  shade_incref(target);
  *field = target;
}

// Builds about count objects; their roots (one per structure) are pushed on roots.
static void build(struct vec *roots, size_t count) {
  size_t made = 0;
  struct node *tmp[1000];
  while (made < count) {
    // A ring of 100.
    for (int i = 0; i < 100; i++)
      tmp[i] = shade_rc_new(&node_type);
    for (int i = 0; i < 100; i++)
      link_to(&tmp[i]->a, tmp[(i + 1) % 100]);
    vec_push(roots, tmp[0]);
    for (int i = 1; i < 100; i++)
      shade_decref(tmp[i]);
    // A doubly linked circular list of 100.
    for (int i = 0; i < 100; i++)
      tmp[i] = shade_rc_new(&node_type);
    for (int i = 0; i < 100; i++) {
      link_to(&tmp[i]->a, tmp[(i + 1) % 100]);
      link_to(&tmp[i]->b, tmp[(i + 99) % 100]);
    }
    vec_push(roots, tmp[0]);
    for (int i = 1; i < 100; i++)
      shade_decref(tmp[i]);
    // A random graph of 1000 nodes, two edges each, held through a vector of its nodes.
    struct vec *graph = shade_rc_new(&vec_type);
    for (int i = 0; i < 1000; i++) {
      tmp[i] = shade_rc_new(&node_type);
      vec_push(graph, tmp[i]);
    }
    for (int i = 0; i < 1000; i++) {
      link_to(&tmp[i]->a, tmp[next_random() % 1000]);
      link_to(&tmp[i]->b, tmp[next_random() % 1000]);
    }
    vec_push(roots, graph);
    made += 1201;
  }
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  size_t live = argc > 1 ? strtoul(argv[1], NULL, 10) : 500000;
  size_t garbage = argc > 2 ? strtoul(argv[2], NULL, 10) : 500000;
  int rounds = argc > 3 ? atoi(argv[3]) : 5;
  if (rounds < 1 || rounds > 100)
    rounds = 5;
  shade_rc_disable();
  struct vec *live_roots = shade_rc_new(&vec_type);
  build(live_roots, live);
  shade_rc_collect(2);
  double per_object[100];
  size_t tracked = 0, found = 0;
  for (int round = 0; round < rounds; round++) {
    struct vec *garbage_roots = shade_rc_new(&vec_type);
    build(garbage_roots, garbage);
    if (garbage_roots->length > 0) // a cycle through the root vector too
      link_to((void **)&((struct node *)garbage_roots->items[0])->b, garbage_roots);
    shade_decref(garbage_roots);
    tracked = shade_rc_get_objects(-1, NULL, 0);
    uint64_t t0 = now_ns();
    found = shade_rc_collect(2);
    uint64_t t1 = now_ns();
    per_object[round] = (double)(t1 - t0) / (double)tracked;
    fprintf(stderr, "round %d: tracked=%zu found=%zu collect_ms=%.1f ns_per_object=%.2f\n", round,
            tracked, found, (double)(t1 - t0) / 1e6, per_object[round]);
  }
  qsort(per_object, (size_t)rounds, sizeof per_object[0], compare_double);
  printf("BENCH rc_cycles impl=shade tracked=%zu found=%zu ns_per_object=%.2f\n", tracked, found,
         per_object[rounds / 2]);
  shade_decref(live_roots);
  return 0;
}
