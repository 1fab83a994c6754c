// Finalizers on the traced heap: shade_set_finalizer and its kinds, shade_get_finalizer,
// shade_run_finalizers, shade_wait_for_pending_finalizers, on-demand delivery and the notifier.
#include "fin_test.h"

#define MANY 2000
static atomic_int ran_count[MANY];
static atomic_int ran_total;
static atomic_int order_violations;

static void count_finalizer(void *object, void *data) {
  uintptr_t id = (uintptr_t)data;
  if (!fin_node_intact(object, id))
    atomic_fetch_add(&order_violations, 1000000); // an object freed before its finalizer ran
  atomic_fetch_add(&ran_count[id], 1);
  atomic_fetch_add(&ran_total, 1);
}

static void reset(void) {
  for (int i = 0; i < MANY; i++)
    atomic_store(&ran_count[i], 0);
  atomic_store(&ran_total, 0);
  atomic_store(&order_violations, 0);
}

SHADE_TEST_NOINLINE static void make_finalizable(int count, unsigned flags) {
  for (int i = 0; i < count; i++) {
    struct fin_node *n = fin_node_new((uintptr_t)i);
    SHADE_TEST_EXPECT(shade_set_finalizer(n, count_finalizer, (void *)(uintptr_t)i, flags) == 0);
  }
}

static int ran_more_than_once(void) {
  int more = 0;
  for (int i = 0; i < MANY; i++)
    more += atomic_load(&ran_count[i]) > 1;
  return more;
}

// Each unreachable object's finalizer runs once, with its data, on an intact object; the
// collection that queues them says so with a FINALIZER_QUEUE event.
static atomic_ullong queue_events, queued_seen;
static void on_event(const struct shade_event *e, void *data) {
  (void)data;
  if (e->type == SHADE_EVENT_FINALIZER_QUEUE) {
    atomic_fetch_add(&queue_events, 1);
    unsigned long long seen = atomic_load(&queued_seen);
    while (e->finalizers.queued > seen &&
           !atomic_compare_exchange_weak(&queued_seen, &seen, e->finalizers.queued)) {
    }
  }
}
static void test_finalizer_runs_once_when_unreachable(void) {
  struct shade_event_listener listener = {on_event, 1u << SHADE_EVENT_FINALIZER_QUEUE};
  shade_set_event_listener(&listener, NULL);
  make_finalizable(MANY, SHADE_FINALIZE_ORDERED);
  fin_test_collect_and_finalize();
  shade_set_event_listener(NULL, NULL);
  SHADE_TEST_EXPECT(atomic_load(&queue_events) >= 1);
  SHADE_TEST_EXPECTF(atomic_load(&queued_seen) >= MANY * 9 / 10, "queued %llu",
                     atomic_load(&queued_seen));
  int first = atomic_load(&ran_total);
  SHADE_TEST_EXPECTF(first >= MANY * 9 / 10, "%d of %d finalized", first, MANY);
  for (int i = 0; i < 3; i++)
    fin_test_collect_and_finalize();
  SHADE_TEST_EXPECTF(atomic_load(&ran_total) >= MANY * 98 / 100, "%d of %d finalized after 4",
                     atomic_load(&ran_total), MANY);
  SHADE_TEST_EXPECT_EQ(ran_more_than_once(), 0);
  SHADE_TEST_EXPECT_EQ(atomic_load(&order_violations), 0);
  SHADE_TEST_EXPECT_EQ(shade_finalizers_pending(), 0);
}

// A reachable object is not finalized, however many collections run. (Its own finalizer: an
// object of an earlier test that a stale stack word kept may be finalized meanwhile.)
static atomic_int reachable_ran;
static void reachable_finalizer(void *object, void *data) {
  (void)object;
  (void)data;
  atomic_fetch_add(&reachable_ran, 1);
}
static void test_reachable_object_is_not_finalized(void) {
  struct fin_node **keep = shade_malloc(100 * sizeof *keep);
  for (int i = 0; i < 100; i++) {
    SHADE_STORE(keep[i], fin_node_new((uintptr_t)i));
    SHADE_TEST_EXPECT(shade_set_finalizer(keep[i], reachable_finalizer, NULL, 0) == 0);
  }
  for (int i = 0; i < 3; i++)
    fin_test_collect_and_finalize();
  SHADE_TEST_EXPECT_EQ(atomic_load(&reachable_ran), 0);
  for (int i = 0; i < 100; i++)
    SHADE_TEST_EXPECT(fin_node_intact(keep[i], (uintptr_t)i));
  __asm__ volatile("" : : "r"(keep) : "memory");
}

