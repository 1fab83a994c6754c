// test_threads.c (gen_threads): young collections while threads come and go, allocate, and link
// young objects into old ones with plain stores (SHADE_GEN0_BUDGET=256KiB in the test's
// environment, so that the threads' allocation runs a young collection every few milliseconds).
//
// At the same time:
//   - short-lived threads (made by shade_pthread_create, joined or detached, and plain threads
//     that register and unregister themselves) each build a chain of young nodes, keep a second
//     one on their stack across collections, hang the first into a random slot of an old board
//     (a Shade object that survived a collection; its slots are written with plain atomic
//     stores, no barrier), allocate garbage and a large object full of pointers to their nodes
//     (dropped), check their own chains and exit;
//   - long-lived threads check random board chains, replace some, and allocate garbage;
//   - a recycler allocates more such large objects (64..512 KiB, most born old), fills them with
//     pointers to young nodes and drops them, so that the pages of large objects are handed out
//     again holding stale pointers into slots that young objects take meanwhile. Every large
//     object handed out must read as zero, and no collection may see the old contents (were a
//     large object published before it is zeroed, a young collection could find it old, born so
//     or marked by an earlier one, with stale words on pages not written since: it would rightly
//     not scan them, and the verifier would follow them into young objects left unmarked and
//     stop the program).
// Every node carries a check word (gen_test.h); SHADE_VERIFY=1 aborts on a reachable object left
// unmarked. The run lasts about 3 s (6 s in sanitizer builds); it checks that most collections
// during it were young ones, with several threads registered. The seed is printed;
// SHADE_TEST_SEED replays each thread's choices (not the interleaving).
#include "gen_test.h"

enum { BOARD = 1024, CHAIN = 24, CHECKERS = 2, BATCH = 3 };

static struct gen_node **board; // old after the first collection; also on main's stack
static atomic_int stop;
static atomic_long errors, short_lived_done, board_checks, large_objects;
static uint64_t base_seed;

static void report(const char *what, const struct gen_node *n) {
  if (atomic_fetch_add(&errors, 1) < 5)
    SHADE_TEST_EXPECTF(0, "%s: node %p damaged or freed (live %d, generation %d)", what,
                       (const void *)n, shade_is_heap_pointer(n), shade_generation(n));
}

static void check_chain(const char *what, const struct gen_node *n) {
  const struct gen_node *bad = NULL;
  if (gen_chain_bad(n, CHAIN + 1, &bad))
    report(what, bad);
}

static struct gen_node *new_chain(uint64_t *rng) {
  struct gen_node *head = NULL;
  for (int i = 0; i < CHAIN; i++) {
    uint64_t key = shade_test_random(rng);
    struct gen_node *n = gen_node_new(key, 2 + shade_test_random(rng) % 12, head);
    if (n == NULL)
      break;
    head = n;
  }
  return head;
}

static void hang(struct gen_node *chain, uint64_t *rng) { // a plain store into an old object
  __atomic_store_n(&board[shade_test_random(rng) % BOARD], chain, __ATOMIC_RELEASE);
}

static void check_board_slot(uint64_t *rng) {
  check_chain("board", __atomic_load_n(&board[shade_test_random(rng) % BOARD], __ATOMIC_ACQUIRE));
  atomic_fetch_add(&board_checks, 1);
}

static void garbage(uint64_t *rng, size_t bytes) {
  for (size_t done = 0; done < bytes;) {
    size_t size = (size_t)shade_test_random_between(rng, 16, 600);
    unsigned char *volatile g = shade_malloc(size);
    if (g != NULL)
      g[0] = 1;
    done += size;
  }
}

static void large_full_of_pointers(uint64_t *rng, struct gen_node *const *targets, size_t count);

// ---- short-lived threads ----------------------------------------------------------------------

