// threads.c: many registered threads building and dropping lists, every pointer store through the
// write barrier in the Shade build: what a collection's pauses cost when there are many more
// threads than CPUs (a stop of every thread waits until each has been scheduled once).
//
//   THREADS_COUNT threads (default 64), each for THREADS_SECONDS seconds (default 5): build a list
//   of THREADS_LENGTH nodes (default 1000) of {next, int64 value} in front of the thread's kept
//   list, keep it as the new head of a short ring of THREADS_KEEP lists (default 8, so a little of
//   each thread's work stays live for a while), drop the oldest, and check the list it replaced
//   (its length and values). A wrong list prints "threads: VERIFY FAILED ..." and exits 1.
//   Every list build is one "operation"; its latency goes into bench/latency.h's record.
//
// stdout: a human-readable summary. stderr: the BENCH line of bench/allocator.h with: threads,
// seconds, ops, ops_per_s, p50_ns, p99_ns, p999_ns, max_ns, verified (lists checked); for Shade also
// mode, concurrent_cycles, handshakes (handshakes_anywhere of them stopped outside a safe point),
// threads_stopped (by world stops), world_stops, assist_naps.
// bench/threads/run.sh parses it.
#if defined(BENCH_SHADE) && !defined(BENCH_BARRIER)
#define BENCH_BARRIER 1
#endif

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BENCH_BDWGC)
#define GC_THREADS 1 // GC_pthread_create registers the threads
#endif
#include "allocator.h"
#include "latency.h"

#if defined(BENCH_BDWGC)
#define bench_thread_create GC_pthread_create
#define bench_thread_join GC_pthread_join
#elif defined(BENCH_SHADE)
#define bench_thread_create shade_pthread_create
#define bench_thread_join pthread_join
#else
#define bench_thread_create pthread_create
#define bench_thread_join pthread_join
#endif

struct node {
  struct node *next;
  int64_t value;
};

enum { KEEP_MAX = 64 };

struct worker {
  pthread_t thread;
  unsigned index;
  uint64_t ops, verified;
  struct latency latency;
  int failed;
};

static unsigned thread_count = 64, keep = 8;
static size_t list_length = 1000;
static double seconds = 5.0;
static _Atomic int go;

static size_t env_size(const char *name, size_t fallback, size_t low, size_t high) {
  const char *v = getenv(name);
  if (v == NULL || *v == '\0')
    return fallback;
  char *end;
  unsigned long long n = strtoull(v, &end, 10);
  if (*end != '\0' || n < low || n > high) {
    fprintf(stderr, "threads: %s=%s: not a number from %zu to %zu\n", name, v, low, high);
    exit(2);
  }
  return (size_t)n;
}

static struct node *build(int64_t tag) {
  struct node *head = NULL;
  for (size_t i = 0; i < list_length; i++) {
    struct node *n = bench_alloc(sizeof *n);
    bench_store(n, n->next, head);
    n->value = tag * (int64_t)list_length + (int64_t)i;
    head = n;
  }
  return head;
}

static int check(const struct node *head, int64_t tag) {
  size_t i = list_length;
  for (; head; head = head->next) {
    if (i == 0 || head->value != tag * (int64_t)list_length + (int64_t)(i - 1))
      return 0;
    i--;
  }
  return i == 0;
}

static void *worker_main(void *argument) {
  struct worker *w = argument;
  // The ring of kept lists: a heap object held by this stack (the worker record is in calloc'd
  // memory, which no collector scans).
  struct node **volatile ring_root = bench_alloc(keep * sizeof(struct node *));
  struct node **ring = ring_root;
  for (unsigned k = 0; k < keep; k++)
    bench_store(ring, ring[k], NULL);
  while (!atomic_load(&go))
    ;
  uint64_t begin = latency_now_ns(), last = begin;
  uint64_t end = begin + (uint64_t)(seconds * 1e9);
  int64_t tags[KEEP_MAX] = {0};
  for (uint64_t op = 0; last < end; op++) {
    unsigned slot = (unsigned)(op % keep);
    int64_t tag = (int64_t)(w->index * 1000003u + op + 1);
    struct node *old = ring[slot];
    if (old != NULL) {
      if (!check(old, tags[slot])) {
        fprintf(stderr, "threads: VERIFY FAILED: thread %u list %" PRId64 " is damaged\n",
                w->index, tags[slot]);
        w->failed = 1;
        break;
      }
      w->verified++;
    }
    bench_store(ring, ring[slot], build(tag));
    tags[slot] = tag;
    uint64_t now = latency_now_ns();
    latency_record(&w->latency, now - last, now);
    last = now;
    w->ops++;
  }
  (void)ring_root;
  return NULL;
}

