// Weak references (shade_weak_new / shade_weak_get) and weak links (shade_weak_link, _unlink,
// _move): they never keep their target alive, read NULL once a collection found it dead (short:
// at once; long: only once it is really freed, after its finalizer), and never return a dead one.
#include "fin_test.h"

#define COUNT 1000

SHADE_TEST_NOINLINE static void make_weak(struct shade_weak **weak, int count, unsigned flags) {
  for (int i = 0; i < count; i++)
    SHADE_STORE(weak[i], shade_weak_new(fin_node_new((uintptr_t)i), flags));
}

static int count_cleared(struct shade_weak **weak, int count) {
  int cleared = 0;
  for (int i = 0; i < count; i++) {
    struct fin_node *n = shade_weak_get(weak[i]);
    if (n == NULL)
      cleared++;
    else
      SHADE_TEST_EXPECTF(fin_node_intact(n, (uintptr_t)i), "weak %d returned a broken object", i);
  }
  return cleared;
}

// A weak reference does not keep its target: after a collection almost all read NULL.
static void test_short_weak_reference_clears(void) {
  struct shade_weak **weak = shade_malloc(COUNT * sizeof *weak);
  make_weak(weak, COUNT, SHADE_WEAK_SHORT);
  SHADE_TEST_EXPECT_EQ(count_cleared(weak, COUNT), 0);
  shade_test_collect_clean();
  int cleared = count_cleared(weak, COUNT);
  SHADE_TEST_EXPECTF(cleared >= COUNT * 9 / 10, "%d of %d cleared", cleared, COUNT);
  __asm__ volatile("" : : "r"(weak) : "memory");
}

// A reachable target stays, intact, through collections.
static void test_weak_reference_to_live_object(void) {
  struct fin_node **keep = shade_malloc(100 * sizeof *keep);
  struct shade_weak **weak = shade_malloc(100 * sizeof *weak);
  for (int i = 0; i < 100; i++) {
    SHADE_STORE(keep[i], fin_node_new((uintptr_t)i));
    SHADE_STORE(weak[i], shade_weak_new(keep[i], i % 2 ? SHADE_WEAK_LONG : SHADE_WEAK_SHORT));
  }
  for (int c = 0; c < 3; c++)
    shade_test_collect_clean();
  for (int i = 0; i < 100; i++)
    SHADE_TEST_EXPECT(shade_weak_get(weak[i]) == keep[i]);
  __asm__ volatile("" : : "r"(keep), "r"(weak) : "memory");
}

// Short references to a finalizable object clear when its finalizer is queued; long ones only
// once the finalizer has run and the object is unreachable again.
static atomic_int finalized;
static void note_finalized(void *object, void *data) {
  (void)data;
  (void)object;
  atomic_fetch_add(&finalized, 1);
}
SHADE_TEST_NOINLINE static void make_finalizable_pairs(struct shade_weak **short_weak,
                                                       struct shade_weak **long_weak, int count) {
  for (int i = 0; i < count; i++) {
    struct fin_node *n = fin_node_new((uintptr_t)i);
    shade_set_finalizer(n, note_finalized, NULL, 0);
    SHADE_STORE(short_weak[i], shade_weak_new(n, SHADE_WEAK_SHORT));
    SHADE_STORE(long_weak[i], shade_weak_new(n, SHADE_WEAK_LONG));
  }
}
static void test_long_weak_reference_outlives_finalization(void) {
  enum { N = 300 };
  struct shade_weak **short_weak = shade_malloc(N * sizeof *short_weak);
  struct shade_weak **long_weak = shade_malloc(N * sizeof *long_weak);
  make_finalizable_pairs(short_weak, long_weak, N);
  shade_set_finalize_on_demand(1); // nothing runs until asked: the state between is visible
  shade_test_collect_clean();
  int both = 0;
  for (int i = 0; i < N; i++) {
    bool short_cleared = shade_weak_get(short_weak[i]) == NULL;
    struct fin_node *n = shade_weak_get(long_weak[i]);
    if (short_cleared && n) {
      SHADE_TEST_EXPECT(fin_node_intact(n, (uintptr_t)i));
      both++;
    }
    SHADE_TEST_EXPECTF(short_cleared || n, "weak pair %d: short set, long cleared", i);
    n = NULL;
  }
  SHADE_TEST_EXPECTF(both >= N * 9 / 10, "%d of %d: short cleared, long set", both, N);
  shade_run_finalizers();
  shade_set_finalize_on_demand(0);
  SHADE_TEST_EXPECT(atomic_load(&finalized) >= N * 9 / 10);
  shade_test_collect_clean();
  SHADE_TEST_EXPECTF(count_cleared(long_weak, N) >= N * 9 / 10, "long ones cleared after");
  __asm__ volatile("" : : "r"(short_weak), "r"(long_weak) : "memory");
}