static SHADE_TEST_NOINLINE void short_lived_body(uint64_t seed) {
  uint64_t rng = seed;
  struct gen_node *volatile kept = new_chain(&rng); // on this stack only
  struct gen_node *hung = new_chain(&rng);
  garbage(&rng, shade_test_scaled(64 * 1024, 4096));
  struct gen_node *nodes[CHAIN];
  size_t count = 0;
  for (struct gen_node *n = kept; n != NULL && count < CHAIN; n = n->next)
    nodes[count++] = n;
  if (count > 0)
    large_full_of_pointers(&rng, nodes, count);
  hang(hung, &rng);
  check_chain("short-lived thread's hung chain", hung);
  garbage(&rng, shade_test_scaled(32 * 1024, 4096));
  check_chain("short-lived thread's stack chain", kept);
  check_board_slot(&rng);
  atomic_fetch_add(&short_lived_done, 1);
}

static void *short_lived(void *seed) {
  short_lived_body((uint64_t)(uintptr_t)seed);
  return NULL;
}

static void *short_lived_registering_itself(void *seed) {
  if (shade_thread_register() != 0) {
    report("shade_thread_register failed", NULL);
    return NULL;
  }
  short_lived_body((uint64_t)(uintptr_t)seed);
  shade_thread_unregister();
  return NULL;
}

static void *spawner(void *unused) {
  (void)unused;
  uint64_t n = base_seed * 31;
  pthread_attr_t detached;
  pthread_attr_init(&detached);
  pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
  while (!atomic_load(&stop)) {
    pthread_t batch[BATCH];
    for (int i = 0; i < BATCH; i++, n++) {
      void *seed = (void *)(uintptr_t)n;
      SHADE_TEST_EXPECT((i == 0 ? pthread_create(&batch[i], NULL, short_lived_registering_itself,
                                                 seed)
                                : shade_pthread_create(&batch[i], NULL, short_lived, seed)) == 0);
    }
    pthread_t ignored;
    SHADE_TEST_EXPECT(shade_pthread_create(&ignored, &detached, short_lived,
                                           (void *)(uintptr_t)n++) == 0);
    for (int i = 0; i < BATCH; i++)
      pthread_join(batch[i], NULL);
  }
  pthread_attr_destroy(&detached);
  return NULL;
}

// ---- long-lived threads -----------------------------------------------------------------------

static void *checker(void *id) {
  uint64_t rng = base_seed + 0x1000193u * (uint64_t)(uintptr_t)id;
  while (!atomic_load(&stop)) {
    for (int i = 0; i < 8; i++)
      check_board_slot(&rng);
    if (shade_test_random(&rng) % 4 == 0)
      hang(new_chain(&rng), &rng);
    garbage(&rng, 4 * 1024);
  }
  return NULL;
}

// A large object of 64..512 KiB (most are born old: SHADE_LOH_THRESHOLD) must read as zero
// (sampled); it is filled with pointers to young nodes, then dropped, so that its pages come back
// full of stale pointers.
static void large_full_of_pointers(uint64_t *rng, struct gen_node *const *targets, size_t count) {
  size_t words = (size_t)shade_test_random_between(rng, 8 * 1024, 64 * 1024);
  struct gen_node **large = shade_malloc(words * sizeof *large);
  if (large == NULL)
    return;
  size_t nonzero = large[words - 1] != NULL;
  for (size_t i = 0; i < words; i += 61)
    nonzero += large[i] != NULL;
  if (nonzero != 0 && atomic_fetch_add(&errors, 1) < 5)
    SHADE_TEST_EXPECTF(0, "a new large object of %zu bytes holds non-zero words",
                       words * sizeof *large);
  for (size_t i = 0; i < words; i += 2)
    large[i] = targets[(i / 2) % count];
  atomic_fetch_add(&large_objects, 1);
}

static void *recycler(void *unused) {
  (void)unused;
  uint64_t rng = base_seed ^ 0xABCDEFu;
  enum { TARGETS = 512 };
  while (!atomic_load(&stop)) {
    struct gen_node *targets[TARGETS];
    for (int t = 0; t < TARGETS; t++)
      targets[t] = gen_node_new(shade_test_random(&rng), 2 + (uint64_t)t % 6, NULL);
    large_full_of_pointers(&rng, targets, TARGETS);
    check_chain("node held by a large object", targets[shade_test_random(&rng) % TARGETS]);
  }
  return NULL;
}

