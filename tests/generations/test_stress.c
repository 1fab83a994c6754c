// test_stress.c (gen_stress): threads mutating graphs of old and young nodes with plain stores
// while their allocation drives the collections (SHADE_GEN0_BUDGET=1MiB in the test's
// environment), most of them young ones with several threads registered (the test checks that).
//
// Each thread owns a table of nodes (a Shade object, so it is old after the first collections;
// its only reference is on the thread's stack). A step replaces a table entry with a new node
// whose children are random table nodes, points a child of an existing node (often old) at
// another node (often young), or allocates garbage. Every node's check word covers its key and
// its children's addresses (the heap never moves), and is resealed after each mutation. A thread
// checks its table, and every node's children, whenever a collection has happened since it last
// looked. The seed is printed; SHADE_TEST_SEED replays each thread's choices (not the
// interleaving). With the argument `mixed` (gen_stress_mixed), the main thread also asks for a
// collection of a random generation (0, 1 or 2) between its naps, so that explicit gen0, gen1 and
// full collections interleave with the budget-driven ones.
#include "gen_test.h"

enum { THREADS = 4, TABLE = 2048, CHILDREN = 4 };

struct node {
  uint64_t key;
  struct node *child[CHILDREN];
  uint64_t pad[3]; // tagged filler: nodes of 72..80 bytes
  uint64_t check;
};

static uint64_t node_check(const struct node *n) {
  uint64_t h = gen_hash(n->key);
  for (int i = 0; i < CHILDREN; i++)
    h = gen_hash(h ^ (uint64_t)(uintptr_t)n->child[i]);
  for (int i = 0; i < 3; i++)
    h = gen_hash(h ^ n->pad[i]);
  return h;
}

static int node_ok(const struct node *n) {
  return shade_base(n) == (const void *)n && (n->key & GEN_TAG) && n->check == node_check(n);
}

static atomic_int stop;
static atomic_ulong steps_done, checks_done;
static atomic_int finished;
static uint64_t base_seed;
static int mixed;

struct worker {
  int id;
  size_t steps;
};

static void check_table(struct node **table, int id, uint64_t when, int *reported) {
  for (int i = 0; i < TABLE; i++) {
    struct node *n = table[i];
    if (n == NULL)
      continue;
    int bad = !node_ok(n);
    const struct node *wrong = n;
    for (int c = 0; !bad && c < CHILDREN; c++)
      if (n->child[c] != NULL && !node_ok(n->child[c]))
        bad = 1, wrong = n->child[c];
    if (bad && (*reported)++ < 5)
      SHADE_TEST_EXPECTF(0, "thread %d, after collection %" PRIu64 ": node %p (table entry %d, "
                         "generation %d) damaged or freed (live %d, generation %d)", id, when,
                         (void *)n, i, shade_generation(n), shade_is_heap_pointer(wrong),
                         shade_generation(wrong));
  }
}

static SHADE_TEST_NOINLINE void step(struct node **table, uint64_t *rng) {
  uint64_t r = shade_test_random(rng) % 100;
  if (r < 35) { // a new node with random children replaces an entry
    struct node *n = shade_malloc(sizeof *n);
    if (n == NULL)
      return;
    n->key = shade_test_random(rng) | GEN_TAG;
    for (int c = 0; c < CHILDREN; c++)
      n->child[c] = shade_test_random(rng) % 3 ? table[shade_test_random(rng) % TABLE] : NULL;
    for (int i = 0; i < 3; i++)
      n->pad[i] = gen_hash(n->key + (uint64_t)i);
    n->check = node_check(n);
    table[shade_test_random(rng) % TABLE] = n;
  } else if (r < 75) { // an existing (often old) node now points to another (often young) one
    struct node *n = table[shade_test_random(rng) % TABLE];
    if (n == NULL)
      return;
    n->child[shade_test_random(rng) % CHILDREN] = table[shade_test_random(rng) % TABLE];
    n->check = node_check(n);
  } else if (r < 80) { // a node drops out of the table (it may live on as a child)
    table[shade_test_random(rng) % TABLE] = NULL;
  } else { // garbage
    size_t size = (size_t)shade_test_random_between(rng, 16, r < 99 ? 512 : 20000);
    unsigned char *volatile g = shade_malloc(size);
    if (g != NULL)
      g[0] = 1;
  }
}

