// test_roots.c (core_roots): every kind of root keeps what it points to alive, through interior
// and (from roots) one-past-the-end pointers: the stack, registers and thread-local variables of
// registered threads, the program's globals, a shared library's globals (linked, and dlopened
// after start), user root ranges and uncollectable objects. Removing a root range or freeing an
// uncollectable object lets its referents go.
//
// "Kept alive" is checked exactly: after each collection shade_is_heap_pointer of the object is
// 1, and after garbage has been allocated over any wrongly reclaimed memory its contents are
// intact. "Let go" is checked statistically (the scan is conservative).
#include "test_util.h"

#include <dlfcn.h>

void roots_lib_set_bss(void *p);
void *roots_lib_get_bss(void);
void roots_lib_set_data(void *p);
void *roots_lib_get_data(void);

// Collections interleaved with garbage: what is wrongly reclaimed gets reused and overwritten.
static void collect_and_churn(int rounds) {
  for (int i = 0; i < rounds; i++) {
    shade_test_collect_clean();
    shade_test_allocate_garbage(1 << 20);
  }
  shade_test_collect_clean();
}

static int alive_and_intact(shade_test_hidden hidden, size_t size, uint64_t seed) {
  void *p = shade_test_unhide(hidden);
  return shade_is_heap_pointer(p) == 1 && shade_test_is_filled(p, size, seed);
}

// ---------------------------------------------------------------------------------------------
// The stack of the collecting thread

// An object reachable only through an interior pointer on the stack survives collection.
static void test_interior_pointer_on_stack_keeps_object_alive(void) {
  static const size_t sizes[] = {16, 100, 3000, 100000};
  for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
    shade_test_hidden hidden = shade_test_new_filled(sizes[s], s);
    char *volatile interior = (char *)shade_test_unhide(hidden) + sizes[s] / 2 + 1;
    collect_and_churn(3);
    SHADE_TEST_EXPECTF(alive_and_intact(hidden, sizes[s], s), "size %zu", sizes[s]);
    SHADE_TEST_EXPECT(shade_base(interior) == shade_test_unhide(hidden));
  }
}

// An object reachable only through a pointer one past its end, on the stack, survives. The
// sizes are exact size classes (and a page-multiple large object), so the pointer lands on the
// next object or page.
static void test_one_past_the_end_pointer_on_stack_keeps_object_alive(void) {
  static const size_t sizes[] = {16, 64, 1024, 4096, 32768, 65536};
  for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
    shade_test_hidden hidden = shade_test_new_filled(sizes[s], 100 + s);
    char *volatile end = (char *)shade_test_unhide(hidden) + sizes[s];
    collect_and_churn(3);
    SHADE_TEST_EXPECTF(alive_and_intact(hidden, sizes[s], 100 + s), "size %zu", sizes[s]);
    (void)end;
  }
}

// ---------------------------------------------------------------------------------------------
// The program's globals

static void *bss_slots[64];
static char *volatile global_interior;
static char *volatile global_one_past_end;
static void *data_slots[4] = {(void *)&bss_slots, (void *)&bss_slots, (void *)&bss_slots,
                              (void *)&bss_slots};

static SHADE_TEST_NOINLINE void store_in_globals(shade_test_hidden *hidden) {
  for (size_t i = 0; i < 64; i++) {
    hidden[i] = shade_test_new_filled(48, 200 + i);
    bss_slots[i] = shade_test_unhide(hidden[i]);
  }
  for (size_t i = 0; i < 4; i++) {
    hidden[64 + i] = shade_test_new_filled(200, 300 + i);
    data_slots[i] = shade_test_unhide(hidden[64 + i]);
  }
  hidden[68] = shade_test_new_filled(1000, 400);
  global_interior = (char *)shade_test_unhide(hidden[68]) + 999;
  hidden[69] = shade_test_new_filled(64, 401);
  global_one_past_end = (char *)shade_test_unhide(hidden[69]) + 64;
}

