// rc_test.h: the object types the reference-counting tests (tests/rc) share, on top of the
// harness in test_util.h.
//
// A test file is written like every other (see test_util.h): `static void test_<what>(void)`
// functions, each one behaviour, checked with SHADE_TEST_EXPECT / SHADE_TEST_EXPECT_EQ and run
// with SHADE_TEST_RUN; main returns shade_test_finish(). main first calls
// shade_test_between_tests(rc_test_reset), so that before and after every test the collector's
// defaults are restored and everything left is collected (not once the RC lock has been used:
// from then on every RC call needs it, so rc_threads and rc_misuse's last test run without it).
// Randomised tests take their seed from shade_test_seed() and draw with shade_test_random.
#ifndef SHADE_RC_TEST_H
#define SHADE_RC_TEST_H

#include <shade/rc.h>

#include "test_util.h"

// Restores the RC collector's defaults (thresholds, enabled, nothing frozen) and collects
// everything left.
static SHADE_TEST_UNUSED void rc_test_reset(void) {
  shade_rc_set_threshold(700, 10, 10);
  shade_rc_enable();
  shade_rc_unfreeze();
  shade_rc_collect(2);
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

static SHADE_TEST_UNUSED struct shade_rc_type node_type = {
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
static SHADE_TEST_UNUSED struct shade_rc_type leaf_type = {
    .name = "leaf", .size = 16, .finalize = leaf_finalize};

// A container with two references, a traverse and no clear: a cycle of pairs cannot be broken.
struct pair {
  void *a, *b;
};
static SHADE_TEST_UNUSED void pair_traverse(void *obj, shade_rc_visit_fn visit, void *arg) {
  struct pair *p = obj;
  visit(p->a, arg);
  visit(p->b, arg);
}
static SHADE_TEST_UNUSED struct shade_rc_type pair_type = {
    .name = "pair", .size = sizeof(struct pair), .traverse = pair_traverse};

static SHADE_TEST_UNUSED struct node *node_new(long id) {
  struct node *n = shade_rc_new(&node_type);
  n->id = id;
  return n;
}

// Stores a new reference to target in *field (which must be NULL).
static SHADE_TEST_UNUSED void link_to(void **field, void *target) {
  shade_incref(target);
  *field = target;
}

#endif