static void *work(void *arg) {
  struct worker *w = arg;
  uint64_t rng = base_seed + (uint64_t)w->id * 0x1000193u;
  struct node **table = shade_malloc(TABLE * sizeof *table); // on this stack only
  uint64_t last = shade_collection_count(0);
  int reported = 0;
  size_t done = 0;
  for (; done < w->steps && !atomic_load(&stop) && reported < 5; done++) {
    step(table, &rng);
    uint64_t now = shade_collection_count(0);
    if (now != last) {
      last = now;
      atomic_fetch_add(&checks_done, 1);
      check_table(table, w->id, now, &reported);
    }
  }
  check_table(table, w->id, last, &reported);
  atomic_fetch_add(&steps_done, done);
  atomic_fetch_add(&finished, 1);
  return NULL;
}

static void test_threads_mutate_old_and_young_nodes(void) {
  size_t steps = shade_test_scaled(300000, 10000);
  struct shade_stats before = shade_test_stats();
  pthread_t threads[THREADS];
  struct worker workers[THREADS];
  double start = shade_test_now();
  for (int i = 0; i < THREADS; i++) {
    workers[i] = (struct worker){i, steps};
    SHADE_TEST_EXPECT(shade_pthread_create(&threads[i], NULL, work, &workers[i]) == 0);
  }
  // This thread sleeps in short naps (it answers stops between them) and caps the time.
  double cap = 12.0 * (SHADE_TEST_SANITIZED ? 8 : 1);
  uint64_t rng = base_seed ^ 0x5eed;
  uint64_t asked[3] = {0, 0, 0};
  while (atomic_load(&finished) < THREADS && shade_test_now() - start < cap) {
    struct timespec nap = {0, 5 * 1000 * 1000};
    nanosleep(&nap, NULL);
    shade_safepoint();
    if (mixed) {
      uint64_t r = shade_test_random(&rng) % 20;
      int g = r < 10 ? 0 : r < 17 ? 1 : 2;
      asked[g]++;
      shade_collect_generation(g, SHADE_COLLECT_FORCED);
    }
  }
  if (mixed)
    fprintf(stderr, "asked for %" PRIu64 " gen0, %" PRIu64 " gen1 and %" PRIu64 " full "
            "collections\n", asked[0], asked[1], asked[2]);
  if (atomic_load(&finished) < THREADS)
    fprintf(stderr, "note: time cap of %.0f s reached\n", cap);
  atomic_store(&stop, 1);
  for (int i = 0; i < THREADS; i++)
    pthread_join(threads[i], NULL);
  struct shade_stats after = shade_test_stats();
  uint64_t c0 = after.collections[0] - before.collections[0],
           c1 = after.collections[1] - before.collections[1],
           c2 = after.collections[2] - before.collections[2];
  fprintf(stderr, "%lu steps, %lu checks after collections in %.1f s; collections %" PRIu64
          " (gen1+ %" PRIu64 ", full %" PRIu64 ")\n", (unsigned long)atomic_load(&steps_done),
          (unsigned long)atomic_load(&checks_done), shade_test_now() - start, c0, c1, c2);
  gen_print_stats("stress");
  // Young collections ran with several threads registered. (A count, not a share of all: how
  // many full ones the budgets start depends on how the host schedules the threads.)
  SHADE_TEST_EXPECTF(c0 - c2 >= 5, "%" PRIu64 " collections during the run, %" PRIu64 " full, "
                     "with %d threads registered", c0, c2, THREADS + 1);
  SHADE_TEST_EXPECTF(c0 >= 10, "only %" PRIu64 " collections during the run", c0);
  // gen1 collections of their own ran (budget-driven ones, and in mixed mode asked-for ones).
  SHADE_TEST_EXPECTF(c1 > c2, "%" PRIu64 " gen1+ collections, %" PRIu64 " of them full", c1, c2);
  SHADE_TEST_EXPECTF(after.gen0_budget <= (1u << 20), "gen0 budget %" PRIu64 " with SHADE_GEN0_BUDGET=%s",
                     after.gen0_budget, getenv("SHADE_GEN0_BUDGET") ? getenv("SHADE_GEN0_BUDGET") : "(unset)");
}

int main(int argc, char **argv) {
  mixed = argc > 1 && strcmp(argv[1], "mixed") == 0;
  gen_start(NULL);
  gen_require_generational();
  base_seed = shade_test_seed();
  SHADE_TEST_RUN(test_threads_mutate_old_and_young_nodes);
  return shade_test_finish();
}
