// test_api_during_mark.c (conc_realloc_during_mark_*, conc_free_during_mark_*,
// conc_remove_roots_during_mark_*, conc_free_uncollectable_during_mark_*): library calls that
// move or drop references without a barrier store the program could make, made while a marking
// is under way. The collector must handle them itself.
//
// Run as `conc_api_during_mark <mode> <scenario>`. A long list (a global, 200000 nodes scaled)
// keeps the markers busy; its last node holds a holder object, the only holder of TARGETS filled
// objects. Right after a marking starts (the barrier's flag turns on; concurrent mode then lets
// the controller scan this thread's stack for a moment), while the holder is most likely still
// unscanned (white), one of:
//   realloc          q = shade_realloc(holder, bigger) (the library copies the target pointers
//                    into the new, black, object and frees the old one), and the list's last
//                    node is pointed at q with the barrier. The targets are now referenced only
//                    from q.
//   free             the targets' addresses are copied to this thread's stack (already scanned),
//                    the last node's reference is cleared with the barrier, and the holder is
//                    freed with shade_free (it is dead: legitimate). The targets are now
//                    referenced only from the stack.
//   remove_roots     the holder is a C-library array registered with shade_add_roots: the
//                    targets are copied to the stack and the range removed.
//   free_uncollectable  the holder is an uncollectable object: copied to the stack, then freed.
// Then the marking is let finish (the verifier checks it) and a full collection runs; every
// target must still be live with its contents. Several rounds.
#include "conc_test.h"

enum { TARGETS = 4, TARGET_SIZE = 48, ROUNDS = 6 };
#define LIST_MAGIC 0xF1157F1157F1157Full

struct lnode {
  uint64_t magic;
  uint64_t key;
  struct lnode *next;
  void *holder;
};

struct holder {
  uint64_t magic;
  void *target[TARGETS];
};

static struct lnode *list_head;         // global: SHADE_STORE
static shade_test_hidden last_hidden;   // the list keeps it alive
static void **range;                    // C memory (remove_roots)
static uint64_t rng;
static int mode;

static SHADE_TEST_NOINLINE void build_list(size_t n) {
  struct lnode *next = NULL;
  for (size_t i = n; i-- > 0;) {
    struct lnode *node = shade_malloc(sizeof *node);
    node->magic = LIST_MAGIC;
    node->key = CONC_TAG | i;
    shade_write(node, (void **)&node->next, next);
    if (next == NULL)
      last_hidden = shade_test_hide(node);
    next = node;
  }
  SHADE_STORE(list_head, next);
}

static struct lnode *last_node(void) { return shade_test_unhide(last_hidden); }

// A holder of TARGETS new filled objects, in the place the scenario wants.
static SHADE_TEST_NOINLINE void hang(const char *scenario, shade_test_hidden *hidden,
                                     uint64_t seed) {
  struct holder *h = NULL;
  if (strcmp(scenario, "free_uncollectable") == 0)
    h = shade_malloc_uncollectable(sizeof *h);
  else if (strcmp(scenario, "remove_roots") != 0)
    h = shade_malloc(sizeof *h);
  if (h != NULL)
    h->magic = LIST_MAGIC;
  else // registered before it holds anything: objects in an unregistered range are garbage
    shade_add_roots(range, range + TARGETS);
  for (int i = 0; i < TARGETS; i++) {
    hidden[i] = shade_test_new_filled(TARGET_SIZE, seed + (uint64_t)i);
    if (h != NULL)
      shade_write(h, &h->target[i], shade_test_unhide(hidden[i]));
    else
      SHADE_STORE(range[i], shade_test_unhide(hidden[i]));
  }
  if (strcmp(scenario, "realloc") == 0 || strcmp(scenario, "free") == 0)
    shade_write(last_node(), &last_node()->holder, h);
  else if (strcmp(scenario, "free_uncollectable") == 0)
    shade_write(last_node(), &last_node()->holder, h); // found again below; a root anyway
}

// Lets the concurrent controller scan the stacks meanwhile (a couple of milliseconds, polling).
static void settle(void) {
  if (mode != SHADE_MODE_CONCURRENT)
    return;
  double until = shade_test_now() + 0.002;
  while (shade_test_now() < until)
    shade_safepoint();
}

