// rc_test.h: the small harness of the reference-counting tests (tests/rc), and the object types
// they share.
//
// A test file is a list of `static void test_<what>(void)` functions, each one behaviour, run
// with RC_TEST_RUN. RC_EXPECT records a failed expectation (file, line, text) and carries on;
// main returns rc_test_finish(), non-zero if any expectation failed. Randomised tests print
// `seed=<n>`; SHADE_TEST_SEED=<n> replays it. SHADE_TEST_SCALE (default 1.0) scales heavy work.
// Between tests RC_TEST_RUN restores the collector's defaults and collects everything left.
#ifndef SHADE_RC_TEST_H
#define SHADE_RC_TEST_H

#include <shade/rc.h>

#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RC_TEST_UNUSED __attribute__((unused))

static atomic_int rc_test_failures;
static const char *rc_test_current = "(main)";

#define RC_EXPECT(cond)                                                                           \
  do {                                                                                            \
    if (!(cond)) {                                                                                \
      atomic_fetch_add(&rc_test_failures, 1);                                                     \
      fprintf(stderr, "%s:%d: FAILED in %s: %s\n", __FILE__, __LINE__, rc_test_current, #cond);   \
    }                                                                                             \
  } while (0)

#define RC_EXPECT_EQ(a, b)                                                                        \
  do {                                                                                            \
    long long rc_a_ = (long long)(a), rc_b_ = (long long)(b);                                     \
    if (rc_a_ != rc_b_) {                                                                         \
      atomic_fetch_add(&rc_test_failures, 1);                                                     \
      fprintf(stderr, "%s:%d: FAILED in %s: %s == %s  -- %lld != %lld\n", __FILE__, __LINE__,     \
              rc_test_current, #a, #b, rc_a_, rc_b_);                                             \
    }                                                                                             \
  } while (0)

static RC_TEST_UNUSED void rc_test_reset(void) {
  shade_rc_set_threshold(700, 10, 10);
  shade_rc_enable();
  shade_rc_unfreeze();
  shade_rc_collect(2);
}

#define RC_TEST_RUN(fn)                                                                           \
  do {                                                                                            \
    rc_test_current = #fn;                                                                        \
    rc_test_reset();                                                                              \
    fn();                                                                                         \
    rc_test_reset();                                                                              \
    fprintf(stderr, "%-50s done\n", #fn);                                                         \
  } while (0)

static RC_TEST_UNUSED int rc_test_finish(void) {
  int failures = atomic_load(&rc_test_failures);
  fprintf(stderr, failures ? "%d expectation(s) FAILED\n" : "all expectations met\n", failures);
  return failures ? 1 : 0;
}

static RC_TEST_UNUSED double rc_test_scale(void) {
  const char *s = getenv("SHADE_TEST_SCALE");
  double scale = s ? atof(s) : 1.0;
  return scale > 0 ? scale : 1.0;
}

static RC_TEST_UNUSED size_t rc_test_scaled(size_t n, size_t minimum) {
  size_t scaled = (size_t)((double)n * rc_test_scale());
  return scaled < minimum ? minimum : scaled;
}

// xorshift64*; seeded once per program.
static uint64_t rc_test_rng_state;
static RC_TEST_UNUSED uint64_t rc_test_seed(void) {
  const char *s = getenv("SHADE_TEST_SEED");
  uint64_t seed = s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
  if (seed == 0)
    seed = 1;
  printf("seed=%" PRIu64 "\n", seed);
  fflush(stdout);
  rc_test_rng_state = seed;
  return seed;
}
static RC_TEST_UNUSED uint64_t rc_test_random(void) {
  uint64_t x = rc_test_rng_state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  rc_test_rng_state = x;
  return x * 0x2545F4914F6CDD1Dull;
}

// ---------------------------------------------------------------------------------------------
// Messages: stderr is redirected to a temporary file between begin and end.

static int rc_capture_saved_fd = -1;
static FILE *rc_capture_file;

static RC_TEST_UNUSED void rc_capture_begin(void) {
  fflush(stderr);
  rc_capture_file = tmpfile();
  rc_capture_saved_fd = dup(2);
  dup2(fileno(rc_capture_file), 2);
}

// Returns what was written to stderr since rc_capture_begin (static buffer).
static RC_TEST_UNUSED const char *rc_capture_end(void) {
  static char text[8192];
  fflush(stderr);
  dup2(rc_capture_saved_fd, 2);
  close(rc_capture_saved_fd);
  rewind(rc_capture_file);
  size_t n = fread(text, 1, sizeof text - 1, rc_capture_file);
  text[n] = 0;
  fclose(rc_capture_file);
  return text;
}

// ---------------------------------------------------------------------------------------------
// A container with two references and an id, and an atomic leaf. Every death is counted.

struct node {
  void *left, *right;
  long id;
};

static atomic_long nodes_finalized;

static void node_traverse(void *obj, shade_rc_visit_fn visit, void *arg) {
  struct node *n = obj;
  visit(n->left, arg);
  visit(n->right, arg);
}

static void node_clear(void *obj) {
  struct node *n = obj;
  void *left = n->left, *right = n->right;
  n->left = n->right = NULL;
  shade_xdecref(left);
  shade_xdecref(right);
}

static void node_finalize(void *obj) {
  (void)obj;
  atomic_fetch_add(&nodes_finalized, 1);
}

static RC_TEST_UNUSED struct shade_rc_type node_type = {
    .name = "node",
    .size = sizeof(struct node),
    .traverse = node_traverse,
    .clear = node_clear,
    .finalize = node_finalize,
};

static atomic_long leaves_finalized;
static void leaf_finalize(void *obj) {
  (void)obj;
  atomic_fetch_add(&leaves_finalized, 1);
}
static RC_TEST_UNUSED struct shade_rc_type leaf_type = {
    .name = "leaf", .size = 16, .finalize = leaf_finalize};

// A container with two references, a traverse and no clear: a cycle of pairs cannot be broken.
struct pair {
  void *a, *b;
};
static RC_TEST_UNUSED void pair_traverse(void *obj, shade_rc_visit_fn visit, void *arg) {
  struct pair *p = obj;
  visit(p->a, arg);
  visit(p->b, arg);
}
static RC_TEST_UNUSED struct shade_rc_type pair_type = {
    .name = "pair", .size = sizeof(struct pair), .traverse = pair_traverse};

static RC_TEST_UNUSED struct node *node_new(long id) {
  struct node *n = shade_rc_new(&node_type);
  n->id = id;
  return n;
}

// Stores a new reference to target in *field (which must be NULL).
static RC_TEST_UNUSED void link_to(void **field, void *target) {
  shade_incref(target);
  *field = target;
}

#endif
