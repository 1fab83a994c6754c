// test_bdwgc.c: the semantics of Shade's libgc.so.1 that bdwgc programs rely on, through gc.h.
//
// Linked with libgc.so.1 (compat/bdwgc) and compiled against its headers, as a bdwgc program
// is. Each test fails if the behaviour it names broke: granules and alignment, the kinds and
// mark procedures, typed descriptors, unregistered threads, finalizer flavours and delivery,
// disappearing links, the allocation lock, statistics, and the messages for misuse.
#define GC_THREADS 1
#define GC_NO_THREAD_REDIRECTS 1 // a plain pthread_create: the thread never registers
#include <gc.h>
#include <gc_inline.h>
#include <gc_mark.h>
#include <gc_typed.h>

#include "../test_util.h"

// ---- Sizes

static void test_granules_are_16_bytes_and_objects_16_aligned(void) {
  SHADE_TEST_EXPECT_EQ(GC_size(GC_malloc(15)), 16);
  SHADE_TEST_EXPECT_EQ(GC_size(GC_malloc(1)), 16);
  SHADE_TEST_EXPECT_EQ(GC_size(GC_malloc(16)), 32); // one byte past the end must stay inside
  SHADE_TEST_EXPECT_EQ(GC_size(GC_malloc_atomic(8)), 16);
  for (size_t n = 0; n < 5000; n += 7) {
    char *p = GC_malloc(n), *q = GC_malloc_atomic(n);
    SHADE_TEST_EXPECTF(((uintptr_t)p & 15) == 0 && ((uintptr_t)q & 15) == 0, "n=%zu", n);
    SHADE_TEST_EXPECTF(GC_size(p) > n && GC_size(p) % 16 == 0, "n=%zu size=%zu", n, GC_size(p));
    SHADE_TEST_EXPECTF(GC_base(q + n / 2) == q, "n=%zu", n);
  }
}

static void test_huge_requests_fail_with_the_oom_function(void) {
  volatile size_t huge = (size_t)-1 - 8, large = (size_t)1 << 62;
  SHADE_TEST_EXPECT(GC_malloc(huge) == NULL);
  SHADE_TEST_EXPECT(GC_malloc_atomic(large) == NULL);
}

static void test_realloc_keeps_contents(void) {
  char *p = GC_malloc(10);
  memcpy(p, "abcdefghi", 10);
  p = GC_realloc(p, 100000);
  SHADE_TEST_EXPECT(p != NULL && strcmp(p, "abcdefghi") == 0);
  SHADE_TEST_EXPECT(GC_realloc(p, 0) == NULL);
}

// ---- Kinds and mark procedures

#define MASK ((GC_word)0x5A5A5A5A5A5A5A5Aull)
static atomic_int mark_proc_calls;

// Objects of this kind hold their target hidden (XOR MASK): only the mark procedure sees it.
static struct GC_ms_entry *hidden_target_mark(GC_word *addr, struct GC_ms_entry *msp,
                                              struct GC_ms_entry *limit, GC_word env) {
  atomic_fetch_add(&mark_proc_calls, 1);
  SHADE_TEST_EXPECT_EQ(env, 7);
  SHADE_TEST_EXPECT(GC_size(addr) >= 16);
  return GC_MARK_AND_PUSH((void *)(addr[0] ^ MASK), msp, limit, (void **)addr);
}

static unsigned hidden_kind;

static SHADE_TEST_NOINLINE void make_holders(GC_word **with_proc, shade_test_hidden *targets,
                                             size_t n, int kind) {
  for (size_t i = 0; i < n; i++) {
    char *target = GC_malloc_atomic(64);
    memset(target, (int)i, 64);
    with_proc[i] = GC_generic_malloc(16, kind);
    with_proc[i][0] = (GC_word)target ^ MASK;
    targets[i] = shade_test_hide(target);
  }
}

static void test_a_mark_procedure_keeps_what_it_pushes(void) {
  enum { N = 200 };
  static GC_word *holders[N], *plain[N];
  static shade_test_hidden targets[N], plain_targets[N];
  make_holders(holders, targets, N, (int)hidden_kind);
  make_holders(plain, plain_targets, N, GC_I_NORMAL); // a normal kind: the target is hidden
  shade_test_collect_clean();
  GC_gcollect();
  SHADE_TEST_EXPECT(atomic_load(&mark_proc_calls) >= N);
  SHADE_TEST_EXPECT_EQ(shade_test_count_live(targets, N), N);
  for (size_t i = 0; i < N; i++) {
    unsigned char *t = shade_test_unhide(targets[i]);
    SHADE_TEST_EXPECTF(t[0] == (unsigned char)i && t[63] == (unsigned char)i, "target %zu", i);
  }
  SHADE_TEST_EXPECTF(shade_test_count_live(plain_targets, N) < N / 2,
                     "%zu of %d targets of normal objects survived",
                     shade_test_count_live(plain_targets, N), N);
}