// shade_get_finalizer reports what is set; a NULL function removes it.
static void test_get_and_remove(void) {
  struct fin_node *n = fin_node_new(MANY - 1);
  shade_finalizer_fn fn = NULL;
  void *data = NULL;
  SHADE_TEST_EXPECT_EQ(shade_get_finalizer(n, &fn, &data), 0);
  SHADE_TEST_EXPECT(shade_set_finalizer(n, count_finalizer, (void *)(MANY - 1), 0) == 0);
  SHADE_TEST_EXPECT_EQ(shade_get_finalizer(n, &fn, &data), 1);
  SHADE_TEST_EXPECT(fn == count_finalizer && data == (void *)(MANY - 1));
  SHADE_TEST_EXPECT(shade_set_finalizer(n, NULL, NULL, 0) == 0);
  SHADE_TEST_EXPECT_EQ(shade_get_finalizer(n, &fn, &data), 0);
  n = NULL;
  for (int i = 0; i < 2; i++)
    fin_test_collect_and_finalize();
  SHADE_TEST_EXPECT_EQ(atomic_load(&ran_count[MANY - 1]), 0);
}

// The data of a finalizer lives as long as the finalizer is set, and is intact when it runs,
// even if nothing else references it.
static atomic_int data_intact, data_broken;
static void data_finalizer(void *object, void *data) {
  struct fin_node *n = object, *d = data;
  if (fin_node_intact(d, n->id + 100000))
    atomic_fetch_add(&data_intact, 1);
  else
    atomic_fetch_add(&data_broken, 1);
}
SHADE_TEST_NOINLINE static void make_with_data(struct fin_node **keep, int count) {
  for (int i = 0; i < count; i++) {
    SHADE_STORE(keep[i], fin_node_new((uintptr_t)i));
    shade_set_finalizer(keep[i], data_finalizer, fin_node_new((uintptr_t)i + 100000), 0);
  }
}
static void test_data_is_kept_alive(void) {
  struct fin_node **keep = shade_malloc(500 * sizeof *keep);
  make_with_data(keep, 500);
  for (int i = 0; i < 2; i++) { // the objects live; their data is referenced by the table only
    for (int k = 0; k < 2000; k++) // reuse what a collection freed too early
      fin_node_new(0);
    shade_test_collect_clean();
  }
  memset(keep, 0, 500 * sizeof *keep);
  fin_test_collect_and_finalize();
  SHADE_TEST_EXPECTF(atomic_load(&data_intact) >= 450, "%d of 500 with intact data",
                     atomic_load(&data_intact));
  SHADE_TEST_EXPECT_EQ(atomic_load(&data_broken), 0);
}

