// test_threads_churn.c (conc_threads_churn_concurrent, _incremental): threads keep tables of
// trees and replace them constantly, while other threads keep starting, registering, handing
// trees over, unregistering and exiting, all while cycles run back to back.
//
//   - WORKERS long-lived threads each keep a table (a Shade object, also reachable from a global)
//     of TREES complete binary trees (depth DEPTH). They replace whole trees by new ones, replace
//     random subtrees by new ones (new objects linked into old trees), swap trees with a global
//     hand-off table shared with everyone (under a lock), and check trees.
//   - A spawner thread starts short-lived threads in batches: joinable and detached ones made by
//     shade_pthread_create; plain pthreads that wait for a marking to be under way, then
//     register themselves (shade_thread_register) and unregister at the end; and plain pthreads
//     that register and exit without unregistering (the exit unregisters them). Each builds a
//     tree, checks it, swaps it into the hand-off table, checks the tree it took out, and exits
//     right after its last barrier store (whatever its barrier buffer holds must not be lost
//     with the thread).
// Every node carries a magic word, its tree's serial and position, and a check word; a tree is
// checked by walking it whole (node count, positions). At the end: every table and every
// hand-off tree, after a last full collection; only the main thread is registered any more.
#include "conc_test.h"

enum { WORKERS = 3, TREES = 24, DEPTH = 6, HANDOFF = 16, BATCH = 4 };
#define TREE_NODES ((1u << (DEPTH + 1)) - 1)
#define TNODE_MAGIC 0xF7EEF7EEF7EEF7EEull
#define TABLE_MAGIC 0xF7AB1EF7AB1EF7ABull

struct tnode {
  uint64_t magic;
  uint64_t key;   // tagged: serial << 16 | position (root 1, children 2p and 2p + 1)
  uint64_t check; // conc_hash(key)
  struct tnode *left, *right;
};
static const uint64_t tnode_bitmap[1] = {0x18}; // words 3 and 4
static const struct shade_type tnode_type = {"churn tree node", sizeof(struct tnode), tnode_bitmap,
                                             NULL, 0};

struct table {
  uint64_t magic;
  struct tnode *tree[TREES];
};

static struct table *tables[WORKERS];          // globals: SHADE_STORE
static struct tnode *handoff[HANDOFF];
static uint64_t handoff_serial[HANDOFF];       // guarded by handoff_lock, as handoff
static pthread_mutex_t handoff_lock = PTHREAD_MUTEX_INITIALIZER;

static atomic_ullong next_serial;
static atomic_long bad_trees, short_lived_done, detached_running, registered_during_marking;
static atomic_int stop, spawner_stop;

struct worker {
  int index;
  uint64_t rng;
  uint64_t serial[TREES];
  long ops, new_trees, new_subtrees, swaps, checks;
};
static struct worker workers[WORKERS];

// ---------------------------------------------------------------------------------------------
// Trees

static uint64_t tree_key(uint64_t serial, uint32_t position) {
  return CONC_TAG | serial << 16 | position;
}

static struct tnode *build(uint64_t *rng, uint64_t serial, uint32_t position) {
  if (position > TREE_NODES)
    return NULL;
  struct tnode *left = build(rng, serial, 2 * position);
  struct tnode *right = build(rng, serial, 2 * position + 1);
  struct tnode *n = shade_test_random(rng) % 4 == 0 ? shade_malloc_typed(sizeof *n, &tnode_type)
                                                    : shade_malloc(sizeof *n);
  if (n == NULL) {
    fprintf(stderr, "out of memory\n");
    abort();
  }
  n->magic = TNODE_MAGIC;
  n->key = tree_key(serial, position);
  n->check = conc_hash(n->key);
  shade_write(n, (void **)&n->left, left);
  shade_write(n, (void **)&n->right, right);
  if (shade_test_random(rng) % 8 == 0)
    conc_garbage(rng);
  return n;
}