// gc_inline.h's refill: a list of objects linked through their first word, zeroed otherwise.
static void test_malloc_many_links_zeroed_objects(void) {
  void *list = NULL;
  GC_generic_malloc_many(48, GC_I_NORMAL, &list);
  size_t count = 0;
  for (void *p = list; p != NULL; p = GC_NEXT(p), count++) {
    SHADE_TEST_EXPECT(GC_size(p) >= 48 && ((GC_word *)p)[1] == 0 && ((GC_word *)p)[5] == 0);
  }
  SHADE_TEST_EXPECT(count > 1);
}

// Interior pointers turned off after GC_init change nothing (bdwgc reads the setting at GC_init;
// test_bdwgc_exact.c sets it before). GC_generic_malloc_many hands out distinct zeroed objects, a span's slots at a time, which
// survive collections once the program links them.
static void test_malloc_many_batches_survive_collections(void) {
  GC_set_all_interior_pointers(0);
  SHADE_TEST_EXPECT_EQ(GC_size(GC_malloc(15)), 16);
  SHADE_TEST_EXPECT_EQ(GC_size(GC_malloc(16)), 32);
  GC_word **chain = NULL; // every object of every batch, linked through word 1
  size_t total = 0;
  for (int batch = 0; batch < 200; batch++) {
    void *list = NULL;
    GC_generic_malloc_many(16, batch % 2 ? GC_I_NORMAL : GC_I_PTRFREE, &list);
    size_t count = 0;
    for (void *p = list, *next; p != NULL; p = next, count++) {
      next = GC_NEXT(p);
      GC_word *object = p;
      SHADE_TEST_EXPECTF(GC_size(object) == 32 && GC_base(object) == object, "batch %d", batch);
      if (batch % 2)
        SHADE_TEST_EXPECTF(object[1] == 0, "batch %d: not zeroed", batch);
      if (batch % 2 == 0) // pointer-free objects hold no links: keep them from a normal one
        continue;
      object[0] = (GC_word)(total * 2654435761u);
      object[1] = (GC_word)chain;
      chain = (GC_word **)object;
      total++;
    }
    SHADE_TEST_EXPECTF(count >= 1, "batch %d", batch);
    if (batch % 50 == 49)
      GC_gcollect();
  }
  GC_gcollect();
  size_t seen = 0;
  for (GC_word **p = chain; p != NULL; p = (GC_word **)p[1], seen++) {
    size_t n = total - 1 - seen;
    SHADE_TEST_EXPECTF((GC_word)p[0] == (GC_word)(n * 2654435761u), "object %zu", n);
  }
  SHADE_TEST_EXPECT_EQ(seen, total);
  SHADE_TEST_EXPECT(total > 1000);
  GC_set_all_interior_pointers(1);
}

// ---- Typed descriptors

static SHADE_TEST_NOINLINE void *make_typed(shade_test_hidden *via_pointer_word,
                                            shade_test_hidden *via_other_word) {
  GC_word bitmap[1] = {0};
  GC_set_bit(bitmap, 1); // word 1 is a pointer, word 0 is not
  GC_descr descr = GC_make_descriptor(bitmap, 2);
  SHADE_TEST_EXPECT(GC_make_descriptor(bitmap, 2) == descr); // equal bitmaps share one
  void **object = GC_malloc_explicitly_typed(2 * sizeof(void *), descr);
  void *a = GC_malloc_atomic(32), *b = GC_malloc_atomic(32);
  object[0] = a;
  object[1] = b;
  *via_other_word = shade_test_hide(a);
  *via_pointer_word = shade_test_hide(b);
  return object;
}

static void test_typed_objects_are_scanned_by_their_bitmap(void) {
  enum { N = 100 };
  static shade_test_hidden kept[N], dropped[N];
  static void *volatile objects[N]; // the typed objects stay reachable
  for (size_t i = 0; i < N; i++)
    objects[i] = make_typed(&kept[i], &dropped[i]);
  shade_test_collect_clean();
  GC_gcollect();
  SHADE_TEST_EXPECT_EQ(shade_test_count_live(kept, N), N);
  SHADE_TEST_EXPECTF(shade_test_count_live(dropped, N) < N / 2, "%zu of %d survived",
                     shade_test_count_live(dropped, N), N);
  SHADE_TEST_EXPECT(objects[N - 1] != NULL);
}