// Weak links: the word is set to NULL when the target dies; unlink and move are obeyed; return
// values as documented.
struct link_holder { // atomic memory: the words are not scanned
  void *link[4];
};
SHADE_TEST_NOINLINE static void *make_target(uintptr_t id) { return fin_node_new(id); }
SHADE_TEST_NOINLINE static void link_targets(struct link_holder *h) {
  for (int i = 0; i < 4; i++) {
    void *t = make_target((uintptr_t)i);
    h->link[i] = t;
    SHADE_TEST_EXPECT_EQ(shade_weak_link(&h->link[i], t, i % 2), 0);
  }
  SHADE_TEST_EXPECT_EQ(shade_weak_link(&h->link[0], h->link[0], SHADE_WEAK_SHORT), 1);
}
static void test_weak_links(void) {
  int moved_cleared = 0, unlinked_kept = 0, cleared = 0, attempts = 20;
  for (int a = 0; a < attempts; a++) {
    struct link_holder *h = shade_malloc_atomic(sizeof *h);
    struct link_holder *other = shade_malloc_atomic(sizeof *other);
    memset(other, 0, sizeof *other);
    link_targets(h);
    SHADE_TEST_EXPECT_EQ(shade_weak_unlink(&h->link[1], SHADE_WEAK_LONG), 1);
    SHADE_TEST_EXPECT_EQ(shade_weak_unlink(&h->link[1], SHADE_WEAK_LONG), 0);
    SHADE_TEST_EXPECT_EQ(shade_weak_move(&h->link[2], &other->link[2], SHADE_WEAK_SHORT), 0);
    other->link[2] = h->link[2];
    errno = 0;
    SHADE_TEST_EXPECT(shade_weak_move(&h->link[2], &other->link[0], SHADE_WEAK_SHORT) == -1 &&
                      errno == ENOENT);
    shade_test_collect_clean();
    cleared += h->link[0] == NULL;
    cleared += h->link[3] == NULL;
    unlinked_kept += h->link[1] != NULL; // unlinked: left as it was
    moved_cleared += other->link[2] == NULL && h->link[2] != NULL; // only the new place clears
    __asm__ volatile("" : : "r"(h), "r"(other) : "memory");
  }
  SHADE_TEST_EXPECTF(cleared >= attempts * 2 * 8 / 10, "%d of %d cleared", cleared, attempts * 2);
  SHADE_TEST_EXPECT_EQ(unlinked_kept, attempts);
  SHADE_TEST_EXPECTF(moved_cleared >= attempts * 8 / 10, "%d of %d moved links cleared",
                     moved_cleared, attempts);
}

