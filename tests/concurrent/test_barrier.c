// test_barrier.c (conc_barrier_*): the write barrier's semantics in every mode, and how the mode
// is chosen.
//
// Run as `conc_barrier <expected> [options]`, <expected> one of stw, incremental, concurrent,
// default (SHADE_MODE empty: stw) or invalid (SHADE_MODE=sideways: a message naming SHADE_MODE,
// then stw). With "options", the mode goes in struct shade_options.mode and must win over
// SHADE_MODE, which CTest sets to another mode; "options-invalid" passes an out-of-range mode
// (a message, then stw whatever SHADE_MODE says).
//
//   - shade_get_stats reports the mode in force; only the invalid cases produce a message;
//   - shade_write / SHADE_STORE store, in every mode, while cycles run: into heap objects
//     (conservative, typed), into globals (object NULL), into shade_add_roots ranges, into
//     uncollectable objects, and into a stack variable; values stored: heap pointers (start,
//     interior, one past the end, into a large object), NULL, and non-heap values (addresses of
//     a stack variable, a global, C-library memory, small numbers, all-ones, a pointer to a freed
//     object); the slot reads back exactly what was stored;
//   - SHADE_STORE evaluates its operands once;
//   - objects kept only through barrier stores in each kind of place survive the cycles intact;
//     objects whose only reference was overwritten with NULL are reclaimed (90% at least, after
//     two more collections: the deletion barrier may keep them through the cycle under way);
//   - several threads storing at once;
//   - stw: no cycle counts as concurrent, the barrier flag is never seen on; incremental and
//     concurrent: cycles are counted as concurrent and the flag is seen on, and at 2 (every
//     stack scanned) too.
#include "conc_test.h"

enum { TARGETS = 600, TARGET_SIZE = 48, WORDS = 64 };

static int expected_mode;
static uint64_t rng_state;

// ---------------------------------------------------------------------------------------------
// The mode

static void test_mode_is_reported(void) {
  struct shade_stats stats = shade_test_stats();
  SHADE_TEST_EXPECTF(stats.mode == expected_mode, "mode in force %d (%s), expected %d (%s)",
                     stats.mode, conc_mode_name(stats.mode), expected_mode,
                     conc_mode_name(expected_mode));
}

static void test_invalid_mode_gives_a_message_and_stw(void) {
  int found = shade_test_messages_contain("shade_mode", "sideways");
  SHADE_TEST_EXPECTF(found, "no message naming SHADE_MODE and its value");
  SHADE_TEST_EXPECTF(shade_test_stats().mode == SHADE_MODE_STW, "mode %d",
                     shade_test_stats().mode);
  if (!found)
    shade_test_print_messages();
}

static void test_invalid_mode_option_gives_a_message_and_stw(void) {
  int found = shade_test_messages_contain("mode", "42");
  SHADE_TEST_EXPECTF(found, "no message about the mode option 42");
  SHADE_TEST_EXPECTF(shade_test_stats().mode == SHADE_MODE_STW,
                     "mode %d (%s) in force after an invalid option (SHADE_MODE=%s)",
                     shade_test_stats().mode, conc_mode_name(shade_test_stats().mode),
                     getenv("SHADE_MODE") ? getenv("SHADE_MODE") : "");
  if (!found)
    shade_test_print_messages();
}

static void test_valid_mode_gives_no_message(void) {
  SHADE_TEST_EXPECTF(!shade_test_messages_contain("mode", NULL), "unexpected message");
  if (shade_test_messages_contain("mode", NULL))
    shade_test_print_messages();
}

// ---------------------------------------------------------------------------------------------
// Stores read back

struct holder {
  uint64_t tag;
  void *slot[WORDS];
};
static const uint64_t holder_bitmap[2] = {~(uint64_t)1, 1}; // words 1..64
static const struct shade_type holder_type = {"barrier holder", sizeof(struct holder),
                                              holder_bitmap, NULL, 0};

static void *global_slot;
static void *global_slots[WORDS];
static char global_byte;
static int stored_during_marking;

// Stores `value` through the barrier into `slot` and checks the slot and its neighbours.
static void store_and_check(void *object, void **slot, void *value, const char *what) {
  void *before_left = slot[-1], *before_right = slot[1];
  if (conc_marking_now())
    stored_during_marking++;
  shade_write(object, slot, value);
  void *now = *(void *volatile *)slot;
  SHADE_TEST_EXPECTF(now == value, "%s: slot holds %p after storing %p", what, now, value);
  SHADE_TEST_EXPECTF(slot[-1] == before_left && slot[1] == before_right,
                     "%s: a neighbouring word changed", what);
}

