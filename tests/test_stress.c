// test_stress.c (core_stress): eight threads build and mutate random object graphs while
// collections run (with the heap verifier on), for about three seconds. No live node may be
// reclaimed: every node carries a checksum over its child pointers and payload, checked on
// every visit, so a node freed while reachable (and then reused, zeroed) is caught.
//
// Each thread owns the mutable nodes it created; only it reads or writes them. Nodes can also be
// frozen (built once, never written again, children frozen too) and published through a shared
// mailbox: other threads link them into their own graphs, so objects are kept alive by other
// threads' stacks and heap nodes, and by the mailbox (a global). Operations: add a node in place
// of an edge (dropping what it pointed to), rewire an edge to another node (making cycles),
// cut an edge, replace a root (dropping a subgraph), walk and verify, publish and adopt frozen
// subgraphs, and now and then an explicit shade_collect. A fifth of the nodes are typed objects
// traced by a callback, the rest conservative; payloads are mostly small, now and then large
// (over 32 KiB).
//
// SHADE_TEST_SEED replays the random choices of each thread (not their interleaving).
#include "test_util.h"

enum { THREADS = 8, ROOTS = 16, MAX_CHILDREN = 6, MAILBOX = 32, WALK = 48 };
#define NODE_MAGIC 0x6E6F64656E6F6465ull
#define SECONDS 3.0

struct node {
  uint64_t magic;
  uint32_t child_count;
  uint32_t payload_size;
  uint32_t owner;  // thread index, or THREADS for frozen nodes
  uint32_t serial; // per-thread creation number
  uint64_t checksum;
  struct node *children[];
  // followed by payload_size bytes of payload
};

static unsigned char *payload_of(struct node *n) {
  return (unsigned char *)&n->children[n->child_count];
}

static size_t node_size(uint32_t child_count, uint32_t payload_size) {
  return sizeof(struct node) + child_count * sizeof(struct node *) + payload_size;
}

static uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  return h * 0xFF51AFD7ED558CCDull;
}

static uint64_t checksum_of(struct node *n) {
  uint64_t h = mix(n->magic, ((uint64_t)n->child_count << 32) | n->payload_size);
  h = mix(h, ((uint64_t)n->owner << 32) | n->serial);
  for (uint32_t i = 0; i < n->child_count; i++)
    h = mix(h, (uint64_t)(uintptr_t)n->children[i]);
  const unsigned char *payload = payload_of(n);
  for (uint32_t i = 0; i < n->payload_size; i++)
    h = mix(h, payload[i]);
  return h;
}

static void trace_node(void *object, size_t object_size, shade_visit_fn visit, void *context) {
  struct node *n = object;
  uint32_t count = n->child_count;
  if (count > MAX_CHILDREN || node_size(count, 0) > object_size)
    return; // still being initialised
  for (uint32_t i = 0; i < count; i++)
    if (n->children[i] != NULL)
      visit(n->children[i], context);
}
static const struct shade_type traced_node_type = {"stress node", 8, NULL, trace_node, 0};

// ---------------------------------------------------------------------------------------------
// Shared state: the mailbox of frozen nodes, failure reporting, counters

static pthread_mutex_t mailbox_lock = PTHREAD_MUTEX_INITIALIZER;
static struct node *mailbox[MAILBOX];

static atomic_long bad_nodes;
static atomic_long operations;
static atomic_long nodes_created;
static atomic_int stop;

struct worker {
  int index;
  uint64_t rng;
  uint32_t serial;
};

// Every fact is read once, and the values seen are what is printed when one is wrong.
static int node_is_valid(struct worker *w, struct node *n, const char *where) {
  uint64_t magic = n->magic;
  uint32_t child_count = n->child_count, payload_size = n->payload_size, owner = n->owner;
  void *base = shade_base(n);
  size_t size = shade_size(n);
  int checksum_right = n->checksum == checksum_of(n);
  int valid = magic == NODE_MAGIC && child_count <= MAX_CHILDREN && base == n &&
              size >= node_size(child_count, payload_size) &&
              (owner == (uint32_t)w->index || owner == THREADS) && checksum_right;
  if (!valid && atomic_fetch_add(&bad_nodes, 1) < 10)
    fprintf(stderr,
            "thread %d (%s): bad node %p: magic %" PRIx64 " children %u payload %u owner %u "
            "serial %u, shade_base %p, shade_size %zu, checksum %s\n",
            w->index, where, (void *)n, magic, child_count, payload_size, owner, n->serial, base,
            size, checksum_right ? "right" : "WRONG");
  return valid;
}