int main(void) {
  bench_start();
  thread_count = (unsigned)env_size("THREADS_COUNT", 64, 1, 4096);
  list_length = env_size("THREADS_LENGTH", 1000, 1, 10000000);
  keep = (unsigned)env_size("THREADS_KEEP", 8, 1, KEEP_MAX);
  seconds = (double)env_size("THREADS_SECONDS", 5, 1, 3600);
  struct worker *workers = calloc(thread_count, sizeof *workers);
  if (workers == NULL)
    return 2;
  for (unsigned i = 0; i < thread_count; i++) {
    workers[i].index = i;
    latency_init(&workers[i].latency);
    int error = bench_thread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
    if (error != 0) {
      fprintf(stderr, "threads: cannot create thread %u: %s\n", i, strerror(error));
      return 2;
    }
  }
  atomic_store(&go, 1);
  uint64_t ops = 0, verified = 0;
  int failed = 0;
  struct latency all;
  latency_init(&all);
  for (unsigned i = 0; i < thread_count; i++) {
    bench_thread_join(workers[i].thread, NULL);
    struct worker *w = &workers[i];
    ops += w->ops;
    verified += w->verified;
    failed |= w->failed;
    for (size_t b = 0; b < LATENCY_BUCKETS; b++)
      all.histogram[b] += w->latency.histogram[b];
    all.total += w->latency.total - w->latency.slow_count;
    for (size_t s = 0; s < w->latency.slow_count; s++)
      latency_record(&all, w->latency.slow[s], w->latency.slow_end[s]);
  }
  latency_finish(&all);
  uint64_t max_ns = all.slow_count ? all.slow[all.slow_count - 1] : latency_quantile(&all, 1.0);
  double ops_per_s = (double)ops / seconds;
  printf("threads (%s): %u threads, lists of %zu nodes, %u kept each, %.0f s: %" PRIu64
         " lists built (%.0f/s), %" PRIu64 " checked, slowest %.3f ms\n",
         BENCH_ALLOCATOR_NAME, thread_count, list_length, keep, seconds, ops, ops_per_s, verified,
         (double)max_ns / 1e6);
  char extra[768];
  int used = snprintf(extra, sizeof extra,
                      " threads=%u seconds=%.0f ops=%" PRIu64 " ops_per_s=%.1f p50_ns=%" PRIu64
                      " p99_ns=%" PRIu64 " p999_ns=%" PRIu64 " max_ns=%" PRIu64 " verified=%" PRIu64,
                      thread_count, seconds, ops, ops_per_s, latency_quantile(&all, 0.5),
                      latency_quantile(&all, 0.99), latency_quantile(&all, 0.999), max_ns, verified);
#if defined(BENCH_SHADE)
  struct shade_stats stats;
  shade_get_stats(&stats);
  static const char *const modes[] = {"stw", "incremental", "concurrent"};
  snprintf(extra + used, sizeof extra - (size_t)used,
           " mode=%s concurrent_cycles=%llu world_stops=%llu threads_stopped=%llu handshakes=%llu"
           " handshakes_anywhere=%llu handshake_max_ns=%llu"
           " assist_naps=%llu",
           stats.mode >= 1 && stats.mode <= 3 ? modes[stats.mode - 1] : "?",
           (unsigned long long)stats.concurrent_cycles, (unsigned long long)stats.world_stops,
           (unsigned long long)stats.threads_stopped, (unsigned long long)stats.handshakes,
           (unsigned long long)stats.handshakes_anywhere,
           (unsigned long long)stats.handshake_max_ns, (unsigned long long)stats.assist_naps);
#else
  (void)used;
#endif
  bench_finish(extra);
  return failed ? 1 : 0;
}