// The step under test. `keep` is in the caller's frame (the stack).
static SHADE_TEST_NOINLINE void act(const char *scenario, void *volatile *keep) {
  struct lnode *last = last_node();
  if (strcmp(scenario, "realloc") == 0) {
    struct holder *q = shade_realloc(last->holder, 400);
    shade_write(last, &last->holder, q);
  } else if (strcmp(scenario, "free") == 0) {
    struct holder *h = last->holder;
    for (int i = 0; i < TARGETS; i++)
      keep[i] = h->target[i];
    shade_write(last, &last->holder, NULL);
    shade_free(h);
  } else if (strcmp(scenario, "free_uncollectable") == 0) {
    struct holder *h = last->holder;
    for (int i = 0; i < TARGETS; i++)
      keep[i] = h->target[i];
    shade_write(last, &last->holder, NULL);
    shade_free(h);
  } else {
    for (int i = 0; i < TARGETS; i++)
      keep[i] = range[i];
    shade_remove_roots(range, range + TARGETS);
    memset(range, 0, TARGETS * sizeof *range); // not a root any more: no barrier
  }
}

static void test_calls_during_marking(const char *scenario) {
  uint64_t seed = shade_test_seed();
  rng = seed;
  size_t n = shade_test_scaled(200000, 20000);
  build_list(n);
  range = calloc(TARGETS, sizeof *range);
  shade_test_collect_clean();
  fprintf(stderr, "scenario %s, list of %zu nodes\n", scenario, n);
  int bad_rounds = 0;
  for (int round = 0; round < ROUNDS; round++) {
    shade_test_hidden hidden[TARGETS];
    void *volatile keep[TARGETS] = {0};
    uint64_t round_seed = seed + (uint64_t)round * 16;
    hang(scenario, hidden, round_seed);
    shade_test_clear_stack();
    int marking = 0;
    if (mode != SHADE_MODE_STW) {
      marking = conc_wait_for_new_marking(&rng);
      SHADE_TEST_EXPECTF(marking, "round %d: no marking began", round);
      settle();
    }
    fprintf(stderr, "round %d: %s %s\n", round, scenario,
            marking && conc_marking_now() ? "while marking" : "(marking over already)");
    act(scenario, keep);
    // let the marking finish (the verifier checks it), then a full collection
    SHADE_TEST_EXPECT(conc_allocate_until_marking(0, &rng, (size_t)512 << 20));
    shade_test_collect_clean();
    conc_allocate_until_marking(0, &rng, (size_t)512 << 20);
    shade_test_collect_clean();
    int intact = 0;
    const struct holder *h = strcmp(scenario, "realloc") == 0 ? last_node()->holder : NULL;
    for (int i = 0; i < TARGETS; i++) {
      void *target = shade_test_unhide(hidden[i]);
      void *held = h != NULL ? h->target[i] : keep[i];
      intact += held == target && shade_is_heap_pointer(target) == 1 &&
                shade_test_is_filled(target, TARGET_SIZE, round_seed + (uint64_t)i);
    }
    if (intact != TARGETS)
      bad_rounds++;
    SHADE_TEST_EXPECTF(intact == TARGETS, "round %d (%s): %d of %d targets intact", round,
                       scenario, intact, TARGETS);
    if (h != NULL) // drop them for the next round
      shade_write(last_node(), &last_node()->holder, NULL);
  }
  SHADE_TEST_EXPECT(bad_rounds == 0);
  free(range);
}

static const char *scenario_name;
static void test_library_calls_during_marking_keep_reachable_objects(void) {
  test_calls_during_marking(scenario_name);
}

int main(int argc, char **argv) {
  static const char *const scenarios[] = {"realloc", "free", "remove_roots",
                                          "free_uncollectable"};
  if (argc != 3 || conc_mode_parse(argv[1]) < 0) {
    fprintf(stderr, "usage: %s concurrent|incremental|stw realloc|free|remove_roots|"
                    "free_uncollectable\n", argv[0]);
    return 2;
  }
  for (size_t i = 0; i < sizeof scenarios / sizeof *scenarios; i++)
    if (strcmp(argv[2], scenarios[i]) == 0)
      scenario_name = scenarios[i];
  if (scenario_name == NULL) {
    fprintf(stderr, "unknown scenario %s\n", argv[2]);
    return 2;
  }
  mode = conc_mode_parse(argv[1]);
  conc_start(mode, (struct conc_pacing){.gc_percent = 100});
  SHADE_TEST_RUN(test_library_calls_during_marking_keep_reachable_objects);
  return shade_test_finish();
}