// The number of intact nodes of the subtree at `position`; reports the first damage.
static uint32_t check_subtree(const struct tnode *n, uint64_t serial, uint32_t position,
                              const char *where) {
  if (position > TREE_NODES)
    return n == NULL ? 0 : 1000000;
  uint64_t expected = tree_key(serial, position);
  if (n == NULL || n->magic != TNODE_MAGIC || n->key != expected || n->check != conc_hash(expected)) {
    if (atomic_fetch_add(&bad_trees, 1) < 20)
      fprintf(stderr,
              "%s: tree %" PRIu64 " node %u at %p: magic %#" PRIx64 " key %#" PRIx64
              " (expected %#" PRIx64 "), shade_base %p\n",
              where, serial, position, (const void *)n, n ? n->magic : 0, n ? n->key : 0,
              expected, n ? shade_base(n) : NULL);
    return 1000000;
  }
  return 1 + check_subtree(n->left, serial, 2 * position, where) +
         check_subtree(n->right, serial, 2 * position + 1, where);
}

static int check_tree(const struct tnode *root, uint64_t serial, const char *where) {
  uint32_t count = check_subtree(root, serial, 1, where);
  return count == TREE_NODES;
}

static struct tnode *new_tree(uint64_t *rng, uint64_t *serial) {
  *serial = atomic_fetch_add(&next_serial, 1);
  return build(rng, *serial, 1);
}

// A new subtree in place of a random one (not the root): new objects linked into an old tree.
static void replace_subtree(uint64_t *rng, struct tnode *root, uint64_t serial) {
  uint32_t depth = 1 + (uint32_t)(shade_test_random(rng) % DEPTH);
  uint32_t position = 1;
  struct tnode *parent = NULL;
  struct tnode *n = root;
  for (uint32_t d = 0; d < depth; d++) {
    if (n == NULL || n->magic != TNODE_MAGIC) {
      check_tree(root, serial, "replace subtree");
      return;
    }
    parent = n;
    int right = (int)(shade_test_random(rng) % 2);
    position = 2 * position + (uint32_t)right;
    n = right ? n->right : n->left;
  }
  struct tnode *fresh = build(rng, serial, position);
  if (position % 2)
    shade_write(parent, (void **)&parent->right, fresh);
  else
    shade_write(parent, (void **)&parent->left, fresh);
}

// Swaps *tree (serial *serial) with hand-off slot h, checking what comes out.
static void swap_with_handoff(uint64_t *rng, struct tnode **tree_slot, void *tree_owner,
                              uint64_t *serial, const char *where) {
  int h = (int)(shade_test_random(rng) % HANDOFF);
  shade_test_lock(&handoff_lock);
  struct tnode *theirs = handoff[h];
  uint64_t their_serial = handoff_serial[h];
  check_tree(theirs, their_serial, where);
  SHADE_STORE(handoff[h], *tree_slot);
  handoff_serial[h] = *serial;
  pthread_mutex_unlock(&handoff_lock);
  shade_write(tree_owner, (void **)tree_slot, theirs);
  *serial = their_serial;
}

// ---------------------------------------------------------------------------------------------
// Long-lived workers

static void *work(void *arg) {
  struct worker *w = arg;
  struct table *table = shade_malloc(sizeof *table);
  table->magic = TABLE_MAGIC;
  SHADE_STORE(tables[w->index], table);
  for (int i = 0; i < TREES; i++)
    shade_write(table, (void **)&table->tree[i], new_tree(&w->rng, &w->serial[i]));
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    int i = (int)(shade_test_random(&w->rng) % TREES);
    uint64_t r = shade_test_random(&w->rng) % 100;
    if (r < 30) {
      if (r < 8)
        check_tree(table->tree[i], w->serial[i], "worker, replaced tree");
      uint64_t serial;
      struct tnode *t = new_tree(&w->rng, &serial);
      shade_write(table, (void **)&table->tree[i], t);
      w->serial[i] = serial;
      w->new_trees++;
    } else if (r < 60) {
      replace_subtree(&w->rng, table->tree[i], w->serial[i]);
      w->new_subtrees++;
    } else if (r < 70) {
      swap_with_handoff(&w->rng, &table->tree[i], table, &w->serial[i], "worker, hand-off");
      w->swaps++;
    } else {
      check_tree(table->tree[i], w->serial[i], "worker");
      w->checks++;
    }
    conc_garbage(&w->rng);
    w->ops++;
  }
  if (table->magic != TABLE_MAGIC)
    atomic_fetch_add(&bad_trees, 1);
  for (int i = 0; i < TREES; i++)
    check_tree(table->tree[i], w->serial[i], "worker, at the end");
  return NULL;
}

// ---------------------------------------------------------------------------------------------
// Short-lived threads

enum how { JOINED, DETACHED, SELF_REGISTERED, EXIT_REGISTERED, HOWS };