static uint32_t random_payload_size(struct worker *w) {
  uint64_t r = shade_test_random(&w->rng) % 1000;
  if (r < 900)
    return (uint32_t)shade_test_random_between(&w->rng, 0, 64);
  if (r < 995)
    return (uint32_t)shade_test_random_between(&w->rng, 65, 2000);
  return (uint32_t)shade_test_random_between(&w->rng, 32768, 70000);
}

// A new node whose children are the given ones (NULL where none).
static struct node *new_node(struct worker *w, uint32_t owner, struct node **children,
                             uint32_t child_count) {
  uint32_t payload_size = random_payload_size(w);
  size_t size = node_size(child_count, payload_size);
  int typed = shade_test_random(&w->rng) % 5 == 0;
  struct node *n = typed ? shade_malloc_typed((size + 7) & ~(size_t)7, &traced_node_type)
                         : shade_malloc(size);
  if (n == NULL)
    return NULL;
  n->magic = NODE_MAGIC;
  n->payload_size = payload_size;
  n->owner = owner;
  n->serial = w->serial++;
  for (uint32_t i = 0; i < child_count; i++)
    n->children[i] = children ? children[i] : NULL;
  n->child_count = child_count;
  unsigned char *payload = payload_of(n);
  for (uint32_t i = 0; i < payload_size; i++)
    payload[i] = (unsigned char)shade_test_random(&w->rng);
  n->checksum = checksum_of(n);
  atomic_fetch_add(&nodes_created, 1);
  return n;
}

// A random walk from a root, verifying every node; returns the last valid node it reached (and
// in *parent the node before it), or NULL.
static struct node *walk(struct worker *w, struct node **roots, int steps, struct node **parent) {
  struct node *n = roots[shade_test_random(&w->rng) % ROOTS];
  struct node *previous = NULL;
  for (int i = 0; n != NULL && i < steps; i++) {
    if (!node_is_valid(w, n, "walk"))
      return NULL;
    if (n->child_count == 0)
      break;
    struct node *next = n->children[shade_test_random(&w->rng) % n->child_count];
    if (next == NULL || shade_test_random(&w->rng) % 8 == 0)
      break;
    previous = n;
    n = next;
  }
  if (n != NULL && !node_is_valid(w, n, "walk end"))
    return NULL;
  if (parent)
    *parent = previous;
  return n;
}

// A node this thread may change: reached by a walk, owned by it, not frozen.
static struct node *walk_to_mutable(struct worker *w, struct node **roots) {
  for (int tries = 0; tries < 4; tries++) {
    struct node *n = walk(w, roots, 1 + (int)(shade_test_random(&w->rng) % WALK), NULL);
    if (n != NULL && n->owner == (uint32_t)w->index && n->child_count > 0)
      return n;
  }
  return NULL;
}

static void set_child(struct node *n, uint32_t slot, struct node *child) {
  n->children[slot] = child;
  n->checksum = checksum_of(n);
}

// A frozen subgraph of up to `depth` levels, children partly adopted from the mailbox.
static struct node *new_frozen(struct worker *w, int depth) {
  struct node *children[MAX_CHILDREN] = {0};
  uint32_t count = (uint32_t)(shade_test_random(&w->rng) % (MAX_CHILDREN + 1));
  for (uint32_t i = 0; i < count; i++) {
    uint64_t r = shade_test_random(&w->rng) % 4;
    if (r == 0 && depth > 0) {
      children[i] = new_frozen(w, depth - 1);
    } else if (r == 1) {
      shade_test_lock(&mailbox_lock);
      children[i] = mailbox[shade_test_random(&w->rng) % MAILBOX];
      pthread_mutex_unlock(&mailbox_lock);
    }
  }
  return new_node(w, THREADS, children, count);
}