// Pointers in .bss and .data, interior ones and one past the end, keep their objects alive.
static void test_globals_keep_objects_alive(void) {
  shade_test_hidden hidden[70];
  store_in_globals(hidden);
  collect_and_churn(3);
  for (size_t i = 0; i < 64; i++)
    SHADE_TEST_EXPECTF(alive_and_intact(hidden[i], 48, 200 + i), "bss slot %zu", i);
  for (size_t i = 0; i < 4; i++)
    SHADE_TEST_EXPECTF(alive_and_intact(hidden[64 + i], 200, 300 + i), "data slot %zu", i);
  SHADE_TEST_EXPECT(alive_and_intact(hidden[68], 1000, 400));
  SHADE_TEST_EXPECT(alive_and_intact(hidden[69], 64, 401));
  memset(bss_slots, 0, sizeof bss_slots);
  memset(data_slots, 0, sizeof data_slots);
  global_interior = NULL;
  global_one_past_end = NULL;
}

// A pointer in a linked shared library's .bss and .data keeps its object alive.
static void test_shared_library_globals_keep_objects_alive(void) {
  shade_test_hidden in_bss = shade_test_new_filled(128, 500);
  shade_test_hidden in_data = shade_test_new_filled(128, 501);
  roots_lib_set_bss((char *)shade_test_unhide(in_bss) + 5);
  roots_lib_set_data(shade_test_unhide(in_data));
  collect_and_churn(3);
  SHADE_TEST_EXPECT(alive_and_intact(in_bss, 128, 500));
  SHADE_TEST_EXPECT(alive_and_intact(in_data, 128, 501));
  roots_lib_set_bss(NULL);
  roots_lib_set_data(NULL);
}

// A library loaded with dlopen after Shade started is scanned too.
static void test_dlopened_library_globals_keep_objects_alive(void) {
  void *module = dlopen(SHADE_TEST_MODULE_PATH, RTLD_NOW | RTLD_LOCAL);
  SHADE_TEST_EXPECTF(module != NULL, "dlopen: %s", dlerror());
  if (module == NULL)
    return;
  void (*set_bss)(void *) = (void (*)(void *))dlsym(module, "roots_module_set_bss");
  void (*set_data)(void *) = (void (*)(void *))dlsym(module, "roots_module_set_data");
  SHADE_TEST_EXPECT(set_bss != NULL && set_data != NULL);
  if (set_bss == NULL || set_data == NULL)
    return;
  shade_test_hidden in_bss = shade_test_new_filled(128, 600);
  shade_test_hidden in_data = shade_test_new_filled(128, 601);
  set_bss(shade_test_unhide(in_bss));
  set_data((char *)shade_test_unhide(in_data) + 127);
  collect_and_churn(3);
  SHADE_TEST_EXPECT(alive_and_intact(in_bss, 128, 600));
  SHADE_TEST_EXPECT(alive_and_intact(in_data, 128, 601));
  set_bss(NULL);
  set_data(NULL);
  // The module stays loaded: unloading while Shade caches segment lists is a separate question.
}

// ---------------------------------------------------------------------------------------------
// The heap

// An interior pointer stored in a heap object keeps the target alive (small and large targets).
static void test_interior_pointer_in_heap_object_keeps_object_alive(void) {
  void **holder = shade_malloc(4 * sizeof(void *));
  shade_test_hidden small = shade_test_new_filled(256, 700);
  shade_test_hidden large = shade_test_new_filled(200000, 701);
  holder[0] = (char *)shade_test_unhide(small) + 255;
  holder[1] = (char *)shade_test_unhide(large) + 150000;
  collect_and_churn(3);
  SHADE_TEST_EXPECT(alive_and_intact(small, 256, 700));
  SHADE_TEST_EXPECT(alive_and_intact(large, 200000, 701));
  SHADE_TEST_EXPECT(holder[0] != NULL);
}

// ---------------------------------------------------------------------------------------------
// Other threads: registers, stacks, thread-local variables

static atomic_int register_thread_stop;
static atomic_int register_threads_ready;