// Pointers that are not the start of a collectable object: -1 with EINVAL, nothing registered.
static void test_bad_arguments(void) {
  char *object = shade_malloc(64);
  static int global;
  void *not_shade = malloc(64);
  void *uncollectable = shade_malloc_uncollectable(64);
  struct { void *p; unsigned flags; const char *what; } cases[] = {
      {object + 8, 0, "interior pointer"}, {&global, 0, "a global"},
      {not_shade, 0, "malloc'd memory"},   {uncollectable, 0, "an uncollectable object"},
      {NULL, 0, "NULL"},                    {object, 99, "unknown flags"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    errno = 0;
    int result = shade_set_finalizer(cases[i].p, count_finalizer, NULL, cases[i].flags);
    SHADE_TEST_EXPECTF(result == -1 && errno == EINVAL, "%s: result %d errno %d", cases[i].what,
                       result, errno);
  }
  SHADE_TEST_EXPECT_EQ(shade_get_finalizer(object + 8, NULL, NULL), 0);
  free(not_shade);
  shade_free(uncollectable);
}

// Ordered: when A reaches B and both are finalizable, A's finalizer runs first, and B's only
// in a later collection, B intact meanwhile.
#define PAIRS 300
static atomic_int a_done[PAIRS], b_done[PAIRS];
static void a_finalizer(void *object, void *data) {
  uintptr_t i = (uintptr_t)data;
  struct fin_node *a = object;
  if (!fin_node_intact(a, i) || !fin_node_intact(a->next, i + PAIRS) || atomic_load(&b_done[i]))
    atomic_fetch_add(&order_violations, 1);
  atomic_store(&a_done[i], 1);
}
static void b_finalizer(void *object, void *data) {
  uintptr_t i = (uintptr_t)data;
  if (!fin_node_intact(object, i + PAIRS) || !atomic_load(&a_done[i]))
    atomic_fetch_add(&order_violations, 1);
  atomic_store(&b_done[i], 1);
}
SHADE_TEST_NOINLINE static void make_pairs(void) {
  for (uintptr_t i = 0; i < PAIRS; i++) {
    struct fin_node *a = fin_node_new(i), *b = fin_node_new(i + PAIRS);
    SHADE_STORE(a->next, b);
    shade_set_finalizer(a, a_finalizer, (void *)i, SHADE_FINALIZE_ORDERED);
    shade_set_finalizer(b, b_finalizer, (void *)i, SHADE_FINALIZE_ORDERED);
  }
}
static int count_set(atomic_int *flags, int n) {
  int c = 0;
  for (int i = 0; i < n; i++)
    c += atomic_load(&flags[i]);
  return c;
}
static void test_ordered_finalization(void) {
  make_pairs();
  fin_test_collect_and_finalize();
  int a = count_set(a_done, PAIRS), b = count_set(b_done, PAIRS);
  SHADE_TEST_EXPECTF(a >= PAIRS * 9 / 10 && b == 0, "after one collection: %d A, %d B", a, b);
  for (int i = 0; i < 3; i++)
    fin_test_collect_and_finalize();
  b = count_set(b_done, PAIRS);
  SHADE_TEST_EXPECTF(b >= PAIRS * 9 / 10, "after four collections: %d B", b);
  SHADE_TEST_EXPECT_EQ(atomic_load(&order_violations), 0);
}

// An object that a finalizable object reaches (without a finalizer itself) is intact when the
// finalizer runs, however long the chain.
static atomic_int chain_intact, chain_broken;
static void chain_finalizer(void *object, void *data) {
  (void)data;
  struct fin_node *n = object;
  uintptr_t id = n->id;
  int length = 0;
  for (struct fin_node *p = n->next; p; p = p->next, length++)
    if (!fin_node_intact(p, id + 1 + (uintptr_t)length)) {
      atomic_fetch_add(&chain_broken, 1);
      return;
    }
  atomic_fetch_add(length == 200 ? &chain_intact : &chain_broken, 1);
}
SHADE_TEST_NOINLINE static void make_chains(int count) {
  for (int c = 0; c < count; c++) {
    uintptr_t id = (uintptr_t)c * 1000;
    struct fin_node *head = fin_node_new(id), *tail = head;
    for (uintptr_t k = 1; k <= 200; k++) {
      struct fin_node *n = fin_node_new(id + k);
      SHADE_STORE(tail->next, n);
      tail = n;
    }
    shade_set_finalizer(head, chain_finalizer, NULL, SHADE_FINALIZE_ORDERED);
  }
}
static void test_finalizable_object_keeps_what_it_reaches(void) {
  make_chains(20);
  shade_test_clear_stack();
  for (int i = 0; i < 3; i++) {
    shade_malloc(1 << 20); // some garbage to reuse freed memory, were anything freed too early
    fin_test_collect_and_finalize();
  }
  SHADE_TEST_EXPECTF(atomic_load(&chain_intact) >= 18, "%d chains intact",
                     atomic_load(&chain_intact));
  SHADE_TEST_EXPECT_EQ(atomic_load(&chain_broken), 0);
}

// A cycle of ordered finalizable objects is never finalized, and Shade says so once; the same
// cycle with unordered finalizers is finalized. (Counters of its own: objects of earlier tests
// kept by stale stack words may be finalized meanwhile.)
static atomic_int cycle_ran[400];
static void cycle_finalizer(void *object, void *data) {
  (void)object;
  atomic_fetch_add(&cycle_ran[(uintptr_t)data], 1);
}
SHADE_TEST_NOINLINE static void make_cycles(int count, unsigned flags, uintptr_t first_id) {
  for (int c = 0; c < count; c++) {
    uintptr_t id = first_id + (uintptr_t)c * 2;
    struct fin_node *a = fin_node_new(id), *b = fin_node_new(id + 1);
    SHADE_STORE(a->next, b);
    SHADE_STORE(b->next, a);
    shade_set_finalizer(a, cycle_finalizer, (void *)id, flags);
    shade_set_finalizer(b, cycle_finalizer, (void *)(id + 1), flags);
  }
}
static int cycles_finalized(int first, int count, int *twice) {
  int ran = 0;
  for (int i = first; i < first + count; i++) {
    ran += atomic_load(&cycle_ran[i]) != 0;
    *twice += atomic_load(&cycle_ran[i]) > 1;
  }
  return ran;
}
static void test_cycles(void) {
  shade_test_capture_messages();
  make_cycles(100, SHADE_FINALIZE_ORDERED, 0);
  for (int i = 0; i < 2; i++)
    fin_test_collect_and_finalize();
  int twice = 0;
  SHADE_TEST_EXPECT_EQ(cycles_finalized(0, 200, &twice), 0);
  SHADE_TEST_EXPECT(shade_test_messages_contain("reach themselves", "finaliz"));
  int messages = shade_test_message_count_now();
  fin_test_collect_and_finalize();
  SHADE_TEST_EXPECT_EQ(shade_test_message_count_now(), messages); // once
  shade_test_stop_capturing_messages();
  make_cycles(100, SHADE_FINALIZE_UNORDERED, 200);
  for (int i = 0; i < 2; i++)
    fin_test_collect_and_finalize();
  int unordered = cycles_finalized(200, 200, &twice);
  SHADE_TEST_EXPECTF(unordered >= 180, "%d of 200 unordered finalized", unordered);
  SHADE_TEST_EXPECT_EQ(twice, 0);
}

// IGNORE_SELF: a pointer from an object to itself does not stop its finalization; with ORDERED
// it does (a cycle of one).
static atomic_int self_ran[200];
static void self_finalizer(void *object, void *data) {
  (void)object;
  atomic_fetch_add(&self_ran[(uintptr_t)data], 1);
}
SHADE_TEST_NOINLINE static void make_self_loops(int count, unsigned flags, uintptr_t first_id) {
  for (int c = 0; c < count; c++) {
    struct fin_node *a = fin_node_new(first_id + (uintptr_t)c);
    SHADE_STORE(a->next, a);
    SHADE_STORE(a->other, a);
    shade_set_finalizer(a, self_finalizer, (void *)(first_id + (uintptr_t)c), flags);
  }
}
static void test_ignore_self(void) {
  shade_test_capture_messages();
  make_self_loops(100, SHADE_FINALIZE_ORDERED, 0);
  make_self_loops(100, SHADE_FINALIZE_IGNORE_SELF, 100);
  for (int i = 0; i < 2; i++)
    fin_test_collect_and_finalize();
  int ordered = 0, ignore_self = 0;
  for (int i = 0; i < 100; i++) {
    ordered += atomic_load(&self_ran[i]);
    ignore_self += atomic_load(&self_ran[100 + i]);
  }
  SHADE_TEST_EXPECT_EQ(ordered, 0);
  SHADE_TEST_EXPECTF(ignore_self >= 90, "%d of 100 self-referencing objects finalized",
                     ignore_self);
  shade_test_stop_capturing_messages();
}

// Java-style (UNREACHABLE): ready once unreachable from the roots even when an ordered
// finalizable object reaches it; both run in the same collection.
SHADE_TEST_NOINLINE static void make_java_pairs(int count) {
  for (int c = 0; c < count; c++) {
    uintptr_t id = (uintptr_t)c * 2;
    struct fin_node *a = fin_node_new(id), *u = fin_node_new(id + 1);
    SHADE_STORE(a->next, u);
    shade_set_finalizer(a, count_finalizer, (void *)id, SHADE_FINALIZE_ORDERED);
    shade_set_finalizer(u, count_finalizer, (void *)(id + 1), SHADE_FINALIZE_UNREACHABLE);
  }
}
static void test_unreachable_kind(void) {
  make_java_pairs(200);
  fin_test_collect_and_finalize();
  int both = 0;
  for (int c = 0; c < 200; c++)
    both += atomic_load(&ran_count[c * 2]) && atomic_load(&ran_count[c * 2 + 1]);
  SHADE_TEST_EXPECTF(both >= 180, "%d of 200 pairs finalized together", both);
  SHADE_TEST_EXPECT_EQ(atomic_load(&order_violations), 0);
}

// Resurrection: a finalizer that stores its object keeps it alive and intact; it may set a new
// finalizer, which runs once the object is dropped again.
#define REVIVED 64
static struct fin_node *revived[REVIVED]; // roots (data segment)
static atomic_int second_ran[REVIVED], revived_count;
static void second_finalizer(void *object, void *data) {
  uintptr_t slot = (uintptr_t)data;
  if (fin_node_intact(object, 4242 + slot))
    atomic_fetch_add(&second_ran[slot], 1);
}
static void resurrecting_finalizer(void *object, void *data) {
  uintptr_t slot = (uintptr_t)data;
  revived[slot] = object;
  atomic_fetch_add(&revived_count, 1);
  SHADE_TEST_EXPECT(shade_set_finalizer(object, second_finalizer, data, 0) == 0);
}
SHADE_TEST_NOINLINE static void make_resurrecting(void) {
  for (uintptr_t slot = 0; slot < REVIVED; slot++)
    shade_set_finalizer(fin_node_new(4242 + slot), resurrecting_finalizer, (void *)slot, 0);
}
SHADE_TEST_NOINLINE static int revived_intact(void) {
  int intact = 0;
  for (uintptr_t slot = 0; slot < REVIVED; slot++)
    intact += revived[slot] && fin_node_intact(revived[slot], 4242 + slot);
  return intact;
}
static int second_total(int *twice) {
  int total = 0;
  for (int slot = 0; slot < REVIVED; slot++) {
    total += atomic_load(&second_ran[slot]) != 0;
    *twice += atomic_load(&second_ran[slot]) > 1;
  }
  return total;
}
static void test_resurrection(void) {
  make_resurrecting();
  fin_test_collect_and_finalize();
  int revived_now = atomic_load(&revived_count);
  SHADE_TEST_EXPECTF(revived_now >= REVIVED * 8 / 10, "%d of %d revived", revived_now, REVIVED);
  for (int i = 0; i < 3; i++) {
    shade_malloc(1 << 20);
    fin_test_collect_and_finalize();
  }
  SHADE_TEST_EXPECT_EQ(revived_intact(), atomic_load(&revived_count));
  int twice = 0;
  SHADE_TEST_EXPECT_EQ(second_total(&twice), 0);
  revived_now = atomic_load(&revived_count);
  memset(revived, 0, sizeof revived);
  for (int i = 0; i < 4; i++)
    fin_test_collect_and_finalize();
  int second = second_total(&twice);
  SHADE_TEST_EXPECTF(second >= revived_now * 8 / 10, "%d of %d second finalizers ran", second,
                     revived_now);
  SHADE_TEST_EXPECT_EQ(twice, 0);
}

// A finalizer may allocate, collect and set finalizers (it runs on a registered thread).
static atomic_int busy_ran, list_ran;
static void list_finalizer(void *object, void *data) {
  (void)data;
  if (!fin_node_intact(object, 999))
    atomic_fetch_add(&order_violations, 1);
  atomic_fetch_add(&list_ran, 1);
}
static void busy_finalizer(void *object, void *data) {
  (void)object;
  (void)data;
  struct fin_node *list = NULL;
  for (int i = 0; i < 1000; i++) {
    struct fin_node *n = fin_node_new((uintptr_t)i);
    SHADE_STORE(n->next, list);
    list = n;
  }
  if (atomic_fetch_add(&busy_ran, 1) == 0)
    shade_collect();
  SHADE_TEST_EXPECT(shade_set_finalizer(list, list_finalizer, NULL, 0) == 0);
  for (uintptr_t i = 999; list; list = list->next, i--)
    if (!fin_node_intact(list, i))
      atomic_fetch_add(&order_violations, 1);
}
SHADE_TEST_NOINLINE static void make_busy(int count) {
  for (int i = 0; i < count; i++)
    shade_set_finalizer(fin_node_new((uintptr_t)i), busy_finalizer, NULL, 0);
}
static void test_finalizer_allocates_and_collects(void) {
  make_busy(50);
  for (int i = 0; i < 2; i++)
    fin_test_collect_and_finalize();
  SHADE_TEST_EXPECTF(atomic_load(&busy_ran) >= 45, "%d of 50 ran", atomic_load(&busy_ran));
  for (int i = 0; i < 4 && atomic_load(&list_ran) < atomic_load(&busy_ran); i++)
    fin_test_collect_and_finalize(); // the finalizers they set
  SHADE_TEST_EXPECTF(atomic_load(&list_ran) >= atomic_load(&busy_ran) - 2,
                     "%d of %d finalizers set by finalizers ran", atomic_load(&list_ran),
                     atomic_load(&busy_ran));
  SHADE_TEST_EXPECT_EQ(atomic_load(&order_violations), 0);
}

// On demand: nothing runs until shade_run_finalizers; the notifier says when there is work.
static atomic_int notified;
static void notifier(void) { atomic_fetch_add(&notified, 1); }
static void test_on_demand_with_notifier(void) {
  shade_set_finalize_on_demand(1);
  shade_set_finalizer_notifier(notifier);
  make_finalizable(500, 0);
  shade_test_collect_clean();
  usleep(20 * 1000); // a finalizer thread, were one used, would have run them by now
  size_t pending = shade_finalizers_pending();
  SHADE_TEST_EXPECTF(pending >= 450, "%zu pending", pending);
  SHADE_TEST_EXPECT_EQ(atomic_load(&ran_total), 0);
  SHADE_TEST_EXPECT(atomic_load(&notified) >= 1);
  int ran = shade_run_finalizers(); // (finalizers of earlier tests' objects may be among them)
  SHADE_TEST_EXPECT_EQ((size_t)ran, pending);
  SHADE_TEST_EXPECTF(atomic_load(&ran_total) >= 450 && atomic_load(&ran_total) <= ran,
                     "%d of ours among %d", atomic_load(&ran_total), ran);
  SHADE_TEST_EXPECT_EQ(shade_finalizers_pending(), 0);
  shade_set_finalizer_notifier(NULL);
  shade_set_finalize_on_demand(0);
}

// shade_free forgets the object's finalizer: the slot may hold another object next.
static atomic_int freed_finalized;
static void freed_finalizer(void *object, void *data) {
  (void)object;
  (void)data;
  atomic_fetch_add(&freed_finalized, 1);
}
SHADE_TEST_NOINLINE static void make_and_free(int count) {
  for (int i = 0; i < count; i++) {
    struct fin_node *n = fin_node_new((uintptr_t)i);
    shade_set_finalizer(n, freed_finalizer, NULL, 0);
    shade_free(n);
  }
}
static void test_free_forgets_finalizer(void) {
  make_and_free(500);
  for (int i = 0; i < 2; i++)
    fin_test_collect_and_finalize();
  SHADE_TEST_EXPECT_EQ(atomic_load(&freed_finalized), 0);
}

int main(int argc, char **argv) {
  fin_test_init(argc, argv);
  shade_test_between_tests(reset);
  SHADE_TEST_RUN(test_finalizer_runs_once_when_unreachable);
  SHADE_TEST_RUN(test_reachable_object_is_not_finalized);
  SHADE_TEST_RUN(test_get_and_remove);
  SHADE_TEST_RUN(test_data_is_kept_alive);
  SHADE_TEST_RUN(test_bad_arguments);
  SHADE_TEST_RUN(test_ordered_finalization);
  SHADE_TEST_RUN(test_finalizable_object_keeps_what_it_reaches);
  SHADE_TEST_RUN(test_cycles);
  SHADE_TEST_RUN(test_ignore_self);
  SHADE_TEST_RUN(test_unreachable_kind);
  SHADE_TEST_RUN(test_resurrection);
  SHADE_TEST_RUN(test_finalizer_allocates_and_collects);
  SHADE_TEST_RUN(test_on_demand_with_notifier);
  SHADE_TEST_RUN(test_free_forgets_finalizer);
  return shade_test_finish();
}