static void *work(void *arg) {
  struct worker *w = arg;
  struct node **roots = shade_malloc(ROOTS * sizeof *roots); // held on this thread's stack
  for (int i = 0; i < ROOTS; i++)
    roots[i] = new_node(w, (uint32_t)w->index, NULL,
                        (uint32_t)shade_test_random_between(&w->rng, 1, MAX_CHILDREN));
  long done = 0;
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    uint64_t r = shade_test_random(&w->rng) % 1000;
    if (r < 350) { // add a node in place of an edge
      struct node *n = walk_to_mutable(w, roots);
      if (n != NULL) {
        struct node *children[MAX_CHILDREN];
        uint32_t count = (uint32_t)(shade_test_random(&w->rng) % (MAX_CHILDREN + 1));
        for (uint32_t i = 0; i < count; i++)
          children[i] = shade_test_random(&w->rng) % 2 ? walk(w, roots, 4, NULL) : NULL;
        struct node *child = new_node(w, (uint32_t)w->index, children, count);
        set_child(n, (uint32_t)(shade_test_random(&w->rng) % n->child_count), child);
      }
    } else if (r < 550) { // rewire an edge to another reachable node (cycles included)
      struct node *n = walk_to_mutable(w, roots);
      struct node *target = walk(w, roots, WALK, NULL);
      if (n != NULL)
        set_child(n, (uint32_t)(shade_test_random(&w->rng) % n->child_count), target);
    } else if (r < 620) { // cut an edge
      struct node *n = walk_to_mutable(w, roots);
      if (n != NULL)
        set_child(n, (uint32_t)(shade_test_random(&w->rng) % n->child_count), NULL);
    } else if (r < 640) { // replace a root: its subgraph is dropped
      roots[shade_test_random(&w->rng) % ROOTS] = new_node(
          w, (uint32_t)w->index, NULL, (uint32_t)shade_test_random_between(&w->rng, 1, MAX_CHILDREN));
    } else if (r < 900) { // walk and verify
      walk(w, roots, WALK, NULL);
    } else if (r < 930) { // publish a frozen subgraph
      struct node *frozen = new_frozen(w, 3);
      shade_test_lock(&mailbox_lock);
      mailbox[shade_test_random(&w->rng) % MAILBOX] = frozen;
      pthread_mutex_unlock(&mailbox_lock);
    } else if (r < 999) { // adopt a published subgraph
      shade_test_lock(&mailbox_lock);
      struct node *adopted = mailbox[shade_test_random(&w->rng) % MAILBOX];
      pthread_mutex_unlock(&mailbox_lock);
      struct node *n = walk_to_mutable(w, roots);
      if (n != NULL && adopted != NULL && node_is_valid(w, adopted, "adopt"))
        set_child(n, (uint32_t)(shade_test_random(&w->rng) % n->child_count), adopted);
    } else {
      shade_collect();
    }
    done++;
  }
  // Last look: many walks over what is left.
  for (int i = 0; i < 2000; i++)
    walk(w, roots, WALK, NULL);
  atomic_fetch_add(&operations, done);
  return NULL;
}

static void test_threads_mutating_random_graphs_lose_no_live_node(void) {
  uint64_t seed = shade_test_seed();
  struct worker workers[THREADS];
  pthread_t threads[THREADS];
  struct shade_stats before = shade_test_stats();
  for (int i = 0; i < THREADS; i++) {
    workers[i] = (struct worker){.index = i, .rng = seed + (uint64_t)i * 0x1000193, .serial = 0};
    SHADE_TEST_EXPECT(shade_pthread_create(&threads[i], NULL, work, &workers[i]) == 0);
  }
  double start = shade_test_now();
  uint64_t max_live = 0;
  while (shade_test_now() - start < SECONDS) {
    struct timespec tick = {0, 50 * 1000 * 1000};
    nanosleep(&tick, NULL);
    struct shade_stats now = shade_test_stats();
    if (now.heap_live > max_live)
      max_live = now.heap_live;
  }
  atomic_store(&stop, 1);
  for (int i = 0; i < THREADS; i++)
    pthread_join(threads[i], NULL);
  struct shade_stats after = shade_test_stats();
  fprintf(stderr,
          "%ld operations, %ld nodes, %" PRIu64 " collections, max heap_live %.1f MiB, "
          "max pause %.2f ms\n",
          atomic_load(&operations), atomic_load(&nodes_created), after.cycles - before.cycles,
          (double)max_live / (1 << 20), (double)after.pause_max_ns / 1e6);
  SHADE_TEST_EXPECTF(atomic_load(&bad_nodes) == 0, "%ld bad nodes seen", atomic_load(&bad_nodes));
  SHADE_TEST_EXPECT(after.cycles - before.cycles >= 3);
  // The mailbox still holds frozen subgraphs; they are intact too.
  struct worker checker = {.index = THREADS, .rng = seed};
  for (int i = 0; i < MAILBOX; i++)
    if (mailbox[i] != NULL)
      SHADE_TEST_EXPECT(node_is_valid(&checker, mailbox[i], "mailbox"));
}

int main(void) {
  SHADE_TEST_RUN(test_threads_mutating_random_graphs_lose_no_live_node);
  return shade_test_finish();
}