struct register_thread_job {
  shade_test_hidden hidden;
  void *pointer_at_end; // what the register held when the thread was told to stop
};

// Spins with the only copy of the object's address in r11 (caller-saved: only the signal frame
// has it) until told to stop.
static void *spin_with_pointer_in_r11(void *arg) {
  struct register_thread_job *job = arg;
  job->hidden = shade_test_new_filled(512, 800);
  shade_test_clear_stack();
  atomic_fetch_add(&register_threads_ready, 1);
  void *out;
  __asm__ volatile("mov %[hidden], %%r11\n\t"
                   "xor %[mask], %%r11\n\t"
                   "1: pause\n\t"
                   "cmpl $0, %[stop]\n\t"
                   "je 1b\n\t"
                   "mov %%r11, %[out]\n\t"
                   : [out] "=r"(out)
                   : [hidden] "r"(job->hidden), [mask] "r"(SHADE_TEST_HIDE_MASK),
                     [stop] "m"(register_thread_stop)
                   : "r11", "cc", "memory");
  job->pointer_at_end = out;
  return NULL;
}

// The same with r15 (callee-saved).
static void *spin_with_pointer_in_r15(void *arg) {
  struct register_thread_job *job = arg;
  job->hidden = shade_test_new_filled(512, 801);
  shade_test_clear_stack();
  atomic_fetch_add(&register_threads_ready, 1);
  void *out;
  __asm__ volatile("mov %[hidden], %%r15\n\t"
                   "xor %[mask], %%r15\n\t"
                   "1: pause\n\t"
                   "cmpl $0, %[stop]\n\t"
                   "je 1b\n\t"
                   "mov %%r15, %[out]\n\t"
                   : [out] "=r"(out)
                   : [hidden] "r"(job->hidden), [mask] "r"(SHADE_TEST_HIDE_MASK),
                     [stop] "m"(register_thread_stop)
                   : "r15", "cc", "memory");
  job->pointer_at_end = out;
  return NULL;
}

// A pointer held only in a register of another (running) thread keeps its object alive.
static void test_pointer_in_register_of_running_thread_keeps_object_alive(void) {
  struct register_thread_job jobs[2];
  memset(jobs, 0, sizeof jobs);
  pthread_t threads[2];
  atomic_store(&register_thread_stop, 0);
  atomic_store(&register_threads_ready, 0);
  SHADE_TEST_EXPECT(shade_pthread_create(&threads[0], NULL, spin_with_pointer_in_r11, &jobs[0]) == 0);
  SHADE_TEST_EXPECT(shade_pthread_create(&threads[1], NULL, spin_with_pointer_in_r15, &jobs[1]) == 0);
  while (atomic_load(&register_threads_ready) < 2)
    sched_yield();
  for (int i = 0; i < 10; i++) {
    collect_and_churn(1);
    SHADE_TEST_EXPECTF(shade_is_heap_pointer(shade_test_unhide(jobs[0].hidden)) == 1,
                       "collection %d: object held in r11 was reclaimed", i);
    SHADE_TEST_EXPECTF(shade_is_heap_pointer(shade_test_unhide(jobs[1].hidden)) == 1,
                       "collection %d: object held in r15 was reclaimed", i);
  }
  atomic_store(&register_thread_stop, 1);
  pthread_join(threads[0], NULL);
  pthread_join(threads[1], NULL);
  for (int t = 0; t < 2; t++) {
    SHADE_TEST_EXPECT(jobs[t].pointer_at_end == shade_test_unhide(jobs[t].hidden));
    SHADE_TEST_EXPECTF(shade_test_is_filled(shade_test_unhide(jobs[t].hidden), 512, 800 + t),
                       "object held in %s lost its contents", t == 0 ? "r11" : "r15");
  }
}

// A parked thread: it keeps what it made in its stack or in thread-local variables, says it is
// ready, and waits on a condition variable until the test lets it go.
static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cond = PTHREAD_COND_INITIALIZER;
static int park_ready, park_release;

