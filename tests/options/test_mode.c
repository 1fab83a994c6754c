// test_mode.c (options_mode_*): the environment cannot make the program's promises.
//
// Run as `options_mode <plain|barrier> <expected mode> <ignored|quiet>` with SHADE_MODE set by
// CTest (and SHADE_VERIFY=1, as every test: a reachable object left unmarked stops the program).
//
//   plain    the program keeps a heap of boxes whose slots hold leaves, and moves references
//            between boxes with plain C stores, as most C programs do, while cycles run. It does
//            not declare write_barrier, so SHADE_MODE=incremental or concurrent must be ignored
//            with one message naming SHADE_MODE and write_barrier: stats.mode is stw and every
//            leaf is intact after many collections;
//   barrier  the same program with every store through shade_write, declaring write_barrier = 1:
//            SHADE_MODE is obeyed (stats.mode is that mode, cycles are concurrent/incremental),
//            with no message, and every leaf is intact.
#include "options_test.h"

enum { BOXES = 256, SLOTS = 16, LEAF_WORDS = 6 };

struct leaf {
  uint64_t id;
  uint64_t payload[LEAF_WORDS]; // a function of id
};
struct box {
  struct leaf *slot[SLOTS];
};

static int use_barrier;
static struct box **boxes; // a Shade object: the table of boxes
static uint64_t next_id, id_sum;

static uint64_t payload_word(uint64_t id, int i) { return (id + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)i; }

static void store(void *object, void **slot, void *value) {
  if (use_barrier)
    shade_write(object, slot, value);
  else
    *slot = value; // the plain C store of an ordinary program
}

static SHADE_TEST_NOINLINE struct leaf *new_leaf(void) {
  struct leaf *leaf = shade_malloc(sizeof *leaf);
  SHADE_TEST_EXPECT(leaf != NULL);
  if (leaf == NULL)
    exit(1);
  leaf->id = next_id++;
  for (int i = 0; i < LEAF_WORDS; i++)
    leaf->payload[i] = payload_word(leaf->id, i);
  id_sum += leaf->id;
  return leaf;
}

static SHADE_TEST_NOINLINE void build(void) {
  boxes = shade_malloc(BOXES * sizeof *boxes);
  for (int b = 0; b < BOXES; b++) {
    struct box *box = shade_malloc(sizeof *box);
    store(boxes, (void **)&boxes[b], box);
    for (int s = 0; s < SLOTS; s++)
      store(box, (void **)&box->slot[s], new_leaf());
  }
}

// Moves references between heap objects (a swap of two slots through a local), replaces some
// leaves, and makes garbage, so that cycles run while references move.
static SHADE_TEST_NOINLINE void churn(uint64_t *rng, size_t rounds) {
  for (size_t r = 0; r < rounds; r++) {
    struct box *a = boxes[shade_test_random(rng) % BOXES];
    struct box *b = boxes[shade_test_random(rng) % BOXES];
    int i = (int)(shade_test_random(rng) % SLOTS), j = (int)(shade_test_random(rng) % SLOTS);
    struct leaf *moving = a->slot[i];
    store(a, (void **)&a->slot[i], b->slot[j]);
    store(b, (void **)&b->slot[j], moving);
    moving = NULL;
    if (r % 8 == 0) {
      struct box *c = boxes[shade_test_random(rng) % BOXES];
      int k = (int)(shade_test_random(rng) % SLOTS);
      id_sum -= c->slot[k]->id;
      store(c, (void **)&c->slot[k], new_leaf());
    }
    if (r % 4 == 0) {
      unsigned char *volatile garbage = shade_malloc(64 + r % 512);
      garbage[0] = 1;
    }
  }
}

static int check_all(void) {
  uint64_t sum = 0;
  int bad = 0;
  for (int b = 0; b < BOXES; b++)
    for (int s = 0; s < SLOTS; s++) {
      struct leaf *leaf = boxes[b]->slot[s];
      if (leaf == NULL || shade_is_heap_pointer(leaf) != 1) {
        bad++;
        continue;
      }
      for (int i = 0; i < LEAF_WORDS; i++)
        bad += leaf->payload[i] != payload_word(leaf->id, i);
      sum += leaf->id;
    }
  SHADE_TEST_EXPECTF(bad == 0, "%d damaged leaves or words", bad);
  SHADE_TEST_EXPECTF(sum == id_sum, "ids sum to %" PRIu64 ", expected %" PRIu64, sum, id_sum);
  return bad == 0 && sum == id_sum;
}