static SHADE_TEST_NOINLINE void store_all_values(void *object, void **slot, const char *where) {
  char on_stack = 1;
  char *c_memory = malloc(64);
  void *heap = shade_malloc(100);
  void *large = shade_malloc(100000);
  void *freed = shade_malloc(100);
  shade_free(freed);
  void *const values[] = {heap,
                          (char *)heap + 8,
                          (char *)heap + 100, // one past the end
                          (char *)large + 70000,
                          NULL,
                          &on_stack,
                          &global_byte,
                          c_memory,
                          (void *)(uintptr_t)1,
                          (void *)(uintptr_t)0x1234,
                          (void *)UINTPTR_MAX,
                          (void *)(uintptr_t)0xFFFF800000000000ull,
                          freed,
                          heap};
  static const char *const names[] = {"heap start",   "interior",     "one past the end",
                                      "large interior", "NULL",       "stack address",
                                      "global address", "C memory",   "1",
                                      "0x1234",       "all ones",     "kernel address",
                                      "freed object", "heap again"};
  for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
    char what[128];
    snprintf(what, sizeof what, "%s, %s", where, names[i]);
    store_and_check(object, slot, values[i], what);
    conc_garbage(&rng_state);
  }
  store_and_check(object, slot, NULL, where);
  free(c_memory);
}

static void test_stores_read_back_everywhere(void) {
  struct holder *conservative = shade_malloc(sizeof *conservative);
  struct holder *typed = shade_malloc_typed(sizeof *typed, &holder_type);
  struct holder *uncollectable = shade_malloc_uncollectable(sizeof *uncollectable);
  void **range = calloc(WORDS, sizeof *range);
  shade_add_roots(range, range + WORDS);
  void *volatile on_stack[3] = {0};
  stored_during_marking = 0;
  uint64_t rounds = shade_test_scaled(400, 40);
  for (uint64_t round = 0; round < rounds; round++) {
    size_t w = 1 + round % (WORDS - 2);
    if (expected_mode != SHADE_MODE_STW && round % 20 == 0) // then the stores meet a marking
      SHADE_TEST_EXPECT(conc_wait_for_new_marking(&rng_state));
    store_all_values(conservative, &conservative->slot[w], "conservative object");
    store_all_values(typed, &typed->slot[w], "typed object");
    store_all_values(uncollectable, &uncollectable->slot[w], "uncollectable object");
    store_all_values(NULL, &global_slots[w], "global");
    store_all_values(NULL, &range[w], "root range");
    store_all_values(NULL, (void **)&on_stack[1], "stack variable");
    for (int g = 0; g < 200; g++)
      conc_garbage(&rng_state);
  }
  fprintf(stderr, "%d stores made while marking\n", stored_during_marking);
  if (expected_mode == SHADE_MODE_STW)
    SHADE_TEST_EXPECTF(stored_during_marking == 0, "the barrier flag was on in stw mode");
  shade_remove_roots(range, range + WORDS);
  free(range);
  shade_free(uncollectable);
}

static int evaluations;
static void *counted(void *p) {
  evaluations++;
  return p;
}

static void test_store_macro_evaluates_operands_once(void) {
  struct holder *h = shade_malloc(sizeof *h);
  void *target = shade_malloc(16);
  int i = 3;
  evaluations = 0;
  SHADE_STORE(h->slot[i++], counted(target));
  SHADE_TEST_EXPECT(i == 4);
  SHADE_TEST_EXPECT(evaluations == 1);
  SHADE_TEST_EXPECT(h->slot[3] == target && h->slot[4] == NULL && h->slot[2] == NULL);
  SHADE_STORE(global_slots[i--], counted(h));
  SHADE_TEST_EXPECT(i == 3);
  SHADE_TEST_EXPECT(evaluations == 2);
  SHADE_TEST_EXPECT(global_slots[4] == h);
  // a typed pointer field, through the macro and through the function
  struct pair {
    struct pair *left;
    char *name;
  } *pair = shade_malloc(sizeof *pair);
  SHADE_STORE(pair->left, pair);
  SHADE_STORE(pair->name, (char *)target + 3);
  SHADE_TEST_EXPECT(pair->left == pair && pair->name == (char *)target + 3);
  shade_write(pair, (void **)&pair->left, NULL);
  SHADE_TEST_EXPECT(pair->left == NULL);
  SHADE_STORE(global_slot, pair);
  SHADE_TEST_EXPECT(global_slot == pair);
  SHADE_STORE(global_slot, NULL);
  SHADE_STORE(global_slots[4], NULL);
  SHADE_TEST_EXPECT(global_slot == NULL && global_slots[4] == NULL);
}

