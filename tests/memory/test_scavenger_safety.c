// The scavenger never returns a page that is in use. With SHADE_SCAVENGE_IDLE_MS=0 every free
// run is returned as soon as the scavenger sees it, and a third thread calls
// shade_free_os_memory in a loop, while two threads keep objects of many sizes (small and large)
// filled with a pattern and check the pattern on every replacement: a page given back while in
// use would read as zeros. The verifier checks every marking.
#include "memory_test.h"

#include <pthread.h>

#define SLOTS 2048

struct object {
  uint64_t seed;
  size_t size;
  unsigned char bytes[];
};

static atomic_int stop;
static atomic_long checked, corrupted;

static unsigned char pattern(uint64_t seed, size_t i) { return (unsigned char)(seed * 31 + i * 7); }

static struct object *make(uint64_t seed, size_t size) {
  struct object *o = shade_malloc(sizeof *o + size);
  if (o == NULL)
    return NULL;
  o->seed = seed;
  o->size = size;
  for (size_t i = 0; i < size; i++)
    o->bytes[i] = pattern(seed, i);
  return o;
}

static void check(const struct object *o) {
  if (o == NULL)
    return;
  atomic_fetch_add(&checked, 1);
  for (size_t i = 0; i < o->size; i += 61)
    if (o->bytes[i] != pattern(o->seed, i)) {
      atomic_fetch_add(&corrupted, 1);
      return;
    }
}

// Under TSan one thread does everything: TSan runs a signal handler only when the thread leaves
// an interceptor, so a registered thread blocked on the collector's mutex (two threads collecting
// at once) never acknowledges the stop signal, and the collection waits for ever.
#if defined(SHADE_SANITIZER_THREAD)
#define ONE_THREAD 1
#else
#define ONE_THREAD 0
#endif

static void *worker(void *arg) {
  uint64_t state = (uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
  struct object **slots = shade_malloc(SLOTS * sizeof *slots);
  for (unsigned long iteration = 1; !atomic_load(&stop); iteration++) {
    if (ONE_THREAD && iteration % 4096 == 0)
      shade_free_os_memory();
    uint64_t r = shade_test_random(&state);
    size_t slot = r % SLOTS;
    size_t size = (r >> 20) % 100 == 0 ? 40000 + (r >> 32) % 200000 : (r >> 24) % 600;
    check(slots[slot]);
    slots[slot] = make(r, size);
  }
  for (size_t i = 0; i < SLOTS; i++)
    check(slots[i]);
  return NULL;
}

static SHADE_TEST_UNUSED void *releaser(void *unused) {
  (void)unused;
  while (!atomic_load(&stop)) {
    shade_free_os_memory();
    sleep_seconds(0.05);
  }
  return NULL;
}

static void *stopper(void *seconds) {
  sleep_seconds(*(double *)seconds);
  atomic_store(&stop, 1);
  return NULL;
}

static void test_pages_in_use_are_never_returned(void) {
  double seconds = 3.0 * (SHADE_TEST_SANITIZED ? 0.5 : 1.0);
  if (ONE_THREAD) {
    pthread_t timer; // not registered: it never touches the heap
    pthread_create(&timer, NULL, stopper, &seconds);
    worker((void *)1);
    pthread_join(timer, NULL);
  } else {
    pthread_t threads[3];
    shade_pthread_create(&threads[0], NULL, worker, (void *)1);
    shade_pthread_create(&threads[1], NULL, worker, (void *)2);
    shade_pthread_create(&threads[2], NULL, releaser, NULL);
    sleep_seconds(seconds);
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++)
      pthread_join(threads[i], NULL);
  }
  struct shade_stats stats;
  shade_get_stats(&stats);
  fprintf(stderr, "  %ld objects checked, %ld corrupted; %llu cycles, %.1f MB returned in %llu "
          "steps\n", atomic_load(&checked), atomic_load(&corrupted),
          (unsigned long long)stats.cycles, stats.total_released / MB,
          (unsigned long long)stats.scavenge_steps);
  SHADE_TEST_EXPECT(atomic_load(&corrupted) == 0);
  SHADE_TEST_EXPECT(atomic_load(&checked) > 1000);
  SHADE_TEST_EXPECT(stats.scavenge_steps > 10);
}

int main(void) {
  shade_init(NULL);
  SHADE_TEST_RUN(test_pages_in_use_are_never_returned);
  return shade_test_finish();
}