struct short_arg {
  enum how how;
  uint64_t seed;
};

// What every short-lived thread does: a tree of its own, swapped into the hand-off table.
static void short_life(uint64_t seed) {
  uint64_t rng = seed, serial;
  struct tnode *mine = new_tree(&rng, &serial);
  check_tree(mine, serial, "short-lived, own tree");
  for (int g = 0; g < 64; g++)
    conc_garbage(&rng);
  if (shade_test_random(&rng) % 2 == 0)
    replace_subtree(&rng, mine, serial);
  // the tree goes into the table, the one taken out is checked and dropped
  swap_with_handoff(&rng, &mine, NULL, &serial, "short-lived, hand-off");
  check_tree(mine, serial, "short-lived, tree taken out");
  if (shade_test_random(&rng) % 2 == 0) {
    replace_subtree(&rng, mine, serial);
    swap_with_handoff(&rng, &mine, NULL, &serial, "short-lived, second hand-off");
  }
  atomic_fetch_add(&short_lived_done, 1);
  // and exits at once: its last barrier store may sit in its buffer
}

static void *short_lived(void *p) {
  struct short_arg arg = *(struct short_arg *)p;
  free(p);
  switch (arg.how) {
  case JOINED:
  case DETACHED:
    short_life(arg.seed);
    break;
  case SELF_REGISTERED:
    // register while a marking is under way (wait for one a little)
    for (int i = 0; i < 20000 && !conc_marking_now(); i++)
      sched_yield();
    atomic_fetch_add(&registered_during_marking, conc_marking_now());
    if (shade_thread_register() != 0) {
      atomic_fetch_add(&bad_trees, 1);
      break;
    }
    short_life(arg.seed);
    shade_thread_unregister();
    break;
  case EXIT_REGISTERED:
    if (shade_thread_register() != 0) {
      atomic_fetch_add(&bad_trees, 1);
      break;
    }
    short_life(arg.seed);
    break; // unregistered by the thread's exit
  default:
    break;
  }
  if (arg.how == DETACHED)
    atomic_fetch_sub(&detached_running, 1);
  return NULL;
}

static void *spawner(void *arg) {
  uint64_t rng = *(uint64_t *)arg;
  pthread_attr_t detached;
  pthread_attr_init(&detached);
  pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
  while (!atomic_load(&spawner_stop)) {
    pthread_t batch[BATCH];
    int joinable[BATCH] = {0};
    for (int b = 0; b < BATCH; b++) {
      struct short_arg *a = malloc(sizeof *a); // C memory: holds no Shade pointer
      a->how = (enum how)(shade_test_random(&rng) % HOWS);
      a->seed = shade_test_random(&rng);
      int error;
      if (a->how == DETACHED) {
        atomic_fetch_add(&detached_running, 1);
        error = shade_pthread_create(&batch[b], &detached, short_lived, a);
        if (error != 0)
          atomic_fetch_sub(&detached_running, 1);
      } else if (a->how == JOINED) {
        error = shade_pthread_create(&batch[b], NULL, short_lived, a);
        joinable[b] = error == 0;
      } else {
        error = pthread_create(&batch[b], NULL, short_lived, a);
        joinable[b] = error == 0;
      }
      if (error != 0) {
        free(a);
        fprintf(stderr, "thread creation failed: %s\n", strerror(error));
        atomic_fetch_add(&bad_trees, 1);
      }
    }
    for (int b = 0; b < BATCH; b++)
      if (joinable[b])
        pthread_join(batch[b], NULL);
  }
  pthread_attr_destroy(&detached);
  return NULL;
}

// ---------------------------------------------------------------------------------------------

static SHADE_TEST_NOINLINE void fill_handoff(uint64_t *rng) {
  for (int h = 0; h < HANDOFF; h++) {
    uint64_t serial;
    struct tnode *t = new_tree(rng, &serial);
    shade_test_lock(&handoff_lock);
    SHADE_STORE(handoff[h], t);
    handoff_serial[h] = serial;
    pthread_mutex_unlock(&handoff_lock);
  }
}