static void park_until_released(void) {
  pthread_mutex_lock(&park_lock);
  park_ready = 1;
  pthread_cond_broadcast(&park_cond);
  while (!park_release)
    pthread_cond_wait(&park_cond, &park_lock);
  pthread_mutex_unlock(&park_lock);
}

static void wait_until_parked(void) {
  pthread_mutex_lock(&park_lock);
  while (!park_ready)
    pthread_cond_wait(&park_cond, &park_lock);
  pthread_mutex_unlock(&park_lock);
}

static void release_parked(void) {
  pthread_mutex_lock(&park_lock);
  park_release = 1;
  pthread_cond_broadcast(&park_cond);
  pthread_mutex_unlock(&park_lock);
}

static void reset_park(void) {
  park_ready = 0;
  park_release = 0;
}

enum { PARKED_OBJECTS = 64 };
static shade_test_hidden parked_hidden[PARKED_OBJECTS];
static atomic_int parked_intact_after; // objects found intact by the thread once released

// Keeps 64 objects in an array on its own stack (through interior pointers).
static void *park_with_pointers_on_stack(void *unused) {
  (void)unused;
  char *volatile on_stack[PARKED_OBJECTS];
  for (int i = 0; i < PARKED_OBJECTS; i++) {
    parked_hidden[i] = shade_test_new_filled(96, 900 + i);
    on_stack[i] = (char *)shade_test_unhide(parked_hidden[i]) + 10;
  }
  park_until_released();
  int intact = 0;
  for (int i = 0; i < PARKED_OBJECTS; i++)
    intact += shade_test_is_filled(on_stack[i] - 10, 96, 900 + i);
  atomic_store(&parked_intact_after, intact);
  return NULL;
}

static __thread void *thread_local_slots[PARKED_OBJECTS];

static SHADE_TEST_NOINLINE void fill_thread_local_slots(uint64_t seed) {
  for (int i = 0; i < PARKED_OBJECTS; i++) {
    parked_hidden[i] = shade_test_new_filled(96, seed + i);
    thread_local_slots[i] = shade_test_unhide(parked_hidden[i]);
  }
}

static int thread_local_slots_intact(uint64_t seed) {
  int intact = 0;
  for (int i = 0; i < PARKED_OBJECTS; i++)
    intact += thread_local_slots[i] == shade_test_unhide(parked_hidden[i]) &&
              shade_test_is_filled(thread_local_slots[i], 96, seed + i);
  return intact;
}

// Keeps 64 objects only in its __thread array.
static void *park_with_pointers_in_thread_locals(void *unused) {
  (void)unused;
  fill_thread_local_slots(1000);
  shade_test_clear_stack();
  park_until_released();
  atomic_store(&parked_intact_after, thread_local_slots_intact(1000));
  memset(thread_local_slots, 0, sizeof thread_local_slots);
  return NULL;
}

static void expect_parked_objects_survive(void *(*park)(void *), uint64_t seed, const char *where) {
  reset_park();
  atomic_store(&parked_intact_after, -1);
  pthread_t thread;
  SHADE_TEST_EXPECT(shade_pthread_create(&thread, NULL, park, NULL) == 0);
  wait_until_parked();
  collect_and_churn(3);
  size_t live = shade_test_count_live(parked_hidden, PARKED_OBJECTS);
  SHADE_TEST_EXPECTF(live == PARKED_OBJECTS, "%s: %zu of %d objects live after collections",
                     where, live, PARKED_OBJECTS);
  release_parked();
  pthread_join(thread, NULL);
  SHADE_TEST_EXPECTF(atomic_load(&parked_intact_after) == PARKED_OBJECTS,
                     "%s: %d of %d objects intact", where, atomic_load(&parked_intact_after),
                     PARKED_OBJECTS);
  (void)seed;
}

// Pointers on the stack of another registered thread keep their objects alive.
static void test_pointers_on_stack_of_parked_thread_keep_objects_alive(void) {
  expect_parked_objects_survive(park_with_pointers_on_stack, 900, "other thread's stack");
}