static void test_young_collections_while_threads_come_and_go(void) {
  board = shade_malloc(BOARD * sizeof *board);
  SHADE_TEST_EXPECT(board != NULL);
  struct gen_node **volatile held = board; // (and the global): the board stays live
  shade_collect_generation(0, SHADE_COLLECT_FORCED);
  SHADE_TEST_EXPECTF(shade_generation(board) >= 1, "board in generation %d after a collection",
                     shade_generation(board));
  struct shade_stats before = shade_test_stats();
  pthread_t spawn_thread, recycle_thread, checkers[CHECKERS];
  SHADE_TEST_EXPECT(shade_pthread_create(&spawn_thread, NULL, spawner, NULL) == 0);
  SHADE_TEST_EXPECT(shade_pthread_create(&recycle_thread, NULL, recycler, NULL) == 0);
  for (int i = 0; i < CHECKERS; i++)
    SHADE_TEST_EXPECT(shade_pthread_create(&checkers[i], NULL, checker,
                                           (void *)(uintptr_t)(i + 1)) == 0);
  // (Sanitizers slow everything, TSan stopping threads most: longer, and fewer events asked for.)
  double start = shade_test_now(), seconds = SHADE_TEST_SANITIZED ? 6.0 : 3.0;
  long least = SHADE_TEST_SANITIZED ? 3 : 10;
  for (int nap_count = 1; shade_test_now() - start < seconds && atomic_load(&errors) == 0;
       nap_count++) {
    struct timespec nap = {0, 5 * 1000 * 1000};
    nanosleep(&nap, NULL);
    shade_safepoint();
    if (nap_count % 20 == 0) // a full collection now and then frees the old large objects
      shade_collect();
  }
  atomic_store(&stop, 1);
  pthread_join(spawn_thread, NULL);
  pthread_join(recycle_thread, NULL);
  for (int i = 0; i < CHECKERS; i++)
    pthread_join(checkers[i], NULL);
  for (int i = 0; i < 200 && shade_test_stats().threads > 1; i++) { // the detached ones finish
    struct timespec nap = {0, 10 * 1000 * 1000};
    nanosleep(&nap, NULL);
  }
  for (int i = 0; i < BOARD; i++)
    check_chain("board at the end", held[i]);
  struct shade_stats after = shade_test_stats();
  uint64_t all = after.collections[0] - before.collections[0],
           full = after.collections[2] - before.collections[2];
  fprintf(stderr, "%ld short-lived threads, %ld board checks, %ld large objects; %" PRIu64
          " collections, %" PRIu64 " full, in %.1f s\n", atomic_load(&short_lived_done),
          atomic_load(&board_checks), atomic_load(&large_objects), all, full,
          shade_test_now() - start);
  gen_print_stats("threads");
  SHADE_TEST_EXPECTF(atomic_load(&errors) == 0, "%ld damaged nodes or dirty large objects",
                     atomic_load(&errors));
  SHADE_TEST_EXPECTF(atomic_load(&short_lived_done) >= least, "only %ld short-lived threads",
                     atomic_load(&short_lived_done));
  // Young collections ran with several threads registered. (Not a share of all collections: the
  // large objects, born old, start full collections at the pace the recycler thread gets the CPU,
  // which on a loaded host under TSan was 49 of 66.)
  SHADE_TEST_EXPECTF(all - full >= 2 * (uint64_t)least, "%" PRIu64 " collections, %" PRIu64
                     " of them full: too few young ones", all, full);
}

int main(void) {
  gen_start(NULL);
  gen_require_generational();
  base_seed = shade_test_seed();
  SHADE_TEST_RUN(test_young_collections_while_threads_come_and_go);
  return shade_test_finish();
}