// ---- Threads that never registered

static void *unregistered_thread(void *argument) {
  (void)argument;
  void **list = NULL;
  for (int i = 0; i < 20000; i++) {
    void **cell = GC_malloc(2 * sizeof(void *));
    cell[0] = list;
    cell[1] = (void *)(uintptr_t)i;
    list = cell;
    if (i % 5000 == 0)
      GC_gcollect();
  }
  int count = 19999, ok = 1;
  for (void **cell = list; cell != NULL; cell = cell[0], count--)
    ok &= (uintptr_t)cell[1] == (uintptr_t)count;
  return (void *)(uintptr_t)(ok && count == -1);
}

static void test_a_thread_allocates_without_registering(void) {
  pthread_t threads[3];
  for (int i = 0; i < 3; i++)
    SHADE_TEST_EXPECT(pthread_create(&threads[i], NULL, unregistered_thread, NULL) == 0);
  for (int i = 0; i < 3; i++) {
    void *ok = NULL;
    pthread_join(threads[i], &ok);
    SHADE_TEST_EXPECTF(ok == (void *)1, "thread %d saw its list damaged", i);
  }
}

// ---- Finalization and disappearing links

static atomic_int finalized;
static int token; // client data outside the heap (data in the heap is kept alive, as in bdwgc)
static void GC_CALLBACK count_finalizer(void *object, void *data) {
  SHADE_TEST_EXPECT(data == &token && object != NULL);
  atomic_fetch_add(&finalized, 1);
}

static SHADE_TEST_NOINLINE void make_finalizable(int n, int flavour) {
  for (int i = 0; i < n; i++) {
    void *p = GC_malloc(32);
    switch (flavour) {
    case 0: GC_register_finalizer(p, count_finalizer, &token, NULL, NULL); break;
    case 1: GC_register_finalizer_no_order(p, count_finalizer, &token, NULL, NULL); break;
    case 2: GC_register_finalizer_ignore_self(p, count_finalizer, &token, NULL, NULL); break;
    default: GC_register_finalizer_unreachable(p, count_finalizer, &token, NULL, NULL); break;
    }
  }
}

static void test_every_finalizer_flavour_runs_on_demand(void) {
  GC_set_finalize_on_demand(1);
  for (int flavour = 0; flavour < 4; flavour++) {
    atomic_store(&finalized, 0);
    make_finalizable(100, flavour);
    shade_test_collect_clean();
    GC_gcollect();
    SHADE_TEST_EXPECTF(atomic_load(&finalized) == 0, "flavour %d ran before GC_invoke_finalizers",
                       flavour);
    GC_invoke_finalizers();
    SHADE_TEST_EXPECTF(atomic_load(&finalized) > 50, "flavour %d: %d of 100 ran", flavour,
                       atomic_load(&finalized));
  }
  GC_set_finalize_on_demand(0);
}

static void test_registering_returns_the_previous_finalizer(void) {
  void *p = GC_malloc(16);
  GC_finalization_proc old = NULL;
  void *old_data = NULL;
  GC_register_finalizer(p, count_finalizer, &token, &old, &old_data);
  SHADE_TEST_EXPECT(old == NULL && old_data == NULL);
  void *heap_data = GC_malloc(8); // data in the heap comes back as given, too
  GC_register_finalizer(p, count_finalizer, heap_data, &old, &old_data);
  SHADE_TEST_EXPECT(old == count_finalizer && old_data == &token);
  GC_register_finalizer(p, NULL, NULL, &old, &old_data);
  SHADE_TEST_EXPECT(old == count_finalizer && old_data == heap_data);
}

static atomic_int data_intact;
static void GC_CALLBACK check_data_finalizer(void *object, void *data) {
  (void)object;
  atomic_fetch_add(&data_intact, shade_test_is_filled(data, 256, 7));
}

static SHADE_TEST_NOINLINE void make_objects_with_heap_data(int n) {
  for (int i = 0; i < n; i++) {
    void *data = GC_malloc(256); // reachable only through the registration
    shade_test_fill(data, 256, 7);
    GC_register_finalizer_no_order(GC_malloc(32), check_data_finalizer, data, NULL, NULL);
  }
}