static void test_threads_and_trees_come_and_go_during_marking(void) {
  uint64_t seed = shade_test_seed();
  uint64_t rng = seed;
  const uint64_t target_cycles = shade_test_scaled(600, 30);
  const long target_threads = (long)shade_test_scaled(1500, 60);
  fprintf(stderr, "%d workers x %d trees of %u nodes; waiting for %" PRIu64
          " concurrent cycles and %ld short-lived threads\n",
          WORKERS, TREES, TREE_NODES, target_cycles, target_threads);
  atomic_store(&next_serial, 1);
  fill_handoff(&rng);
  struct shade_stats before = shade_test_stats();
  pthread_t threads[WORKERS], spawn_thread;
  for (int w = 0; w < WORKERS; w++) {
    workers[w] = (struct worker){.index = w, .rng = seed ^ (0xA5A5A5A5ull * (uint64_t)(w + 1))};
    SHADE_TEST_EXPECT(shade_pthread_create(&threads[w], NULL, work, &workers[w]) == 0);
  }
  uint64_t spawner_seed = seed * 31 + 7;
  SHADE_TEST_EXPECT(shade_pthread_create(&spawn_thread, NULL, spawner, &spawner_seed) == 0);

  double start = shade_test_now(), cap = conc_cap(25.0);
  struct shade_stats now = before;
  while ((now.concurrent_cycles - before.concurrent_cycles < target_cycles ||
          atomic_load(&short_lived_done) < target_threads) &&
         shade_test_now() - start < cap) {
    conc_nap_ms(5);
    now = shade_test_stats();
  }
  atomic_store(&spawner_stop, 1);
  pthread_join(spawn_thread, NULL);
  atomic_store(&stop, 1);
  for (int w = 0; w < WORKERS; w++)
    pthread_join(threads[w], NULL);
  for (int i = 0; i < 2000 && atomic_load(&detached_running) > 0; i++)
    conc_nap_ms(5);
  struct shade_stats after = shade_test_stats();

  long ops = 0, new_trees = 0, new_subtrees = 0, swaps = 0, checks = 0;
  for (int w = 0; w < WORKERS; w++) {
    ops += workers[w].ops, new_trees += workers[w].new_trees;
    new_subtrees += workers[w].new_subtrees, swaps += workers[w].swaps;
    checks += workers[w].checks;
  }
  fprintf(stderr,
          "%.1f s: %ld short-lived threads (%ld registered while marking); workers: %ld "
          "operations, %ld new trees, %ld new subtrees, %ld hand-offs, %ld checks\n",
          shade_test_now() - start, atomic_load(&short_lived_done),
          atomic_load(&registered_during_marking), ops, new_trees, new_subtrees, swaps, checks);
  conc_print_stats("threads_churn", &before, &after);

  // Everything, after a last full collection.
  shade_test_collect_clean();
  for (int w = 0; w < WORKERS; w++) {
    SHADE_TEST_EXPECT(tables[w]->magic == TABLE_MAGIC);
    for (int i = 0; i < TREES; i++)
      check_tree(tables[w]->tree[i], workers[w].serial[i], "main, tables at the end");
  }
  shade_test_lock(&handoff_lock);
  for (int h = 0; h < HANDOFF; h++)
    check_tree(handoff[h], handoff_serial[h], "main, hand-off at the end");
  pthread_mutex_unlock(&handoff_lock);

  SHADE_TEST_EXPECTF(atomic_load(&bad_trees) == 0, "%ld damaged trees or failures",
                     atomic_load(&bad_trees));
  CONC_EXPECT_CYCLES(now.concurrent_cycles - before.concurrent_cycles, target_cycles, cap,
                     now.cycles - before.cycles);
  SHADE_TEST_EXPECTF(atomic_load(&short_lived_done) >= target_threads / 4,
                     "only %ld short-lived threads (target %ld)", atomic_load(&short_lived_done),
                     target_threads);
  SHADE_TEST_EXPECTF(atomic_load(&detached_running) == 0, "%ld detached threads still running",
                     atomic_load(&detached_running));
  struct shade_stats end = shade_test_stats();
  for (int i = 0; i < 200 && end.threads != 1; i++) {
    conc_nap_ms(5);
    end = shade_test_stats();
  }
  SHADE_TEST_EXPECTF(end.threads == 1, "%" PRIu64 " threads still registered", end.threads);
}

int main(int argc, char **argv) {
  conc_start(conc_mode_from_args(argc, argv),
             (struct conc_pacing){.gc_percent = 10, .min_heap_goal = (size_t)1 << 20});
  SHADE_TEST_RUN(test_threads_and_trees_come_and_go_during_marking);
  return shade_test_finish();
}