// ---------------------------------------------------------------------------------------------
// What the stores keep alive, and what they let go

enum place { P_HEAP, P_TYPED, P_GLOBAL, P_ROOTS, P_UNCOLLECTABLE, PLACES };
static const char *const place_names[PLACES] = {"conservative holder", "typed holder", "global",
                                                "root range", "uncollectable holder"};
enum { PER_PLACE = TARGETS / PLACES, HOLDERS = (PER_PLACE + WORDS - 1) / WORDS };

static struct holder *heap_holders[HOLDERS];   // globals, through SHADE_STORE
static struct holder *typed_holders[HOLDERS];
static struct holder *uncollectable_holders[HOLDERS];
static void *global_targets[PER_PLACE];
static void **range_targets; // C memory, a root range
static shade_test_hidden hidden[PLACES][PER_PLACE];

static void **place_slot(int place, int i) {
  switch (place) {
  case P_HEAP:
    return &heap_holders[i / WORDS]->slot[i % WORDS];
  case P_TYPED:
    return &typed_holders[i / WORDS]->slot[i % WORDS];
  case P_GLOBAL:
    return &global_targets[i];
  case P_ROOTS:
    return &range_targets[i];
  default:
    return &uncollectable_holders[i / WORDS]->slot[i % WORDS];
  }
}

static void *place_object(int place, int i) {
  switch (place) {
  case P_HEAP:
    return heap_holders[i / WORDS];
  case P_TYPED:
    return typed_holders[i / WORDS];
  case P_UNCOLLECTABLE:
    return uncollectable_holders[i / WORDS];
  default:
    return NULL;
  }
}

// Allocates the targets and stores each only into its place, in this dead frame. The stores
// are spread over the cycles by garbage in between.
static SHADE_TEST_NOINLINE void hang_targets(uint64_t seed) {
  for (int h = 0; h < HOLDERS; h++) {
    SHADE_STORE(heap_holders[h], shade_malloc(sizeof(struct holder)));
    SHADE_STORE(typed_holders[h], shade_malloc_typed(sizeof(struct holder), &holder_type));
    SHADE_STORE(uncollectable_holders[h], shade_malloc_uncollectable(sizeof(struct holder)));
  }
  for (int i = 0; i < PER_PLACE; i++)
    for (int place = 0; place < PLACES; place++) {
      hidden[place][i] = shade_test_new_filled(TARGET_SIZE, seed + (uint64_t)(place * PER_PLACE + i));
      shade_write(place_object(place, i), place_slot(place, i), shade_test_unhide(hidden[place][i]));
      for (int g = 0; g < 8; g++)
        conc_garbage(&rng_state);
    }
}

static SHADE_TEST_NOINLINE void churn(size_t bytes) {
  for (size_t done = 0; done < bytes; done += 136)
    conc_garbage(&rng_state);
}