// Pointers in __thread variables of another registered thread keep their objects alive.
static void test_pointers_in_thread_locals_of_other_thread_keep_objects_alive(void) {
  expect_parked_objects_survive(park_with_pointers_in_thread_locals, 1000,
                                "other thread's __thread array");
}

// Pointers in __thread variables of the main thread keep their objects alive.
static void test_pointers_in_thread_locals_of_main_thread_keep_objects_alive(void) {
  fill_thread_local_slots(1100);
  collect_and_churn(3);
  size_t live = shade_test_count_live(parked_hidden, PARKED_OBJECTS);
  SHADE_TEST_EXPECTF(live == PARKED_OBJECTS, "%zu of %d objects live", live, PARKED_OBJECTS);
  SHADE_TEST_EXPECT(thread_local_slots_intact(1100) == PARKED_OBJECTS);
  memset(thread_local_slots, 0, sizeof thread_local_slots);
}

// ---------------------------------------------------------------------------------------------
// User root ranges and uncollectable objects

enum { ROOTED_OBJECTS = 1000 };

static SHADE_TEST_NOINLINE void fill_with_new_objects(void **slots, shade_test_hidden *hidden,
                                                      uint64_t seed) {
  for (size_t i = 0; i < ROOTED_OBJECTS; i++) {
    hidden[i] = shade_test_new_filled(32 + i % 200, seed + i);
    slots[i] = shade_test_unhide(hidden[i]);
  }
}

static size_t count_intact(const shade_test_hidden *hidden, uint64_t seed) {
  size_t intact = 0;
  for (size_t i = 0; i < ROOTED_OBJECTS; i++)
    intact += shade_is_heap_pointer(shade_test_unhide(hidden[i])) == 1 &&
              shade_test_is_filled(shade_test_unhide(hidden[i]), 32 + i % 200, seed + i);
  return intact;
}

// A malloc'd block added as a root range keeps the objects it points to alive; once removed,
// they are reclaimed (at least 90% of them: the scan is conservative).
static void test_user_root_range_keeps_objects_alive_until_removed(void) {
  void **block = malloc(ROOTED_OBJECTS * sizeof *block);
  shade_test_hidden *hidden = malloc(ROOTED_OBJECTS * sizeof *hidden);
  shade_add_roots(block, block + ROOTED_OBJECTS);
  fill_with_new_objects(block, hidden, 2000);
  collect_and_churn(3);
  size_t intact = count_intact(hidden, 2000);
  SHADE_TEST_EXPECTF(intact == ROOTED_OBJECTS, "%zu of %d objects intact", intact, ROOTED_OBJECTS);
  shade_remove_roots(block, block + ROOTED_OBJECTS);
  shade_test_collect_clean();
  size_t live = shade_test_count_live(hidden, ROOTED_OBJECTS);
  SHADE_TEST_EXPECTF(live <= ROOTED_OBJECTS / 10,
                     "%zu of %d objects still live after shade_remove_roots", live, ROOTED_OBJECTS);
  free(block); // still holds the addresses: malloc memory is not a root
  free(hidden);
}

// An uncollectable object is a root for what it points to, and is itself never reclaimed, until
// shade_free; then both go.
static SHADE_TEST_NOINLINE shade_test_hidden new_uncollectable_table(shade_test_hidden *hidden,
                                                                     uint64_t seed) {
  void **table = shade_malloc_uncollectable(ROOTED_OBJECTS * sizeof *table);
  if (table != NULL)
    fill_with_new_objects(table, hidden, seed);
  return shade_test_hide(table);
}