// Bad arguments: -1 with EINVAL, nothing registered.
static void test_weak_bad_arguments(void) {
  static int global;
  void **slot = shade_malloc_atomic(2 * sizeof(void *));
  void *target = fin_node_new(1);
  struct { void **link; const void *target; unsigned flags; const char *what; } cases[] = {
      {NULL, target, 0, "NULL link"},
      {(void **)((char *)slot + 1), target, 0, "misaligned link"},
      {slot, &global, 0, "a target outside the heap"},
      {slot, NULL, 0, "a NULL target"},
      {slot, target, 7, "unknown flags"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    errno = 0;
    int result = shade_weak_link(cases[i].link, cases[i].target, cases[i].flags);
    SHADE_TEST_EXPECTF(result == -1 && errno == EINVAL, "%s: %d, errno %d", cases[i].what, result,
                       errno);
  }
  errno = 0;
  SHADE_TEST_EXPECT(shade_weak_new(&global, 0) == NULL && errno == EINVAL);
  SHADE_TEST_EXPECT(shade_weak_new(target, 9) == NULL && errno == EINVAL);
  struct shade_weak *empty = shade_weak_new(NULL, SHADE_WEAK_SHORT);
  SHADE_TEST_EXPECT(empty != NULL && shade_weak_get(empty) == NULL);
  SHADE_TEST_EXPECT(shade_weak_get(NULL) == NULL);
  SHADE_TEST_EXPECT_EQ(shade_weak_unlink(slot, SHADE_WEAK_SHORT), 0);
  __asm__ volatile("" : : "r"(target), "r"(slot) : "memory");
}

// A link inside an object that dies is forgotten with it: when its target dies later, nothing
// is written into the memory that object had (another object by then).
#define HOLDERS 2000
SHADE_TEST_NOINLINE static void make_dying_holders(struct fin_node **targets) {
  for (int i = 0; i < HOLDERS; i++) {
    void **holder = shade_malloc_atomic(64);
    SHADE_STORE(targets[i], fin_node_new((uintptr_t)i));
    holder[3] = targets[i];
    SHADE_TEST_EXPECT_EQ(shade_weak_link(&holder[3], targets[i], i % 2), 0);
  }
}
static void test_link_in_dead_object_is_forgotten(void) {
  struct fin_node **targets = shade_malloc(HOLDERS * sizeof *targets);
  make_dying_holders(targets);
  shade_test_collect_clean(); // the holders die, the targets live
  unsigned char **fill = shade_malloc(HOLDERS * 2 * sizeof *fill);
  for (int i = 0; i < HOLDERS * 2; i++) {
    SHADE_STORE(fill[i], shade_malloc_atomic(64)); // most of them reuse a holder's slot
    memset(fill[i], 0xAB, 64);
  }
  memset(targets, 0, HOLDERS * sizeof *targets);
  shade_test_collect_clean(); // the targets die: a remembered link would write a zero
  int damaged = 0;
  for (int i = 0; i < HOLDERS * 2; i++)
    for (int b = 0; b < 64; b++)
      damaged += fill[i][b] != 0xAB;
  SHADE_TEST_EXPECT_EQ(damaged, 0);
  __asm__ volatile("" : : "r"(fill), "r"(targets) : "memory");
}

// shade_free of an object forgets the links inside it too.
static void test_free_forgets_links(void) {
  static struct fin_node *target;
  target = fin_node_new(6);
  void **holder = shade_malloc(64);
  holder[1] = (void *)~(uintptr_t)target; // hidden: the holder is scanned
  SHADE_TEST_EXPECT_EQ(shade_weak_link(&holder[1], target, SHADE_WEAK_SHORT), 0);
  shade_free(holder);
  void **again = shade_malloc(64); // the same slot, after the next sweep at the latest
  memset(again, 0x5C, 64);
  target = NULL;
  shade_test_collect_clean();
  shade_test_collect_clean();
  int damaged = 0;
  for (int b = 0; b < 64; b++)
    damaged += ((unsigned char *)again)[b] != 0x5C;
  SHADE_TEST_EXPECT_EQ(damaged, 0);
  __asm__ volatile("" : : "r"(again) : "memory");
}


// A finalizable object that holds weak references and weak links, found unreachable: its
// finalizer revives it, and its weak references must still clear when their targets die later
// (forgetting them because their holder looked dead before finalization would leave them
// pointing at freed memory). Short ones to a live target stay set through the revival.
#define REVIVED 200
struct revivable {
  struct shade_weak *weak[2]; // short, long
  void *link[2];              // hidden: short, long
};
static struct revivable **revived;
static atomic_int revived_count;
static void revive(void *object, void *data) {
  (void)data;
  int i = atomic_fetch_add(&revived_count, 1);
  if (i < REVIVED)
    SHADE_STORE(revived[i], object);
}
SHADE_TEST_NOINLINE static void make_revivable(struct fin_node **targets) {
  for (int i = 0; i < REVIVED; i++) {
    struct revivable *r = shade_malloc(sizeof *r);
    SHADE_STORE(targets[i], fin_node_new((uintptr_t)i));
    for (unsigned kind = 0; kind < 2; kind++) {
      SHADE_STORE(r->weak[kind], shade_weak_new(targets[i], kind));
      r->link[kind] = (void *)~(uintptr_t)targets[i];
      SHADE_TEST_EXPECT_EQ(shade_weak_link(&r->link[kind], targets[i], kind), 0);
    }
    SHADE_TEST_EXPECT_EQ(shade_set_finalizer(r, revive, NULL, SHADE_FINALIZE_UNORDERED), 0);
  }
}
static void test_revived_holder_keeps_its_weak_references(void) {
  struct fin_node **targets = shade_malloc(REVIVED * sizeof *targets);
  revived = shade_malloc(REVIVED * sizeof *revived);
  make_revivable(targets);
  fin_test_collect_and_finalize(); // the holders are found unreachable, then revived
  int n = atomic_load(&revived_count);
  SHADE_TEST_EXPECTF(n >= REVIVED * 9 / 10, "%d of %d finalized", n, REVIVED);
  if (n > REVIVED)
    n = REVIVED;
  int set = 0;
  for (int i = 0; i < n; i++)
    for (unsigned kind = 0; kind < 2; kind++)
      set += shade_weak_get(revived[i]->weak[kind]) != NULL;
  SHADE_TEST_EXPECTF(set == 2 * n, "%d of %d weak references to live targets set", set, 2 * n);
  memset(targets, 0, REVIVED * sizeof *targets); // now the targets die
  shade_test_collect_clean();
  shade_test_collect_clean();
  int stale = 0;
  for (int i = 0; i < n; i++)
    for (unsigned kind = 0; kind < 2; kind++) {
      stale += shade_weak_get(revived[i]->weak[kind]) != NULL;
      stale += revived[i]->link[kind] != NULL;
    }
  SHADE_TEST_EXPECTF(stale <= n * 4 / 10, "%d of %d weak references and links to dead targets "
                     "still set", stale, 4 * n);
  __asm__ volatile("" : : "r"(targets) : "memory");
}

int main(int argc, char **argv) {
  fin_test_init(argc, argv);
  SHADE_TEST_RUN(test_short_weak_reference_clears);
  SHADE_TEST_RUN(test_weak_reference_to_live_object);
  SHADE_TEST_RUN(test_long_weak_reference_outlives_finalization);
  SHADE_TEST_RUN(test_weak_links);
  SHADE_TEST_RUN(test_weak_bad_arguments);
  SHADE_TEST_RUN(test_link_in_dead_object_is_forgotten);
  SHADE_TEST_RUN(test_free_forgets_links);
  SHADE_TEST_RUN(test_revived_holder_keeps_its_weak_references);
  return shade_test_finish();
}