static void test_finalizer_data_stays_alive_until_the_finalizer_runs(void) {
  GC_set_finalize_on_demand(1);
  make_objects_with_heap_data(100);
  for (int i = 0; i < 3; i++) {
    GC_malloc(1 << 20); // churn, so the data's memory would be reused if it were freed
    shade_test_collect_clean();
    GC_gcollect();
  }
  GC_invoke_finalizers();
  SHADE_TEST_EXPECTF(atomic_load(&data_intact) > 50, "%d intact", atomic_load(&data_intact));
  GC_set_finalize_on_demand(0);
}

static void *links[64];

static SHADE_TEST_NOINLINE void register_links(void) {
  for (int i = 0; i < 64; i++) {
    void *target = GC_malloc_atomic(32);
    links[i] = (void *)GC_HIDE_POINTER(target);
    SHADE_TEST_EXPECT_EQ(GC_general_register_disappearing_link(&links[i], target), GC_SUCCESS);
  }
  SHADE_TEST_EXPECT_EQ(GC_general_register_disappearing_link(&links[0], GC_malloc(8)),
                       GC_DUPLICATE);
}

static void test_disappearing_links_clear_move_and_unregister(void) {
  register_links();
  static void *moved;
  SHADE_TEST_EXPECT_EQ(GC_move_disappearing_link(&links[1], &moved), GC_SUCCESS);
  SHADE_TEST_EXPECT_EQ(GC_move_disappearing_link(&links[1], &moved), GC_NOT_FOUND);
  SHADE_TEST_EXPECT_EQ(GC_unregister_disappearing_link(&links[2]), 1);
  SHADE_TEST_EXPECT_EQ(GC_unregister_disappearing_link(&links[2]), 0);
  moved = links[1];
  shade_test_collect_clean();
  GC_gcollect();
  int cleared = 0;
  for (int i = 3; i < 64; i++)
    cleared += links[i] == NULL;
  SHADE_TEST_EXPECTF(cleared > 40, "%d of 61 links cleared", cleared);
  SHADE_TEST_EXPECT(links[2] != NULL); // unregistered: left alone
  SHADE_TEST_EXPECT(moved == NULL || links[1] != NULL);
}

// ---- The allocation lock, statistics, misuse

static void *read_under_lock(void *data) { return (void *)((uintptr_t)data + 1); }

static void test_call_with_alloc_lock_runs_the_function(void) {
  SHADE_TEST_EXPECT(GC_call_with_alloc_lock(read_under_lock, (void *)41) == (void *)42);
}

// bdwgc's pace: the free-space divisor d becomes gc_percent 200 / d (67 by default) unless
// SHADE_GC_PERCENT is set.
static void test_free_space_divisor_sets_the_pace(void) {
  if (getenv("SHADE_GC_PERCENT") != NULL)
    shade_test_skip("SHADE_GC_PERCENT is set: it decides the pace");
  SHADE_TEST_EXPECT_EQ(GC_get_free_space_divisor(), 3);
  SHADE_TEST_EXPECT_EQ(shade_set_gc_percent(67), 67);
  GC_set_free_space_divisor(2);
  SHADE_TEST_EXPECT_EQ(shade_set_gc_percent(67), 100);
  GC_set_free_space_divisor(3);
  SHADE_TEST_EXPECT_EQ(shade_set_gc_percent(67), 67);
}

// bdwgc's heap never shrinks, and is used up before each collection: Shade keeps the largest
// goal reached (retain_goal) unless SHADE_RETAIN_GOAL says otherwise.
static void *volatile peak_list;
static SHADE_TEST_NOINLINE void build_peak(size_t bytes) {
  void **list = NULL;
  for (size_t done = 0; done < bytes; done += 4096) {
    void **node = GC_malloc(4096);
    *node = list;
    list = node;
  }
  peak_list = list;
}
static void test_heap_goal_stays_after_a_peak(void) {
  if (getenv("SHADE_RETAIN_GOAL") != NULL)
    shade_test_skip("SHADE_RETAIN_GOAL is set: it decides");
  build_peak((size_t)32 << 20);
  GC_gcollect();
  struct shade_stats peak;
  shade_get_stats(&peak);
  SHADE_TEST_EXPECT_EQ(peak.retain_goal, 1);
  peak_list = NULL;
  GC_gcollect();
  GC_gcollect();
  struct shade_stats after;
  shade_get_stats(&after);
  SHADE_TEST_EXPECTF(after.heap_live + ((uint64_t)16 << 20) < peak.heap_live,
                     "live %" PRIu64 " after dropping 32 MiB (%" PRIu64 " before)",
                     after.heap_live, peak.heap_live);
  SHADE_TEST_EXPECTF(after.heap_goal >= peak.heap_goal, "goal %" PRIu64 " after the peak, %"
                     PRIu64 " at it", after.heap_goal, peak.heap_goal);
}