static void test_stored_objects_survive_and_dropped_ones_go(void) {
  uint64_t seed = shade_test_random(&rng_state);
  range_targets = calloc(PER_PLACE, sizeof *range_targets);
  shade_add_roots(range_targets, range_targets + PER_PLACE);
  hang_targets(seed);
  shade_test_clear_stack();
  uint64_t before = shade_test_stats().cycles;
  churn(shade_test_scaled(48 << 20, 8 << 20));
  shade_test_collect_clean();
  fprintf(stderr, "%" PRIu64 " cycles while kept\n", shade_test_stats().cycles - before);
  for (int place = 0; place < PLACES; place++) {
    size_t intact = 0;
    for (int i = 0; i < PER_PLACE; i++) {
      void *target = shade_test_unhide(hidden[place][i]);
      intact += *place_slot(place, i) == target && shade_is_heap_pointer(target) == 1 &&
                shade_test_is_filled(target, TARGET_SIZE,
                                     seed + (uint64_t)(place * PER_PLACE + i));
    }
    SHADE_TEST_EXPECTF(intact == PER_PLACE, "%s: %zu of %d targets intact", place_names[place],
                       intact, PER_PLACE);
  }
  // Now NULL over every reference, again spread over cycles.
  for (int i = 0; i < PER_PLACE; i++) {
    for (int place = 0; place < PLACES; place++)
      shade_write(place_object(place, i), place_slot(place, i), NULL);
    for (int g = 0; g < 8; g++)
      conc_garbage(&rng_state);
  }
  shade_test_clear_stack();
  churn(4 << 20);
  shade_test_collect_clean();
  shade_test_collect_clean();
  for (int place = 0; place < PLACES; place++) {
    size_t live = shade_test_count_live(hidden[place], PER_PLACE);
    SHADE_TEST_EXPECTF(live <= PER_PLACE / 10, "%s: %zu of %d dropped targets still live",
                       place_names[place], live, PER_PLACE);
  }
  for (int h = 0; h < HOLDERS; h++) {
    struct holder *u = uncollectable_holders[h];
    SHADE_STORE(uncollectable_holders[h], NULL);
    shade_free(u);
  }
  shade_remove_roots(range_targets, range_targets + PER_PLACE);
  free(range_targets);
}

// ---------------------------------------------------------------------------------------------
// Several threads

enum { STORERS = 3, STORER_SLOTS = 256 };
static struct holder *storer_holders[STORERS][STORER_SLOTS / WORDS];
static atomic_long storer_errors;

struct storer_arg {
  int index;
  uint64_t rng;
};

static void *storer(void *arg) {
  struct storer_arg *s = arg;
  for (int h = 0; h < STORER_SLOTS / WORDS; h++)
    SHADE_STORE(storer_holders[s->index][h], shade_malloc(sizeof(struct holder)));
  uint64_t keys[STORER_SLOTS] = {0};
  uint64_t rounds = shade_test_scaled(200000, 20000);
  for (uint64_t r = 0; r < rounds; r++) {
    int i = (int)(shade_test_random(&s->rng) % STORER_SLOTS);
    struct holder *h = storer_holders[s->index][i / WORDS];
    uint64_t *old = h->slot[i % WORDS];
    if (old != NULL && (old[0] != keys[i] || old[1] != conc_hash(keys[i])))
      atomic_fetch_add(&storer_errors, 1);
    uint64_t *fresh = shade_malloc(16 + shade_test_random(&s->rng) % 200);
    keys[i] = CONC_TAG | ((uint64_t)s->index << 40) | r;
    fresh[0] = keys[i];
    fresh[1] = conc_hash(keys[i]);
    shade_write(h, &h->slot[i % WORDS], fresh);
    conc_garbage(&s->rng);
  }
  for (int i = 0; i < STORER_SLOTS; i++) {
    uint64_t *p = storer_holders[s->index][i / WORDS]->slot[i % WORDS];
    if (p != NULL && (p[0] != keys[i] || p[1] != conc_hash(keys[i])))
      atomic_fetch_add(&storer_errors, 1);
  }
  return NULL;
}

static void test_threads_storing_at_once(void) {
  pthread_t threads[STORERS];
  struct storer_arg args[STORERS];
  for (int t = 0; t < STORERS; t++) {
    args[t] = (struct storer_arg){t, shade_test_random(&rng_state)};
    SHADE_TEST_EXPECT(shade_pthread_create(&threads[t], NULL, storer, &args[t]) == 0);
  }
  for (int t = 0; t < STORERS; t++)
    pthread_join(threads[t], NULL);
  SHADE_TEST_EXPECTF(atomic_load(&storer_errors) == 0, "%ld damaged objects",
                     atomic_load(&storer_errors));
  for (int t = 0; t < STORERS; t++)
    for (int h = 0; h < STORER_SLOTS / WORDS; h++)
      SHADE_STORE(storer_holders[t][h], NULL);
}

// ---------------------------------------------------------------------------------------------
// Cycles and the flag in each mode

