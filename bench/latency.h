// latency.h: the latency record of the request/operation workloads (bench/cache.c): a histogram of
// 10 ns buckets up to 1 ms, and the exact durations of slower ones, so that p50/p99/p99.9 and the
// slowest can be read at the end. The same scheme as churn.c's (whose copy stays where it is).
// The record lives in calloc'd memory, outside every collected heap: the collectors do not scan it.
#ifndef BENCH_LATENCY_H
#define BENCH_LATENCY_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { LATENCY_BUCKET_NS = 10, LATENCY_BUCKETS = 100000 }; // 10 ns buckets up to 1 ms
#define LATENCY_SLOW_NS ((uint64_t)LATENCY_BUCKET_NS * LATENCY_BUCKETS)

struct latency {
  uint64_t *histogram; // LATENCY_BUCKETS counts
  uint64_t *slow;      // durations of 1 ms or more, in the order seen; sorted by latency_finish
  uint64_t *slow_end;  // when each of them ended (CLOCK_MONOTONIC ns)
  size_t slow_count, slow_capacity;
  uint64_t total;
};

static inline uint64_t latency_now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static inline void latency_init(struct latency *l) {
  *l = (struct latency){.histogram = calloc(LATENCY_BUCKETS, sizeof(uint64_t))};
  if (l->histogram == NULL) {
    fprintf(stderr, "latency: out of memory for the histogram\n");
    exit(2);
  }
}

static void latency_record_slow(struct latency *l, uint64_t ns, uint64_t end) {
  if (l->slow_count == l->slow_capacity) {
    l->slow_capacity = l->slow_capacity ? 2 * l->slow_capacity : 1024;
    l->slow = realloc(l->slow, l->slow_capacity * sizeof *l->slow);
    l->slow_end = realloc(l->slow_end, l->slow_capacity * sizeof *l->slow_end);
    if (l->slow == NULL || l->slow_end == NULL) {
      fprintf(stderr, "latency: out of memory for the record\n");
      exit(2);
    }
  }
  l->slow_end[l->slow_count] = end;
  l->slow[l->slow_count++] = ns;
}

static inline void latency_record(struct latency *l, uint64_t ns, uint64_t end) {
  l->total++;
  if (ns < LATENCY_SLOW_NS)
    l->histogram[ns / LATENCY_BUCKET_NS]++;
  else
    latency_record_slow(l, ns, end);
}

static int latency_compare(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

// Sorts the slow durations (their end times are no longer paired with them afterwards).
static inline void latency_finish(struct latency *l) {
  qsort(l->slow, l->slow_count, sizeof *l->slow, latency_compare);
}

// The latency at quantile q (after latency_finish); inside the histogram, the bucket's upper edge.
static inline uint64_t latency_quantile(const struct latency *l, double q) {
  if (l->total == 0)
    return 0;
  uint64_t rank = (uint64_t)(q * (double)l->total + 0.999999); // ceil, 1-based
  if (rank < 1)
    rank = 1;
  if (rank > l->total)
    rank = l->total;
  uint64_t seen = 0;
  for (size_t i = 0; i < LATENCY_BUCKETS; i++) {
    seen += l->histogram[i];
    if (seen >= rank)
      return (uint64_t)(i + 1) * LATENCY_BUCKET_NS;
  }
  return l->slow[rank - seen - 1];
}

static inline uint64_t latency_max(const struct latency *l) {
  if (l->slow_count > 0)
    return l->slow[l->slow_count - 1];
  for (size_t i = LATENCY_BUCKETS; i-- > 0;)
    if (l->histogram[i] != 0)
      return (uint64_t)(i + 1) * LATENCY_BUCKET_NS;
  return 0;
}

static inline void latency_free(struct latency *l) {
  free(l->histogram);
  free(l->slow);
  free(l->slow_end);
}

#endif // BENCH_LATENCY_H