static void test_statistics_move(void) {
  GC_word before = GC_get_gc_no();
  size_t total = GC_get_total_bytes();
  for (int i = 0; i < 1000; i++)
    GC_malloc(1000);
  GC_gcollect();
  SHADE_TEST_EXPECT(GC_get_gc_no() > before);
  SHADE_TEST_EXPECT(GC_get_total_bytes() > total);
  SHADE_TEST_EXPECT(GC_get_heap_size() > 0);
  GC_word heap = 0, free_bytes = 0, since = 0, all = 0;
  GC_get_heap_usage_safe(&heap, &free_bytes, NULL, &since, &all);
  SHADE_TEST_EXPECT(heap > 0 && all > 0);
  SHADE_TEST_EXPECT(GC_get_version() == ((8u << 16) | (2u << 8) | 2u));
}

// After GC_init, GC_enable_incremental changes nothing (test_bdwgc_incremental.c calls it
// before); GC_is_incremental_mode says whether generations are on (SHADE_GENERATIONAL decides).
static void test_incremental_mode_stays_stop_the_world(void) {
  struct shade_stats stats;
  shade_get_stats(&stats);
  int generational = stats.generational;
  GC_enable_incremental();
  SHADE_TEST_EXPECT_EQ(GC_is_incremental_mode(), generational);
  shade_get_stats(&stats);
  SHADE_TEST_EXPECT_EQ(stats.mode, SHADE_MODE_STW);
  SHADE_TEST_EXPECT_EQ(stats.generational, generational);
}

static void test_misuse_gets_one_clear_message(void) {
  shade_test_capture_messages();
  char *p = GC_malloc(64);
  GC_free(p + 8);
  SHADE_TEST_EXPECT(shade_test_messages_contain("GC_free", NULL) ||
                    shade_test_messages_contain("shade_free", "not"));
  GC_mark_and_push(p, NULL, NULL, NULL);
  SHADE_TEST_EXPECT(shade_test_messages_contain("GC_mark_and_push", "outside"));
  GC_enable();
  SHADE_TEST_EXPECT(shade_test_messages_contain("GC_enable", "more often"));
  GC_register_finalizer(p + 16, count_finalizer, NULL, NULL, NULL);
  SHADE_TEST_EXPECT(shade_test_messages_contain("GC_register_finalizer", "not the start"));
  shade_test_stop_capturing_messages();
}

int main(void) {
  GC_INIT();
  hidden_kind = GC_new_kind(GC_new_free_list(), GC_MAKE_PROC(GC_new_proc(hidden_target_mark), 7),
                            0, 1);
  SHADE_TEST_RUN(test_granules_are_16_bytes_and_objects_16_aligned);
  SHADE_TEST_RUN(test_huge_requests_fail_with_the_oom_function);
  SHADE_TEST_RUN(test_realloc_keeps_contents);
  SHADE_TEST_RUN(test_a_mark_procedure_keeps_what_it_pushes);
  SHADE_TEST_RUN(test_malloc_many_links_zeroed_objects);
  SHADE_TEST_RUN(test_malloc_many_batches_survive_collections);
  SHADE_TEST_RUN(test_typed_objects_are_scanned_by_their_bitmap);
  SHADE_TEST_RUN(test_a_thread_allocates_without_registering);
  SHADE_TEST_RUN(test_every_finalizer_flavour_runs_on_demand);
  SHADE_TEST_RUN(test_registering_returns_the_previous_finalizer);
  SHADE_TEST_RUN(test_finalizer_data_stays_alive_until_the_finalizer_runs);
  SHADE_TEST_RUN(test_disappearing_links_clear_move_and_unregister);
  SHADE_TEST_RUN(test_call_with_alloc_lock_runs_the_function);
  SHADE_TEST_RUN(test_free_space_divisor_sets_the_pace);
  SHADE_TEST_RUN(test_heap_goal_stays_after_a_peak);
  SHADE_TEST_RUN(test_statistics_move);
  SHADE_TEST_RUN(test_incremental_mode_stays_stop_the_world);
  SHADE_TEST_RUN(test_misuse_gets_one_clear_message);
  return shade_test_finish();
}