static int expected_mode;
static int expect_ignored;

static const char *mode_name(int mode) {
  return mode == SHADE_MODE_STW ? "stw" : mode == SHADE_MODE_INCREMENTAL ? "incremental"
       : mode == SHADE_MODE_CONCURRENT ? "concurrent" : "?";
}

static void test_mode_in_force_and_message(void) {
  struct shade_stats stats = shade_test_stats();
  const char *env = getenv("SHADE_MODE");
  SHADE_TEST_EXPECTF(stats.mode == expected_mode, "mode %s in force, expected %s (SHADE_MODE=%s)",
                     mode_name(stats.mode), mode_name(expected_mode), env ? env : "");
  if (expect_ignored) {
    char text[256];
    snprintf(text, sizeof text,
             "shade: SHADE_MODE=%s ignored: the program did not declare that it uses the write "
             "barrier (struct shade_options.write_barrier); running stw", env ? env : "");
    SHADE_TEST_EXPECTF(options_message_count == 1 && options_messages_with(text) == 1,
                       "expected exactly the message \"%s\"", text);
  } else {
    SHADE_TEST_EXPECTF(options_message_count == 0, "unexpected message(s)");
  }
  if (options_message_count != (expect_ignored ? 1 : 0))
    options_print_messages();
}

static void test_data_survives_cycles_while_references_move(void) {
  uint64_t rng = shade_test_seed();
  build();
  struct shade_stats before = shade_test_stats();
  size_t rounds = shade_test_scaled(1500000, 20000);
  for (int pass = 0; pass < 20; pass++) {
    churn(&rng, rounds / 20);
    if (pass % 5 == 4)
      shade_test_collect_clean();
    if (!check_all())
      break;
  }
  shade_test_collect_clean();
  check_all();
  struct shade_stats after = shade_test_stats();
  fprintf(stderr, "  %" PRIu64 " cycles, %" PRIu64 " concurrent/incremental\n",
          after.cycles - before.cycles, after.concurrent_cycles - before.concurrent_cycles);
  SHADE_TEST_EXPECTF(after.cycles - before.cycles >= 8, "only %" PRIu64 " cycles",
                     after.cycles - before.cycles);
  if (expected_mode == SHADE_MODE_STW)
    SHADE_TEST_EXPECT(after.concurrent_cycles == 0);
  else
    SHADE_TEST_EXPECTF(after.concurrent_cycles > before.concurrent_cycles,
                       "no concurrent/incremental cycle");
}

int main(int argc, char **argv) {
  if (argc != 4 || (strcmp(argv[1], "plain") != 0 && strcmp(argv[1], "barrier") != 0)) {
    fprintf(stderr, "usage: %s plain|barrier stw|incremental|concurrent ignored|quiet\n", argv[0]);
    return 2;
  }
  use_barrier = strcmp(argv[1], "barrier") == 0;
  expected_mode = strcmp(argv[2], "concurrent") == 0    ? SHADE_MODE_CONCURRENT
                  : strcmp(argv[2], "incremental") == 0 ? SHADE_MODE_INCREMENTAL
                                                        : SHADE_MODE_STW;
  expect_ignored = strcmp(argv[3], "ignored") == 0;
  options_capture(); // before shade_init: its message is what is tested
  struct shade_options options = {.min_heap_goal = (size_t)1 << 20, .gc_percent = 50};
  options.write_barrier = use_barrier; // the declaration; SHADE_MODE chooses the mode
  if (shade_init(&options) != 0) {
    fprintf(stderr, "shade_init failed\n");
    return 1;
  }
  fprintf(stderr, "%s stores, SHADE_MODE=%s, expecting %s\n", argv[1],
          getenv("SHADE_MODE") ? getenv("SHADE_MODE") : "(unset)", argv[2]);
  SHADE_TEST_RUN(test_mode_in_force_and_message);
  SHADE_TEST_RUN(test_data_survives_cycles_while_references_move);
  shade_set_message_handler(NULL);
  return shade_test_finish();
}