static void test_uncollectable_object_is_a_root_until_freed(void) {
  shade_test_hidden *hidden = malloc(ROOTED_OBJECTS * sizeof *hidden);
  shade_test_hidden table = new_uncollectable_table(hidden, 3000);
  SHADE_TEST_EXPECT(shade_test_unhide(table) != NULL);
  if (shade_test_unhide(table) == NULL)
    return;
  collect_and_churn(3);
  SHADE_TEST_EXPECT(shade_is_heap_pointer(shade_test_unhide(table)) == 1);
  size_t intact = count_intact(hidden, 3000);
  SHADE_TEST_EXPECTF(intact == ROOTED_OBJECTS, "%zu of %d objects intact", intact, ROOTED_OBJECTS);
  shade_free(shade_test_unhide(table));
  shade_test_collect_clean();
  size_t live = shade_test_count_live(hidden, ROOTED_OBJECTS);
  SHADE_TEST_EXPECTF(live <= ROOTED_OBJECTS / 10,
                     "%zu of %d objects still live after freeing their uncollectable table", live,
                     ROOTED_OBJECTS);
  free(hidden);
}

// 100 collectable tables of 10 objects each, held by a global array: many holders, so that one
// kept by a stray conservative reference keeps only a few objects.
enum { TABLES = 100 };
static void *volatile collectable_tables[TABLES];

static SHADE_TEST_NOINLINE void make_collectable_tables(shade_test_hidden *hidden, uint64_t seed) {
  enum { PER_TABLE = ROOTED_OBJECTS / TABLES };
  for (size_t t = 0; t < TABLES; t++) {
    void **table = shade_malloc(PER_TABLE * sizeof *table);
    collectable_tables[t] = table;
    for (size_t j = 0; j < PER_TABLE; j++) {
      size_t i = t * PER_TABLE + j;
      hidden[i] = shade_test_new_filled(32 + i % 200, seed + i);
      table[j] = shade_test_unhide(hidden[i]);
    }
  }
}

// Control for the statistics above: objects held by collectable tables are kept; once the
// tables are unreachable, the objects are reclaimed.
static void test_objects_held_by_nothing_are_reclaimed(void) {
  shade_test_hidden *hidden = malloc(ROOTED_OBJECTS * sizeof *hidden);
  make_collectable_tables(hidden, 4000);
  collect_and_churn(1);
  size_t intact = count_intact(hidden, 4000);
  SHADE_TEST_EXPECTF(intact == ROOTED_OBJECTS, "%zu of %d objects intact", intact, ROOTED_OBJECTS);
  for (size_t t = 0; t < TABLES; t++)
    collectable_tables[t] = NULL;
  shade_test_collect_clean();
  size_t live = shade_test_count_live(hidden, ROOTED_OBJECTS);
  SHADE_TEST_EXPECTF(live <= ROOTED_OBJECTS / 10, "%zu of %d unreachable objects still live", live,
                     ROOTED_OBJECTS);
  free(hidden);
}

int main(void) {
  SHADE_TEST_EXPECT(shade_init(NULL) == 0);
  SHADE_TEST_RUN(test_interior_pointer_on_stack_keeps_object_alive);
  SHADE_TEST_RUN(test_one_past_the_end_pointer_on_stack_keeps_object_alive);
  SHADE_TEST_RUN(test_globals_keep_objects_alive);
  SHADE_TEST_RUN(test_shared_library_globals_keep_objects_alive);
  SHADE_TEST_RUN(test_dlopened_library_globals_keep_objects_alive);
  SHADE_TEST_RUN(test_interior_pointer_in_heap_object_keeps_object_alive);
  SHADE_TEST_RUN_UNLESS_TSAN(test_pointer_in_register_of_running_thread_keeps_object_alive);
  SHADE_TEST_RUN(test_pointers_on_stack_of_parked_thread_keep_objects_alive);
  SHADE_TEST_RUN(test_pointers_in_thread_locals_of_other_thread_keep_objects_alive);
  SHADE_TEST_RUN(test_pointers_in_thread_locals_of_main_thread_keep_objects_alive);
  SHADE_TEST_RUN(test_objects_held_by_nothing_are_reclaimed);
  SHADE_TEST_RUN(test_user_root_range_keeps_objects_alive_until_removed);
  SHADE_TEST_RUN(test_uncollectable_object_is_a_root_until_freed);
  return shade_test_finish();
}