static void test_cycles_and_flag_follow_the_mode(void) {
  struct shade_stats before = shade_test_stats();
  size_t bytes = shade_test_scaled(64 << 20, 16 << 20), seen_on = 0, seen_black = 0, samples = 0;
  // At least `bytes` of garbage; in the marking modes, on until the flag has been seen at 2 too
  // (a few cycles on a busy machine or under sanitizers can end before a sample lands in the
  // window between the last stack scan and mark termination), for 10 s (scaled) at most.
  double start = shade_test_now(), cap = conc_cap(10.0);
  for (size_t done = 0;; done += 136, samples++) {
    conc_garbage(&rng_state);
    int flag = conc_barrier_state();
    seen_on += flag != 0;
    seen_black += flag == 2;
    if (done >= bytes && (expected_mode == SHADE_MODE_STW || seen_black > 0 ||
                          (samples % 4096 == 0 && shade_test_now() - start > cap)))
      break;
  }
  struct shade_stats after = shade_test_stats();
  conc_print_stats("churn", &before, &after);
  fprintf(stderr, "barrier flag seen on in %zu of %zu samples (%zu: every stack black)\n",
          seen_on, samples, seen_black);
  SHADE_TEST_EXPECTF(after.cycles > before.cycles, "no cycle after %zu MiB of garbage",
                     bytes >> 20);
  if (expected_mode == SHADE_MODE_STW) {
    SHADE_TEST_EXPECTF(after.concurrent_cycles == 0, "%" PRIu64 " concurrent cycles in stw mode",
                       after.concurrent_cycles);
    SHADE_TEST_EXPECTF(seen_on == 0, "barrier flag on in stw mode");
    SHADE_TEST_EXPECTF(after.mark_assist_ns == 0, "mark_assist_ns %" PRIu64 " in stw mode",
                       after.mark_assist_ns);
  } else {
    SHADE_TEST_EXPECTF(after.concurrent_cycles > before.concurrent_cycles,
                       "no concurrent/incremental cycle (%" PRIu64 " cycles)",
                       after.cycles - before.cycles);
    SHADE_TEST_EXPECTF(seen_on > 0, "barrier flag never seen on");
    // once every stack is scanned the flag says so (the inline path then skips stores over NULL)
    SHADE_TEST_EXPECTF(seen_black > 0, "barrier flag never seen at 2 (every stack black)");
  }
  // shade_collect works in every mode, and leaves no marking under way
  shade_collect();
  SHADE_TEST_EXPECT(!conc_marking_now());
  SHADE_TEST_EXPECT(shade_test_stats().cycles > after.cycles);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s stw|incremental|concurrent|default|invalid [options|options-invalid]\n",
            argv[0]);
    return 2;
  }
  const char *how = argc > 2 ? argv[2] : "";
  int invalid_env = strcmp(argv[1], "invalid") == 0;
  int invalid_option = strcmp(how, "options-invalid") == 0;
  expected_mode = invalid_env || strcmp(argv[1], "default") == 0 ? SHADE_MODE_STW
                                                                 : conc_mode_parse(argv[1]);
  if (expected_mode < 0) {
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
  }
  shade_test_capture_messages(); // before shade_init: its messages are what is tested
  struct shade_options options;
  memset(&options, 0, sizeof options);
  options.min_heap_goal = (size_t)1 << 20; // cycles come often
  options.write_barrier = 1; // every store below goes through the barrier: SHADE_MODE may choose
  if (strcmp(how, "options") == 0)
    options.mode = expected_mode;
  else if (invalid_option)
    options.mode = 42;
  if (shade_init(&options) != 0) {
    fprintf(stderr, "shade_init failed\n");
    return 1;
  }
  rng_state = shade_test_seed();
  fprintf(stderr, "expecting mode %s (SHADE_MODE=%s, %s)\n", conc_mode_name(expected_mode),
          getenv("SHADE_MODE") ? getenv("SHADE_MODE") : "(unset)", how[0] ? how : "environment");
  SHADE_TEST_RUN(test_mode_is_reported);
  if (invalid_env)
    SHADE_TEST_RUN(test_invalid_mode_gives_a_message_and_stw);
  else if (invalid_option)
    SHADE_TEST_RUN(test_invalid_mode_option_gives_a_message_and_stw);
  else
    SHADE_TEST_RUN(test_valid_mode_gives_no_message);
  shade_test_stop_capturing_messages();
  SHADE_TEST_RUN(test_store_macro_evaluates_operands_once);
  SHADE_TEST_RUN(test_stores_read_back_everywhere);
  SHADE_TEST_RUN(test_stored_objects_survive_and_dropped_ones_go);
  SHADE_TEST_RUN(test_threads_storing_at_once);
  SHADE_TEST_RUN(test_cycles_and_flag_follow_the_mode);
  return shade_test_finish();
}
