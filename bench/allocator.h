// allocator.h: one memory-manager interface for the benchmark workloads, chosen at compile time.
//
// Each workload is one source file built once per memory manager, with exactly one of these defined:
//   BENCH_SHADE    Shade: shade_init(NULL), shade_malloc, shade_malloc_atomic; nothing is freed
//   BENCH_BDWGC    bdwgc as packaged: GC_INIT, GC_MALLOC, GC_MALLOC_ATOMIC; nothing is freed
//   BENCH_MALLOC   glibc malloc/free; the workload frees what it drops (BENCH_FREES_MEMORY is 1)
//   BENCH_MIMALLOC, BENCH_JEMALLOC   malloc/free too, the same code as BENCH_MALLOC, but the program
//                  is linked with Debian's libmimalloc / libjemalloc, whose malloc and free replace
//                  glibc's for the whole process (they export malloc and free themselves: mimalloc's
//                  malloc is an alias of mi_malloc, Debian's jemalloc is built without a prefix so
//                  je_malloc is malloc). bench_start checks that malloc really is the peer's and
//                  exits 2 otherwise, so a link that silently fell back to glibc cannot pass.
// and, optionally, BENCH_BARRIER (meaningful with BENCH_SHADE only): bench_store goes through
// Shade's write barrier (shade_write), and shade_init is told so (options.write_barrier), so that
// SHADE_MODE=incremental or concurrent is obeyed; without it Shade ignores them and runs stw.
//
// The workload calls bench_start() first thing in main and bench_finish() last. bench_finish
// prints one machine-readable line to stderr, which bench/run.sh parses:
//   BENCH allocator=<name> wall_s=<> cpu_s=<user+sys> maxrss_mb=<> [extra fields]
// Extra fields come from the workload (e.g. inprog_ms for GCBench) and from the collector (cycles,
// pause_max_ns, pause_total_ns, sweep_termination_max_ns for Shade; cycles for bdwgc).
//
// Allocation failure is not something a benchmark can recover from: bench_alloc and
// bench_alloc_atomic print a message and exit(2) rather than return NULL.
#ifndef BENCH_ALLOCATOR_H
#define BENCH_ALLOCATOR_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#if (defined(BENCH_SHADE) + defined(BENCH_BDWGC) + defined(BENCH_MALLOC) +                       \
     defined(BENCH_MIMALLOC) + defined(BENCH_JEMALLOC)) != 1
#error "define exactly one of BENCH_SHADE, BENCH_BDWGC, BENCH_MALLOC, BENCH_MIMALLOC, BENCH_JEMALLOC"
#endif

#if defined(BENCH_SHADE)
#include "shade.h"
#define BENCH_ALLOCATOR_NAME "shade"
#define BENCH_FREES_MEMORY 0
#if defined(BENCH_BARRIER) // every pointer store goes through shade_write: SHADE_MODE may choose
#define bench_collector_init() ((void)shade_init(&(struct shade_options){.write_barrier = 1}))
#else
#define bench_collector_init() ((void)shade_init(NULL))
#endif
#define bench_raw_alloc(size) shade_malloc(size)
#define bench_raw_alloc_atomic(size) shade_malloc_atomic(size)
#define bench_free(p) ((void)(p))

#elif defined(BENCH_BDWGC)
#include <gc.h>
#define BENCH_ALLOCATOR_NAME "bdwgc"
#define BENCH_FREES_MEMORY 0
// GC_INIT is a macro that must run in main (it records the stack bottom), so bench_start is a macro.
#define bench_collector_init() GC_INIT()
#define bench_raw_alloc(size) GC_MALLOC(size)
#define bench_raw_alloc_atomic(size) GC_MALLOC_ATOMIC(size)
#define bench_free(p) ((void)(p))

#elif defined(BENCH_MIMALLOC)
#include <mimalloc.h>
#define BENCH_ALLOCATOR_NAME "mimalloc"
#define BENCH_FREES_MEMORY 1
// malloc must be mimalloc's: a block from malloc lies in mimalloc's heap.
static inline void bench_check_malloc_is_peer(void) {
  void *p = malloc(64);
  int ours = p != NULL && mi_is_in_heap_region(p);
  free(p);
  if (!ours) {
    fprintf(stderr, "bench (mimalloc): malloc is not mimalloc's (link order?)\n");
    exit(2);
  }
}
#define bench_collector_init() bench_check_malloc_is_peer()
#define bench_raw_alloc(size) malloc(size)
#define bench_raw_alloc_atomic(size) malloc(size)
#define bench_free(p) free(p)

#elif defined(BENCH_JEMALLOC)
#include <jemalloc/jemalloc.h>
#define BENCH_ALLOCATOR_NAME "jemalloc"
#define BENCH_FREES_MEMORY 1
// malloc must be jemalloc's: jemalloc's count of this thread's allocated bytes grows with it.
static inline void bench_check_malloc_is_peer(void) {
  uint64_t before = 0, after = 0;
  size_t length = sizeof before;
  int failed = mallctl("thread.allocated", &before, &length, NULL, 0);
  void *volatile p = malloc(4096);
  length = sizeof after;
  failed |= mallctl("thread.allocated", &after, &length, NULL, 0);
  free(p);
  if (failed || after < before + 4096) {
    fprintf(stderr, "bench (jemalloc): malloc is not jemalloc's (link order?)\n");
    exit(2);
  }
}
#define bench_collector_init() bench_check_malloc_is_peer()
#define bench_raw_alloc(size) malloc(size)
#define bench_raw_alloc_atomic(size) malloc(size)
#define bench_free(p) free(p)

#else // BENCH_MALLOC
#define BENCH_ALLOCATOR_NAME "malloc"
#define BENCH_FREES_MEMORY 1
#define bench_collector_init() ((void)0)
#define bench_raw_alloc(size) malloc(size)
#define bench_raw_alloc_atomic(size) malloc(size)
#define bench_free(p) free(p)
#endif

// A pointer store into a heap object: `bench_store(object, object->field, value)`. With
// BENCH_BARRIER (Shade builds only) it goes through Shade's write barrier, shade_write, as the
// incremental and concurrent modes require of every pointer store into the heap (initialising
// stores into fresh objects included); otherwise it is the plain store.
#if defined(BENCH_SHADE) && defined(BENCH_BARRIER)
#define bench_store(object, lvalue, value)                                                         \
  shade_write((object), (void **)&(lvalue), (void *)(value))
#else
#define bench_store(object, lvalue, value) ((void)(object), (lvalue) = (value))
#endif

#if defined(__GNUC__)
#define BENCH_UNLIKELY(cond) __builtin_expect(!!(cond), 0)
#define BENCH_NOINLINE __attribute__((noinline))
#else
#define BENCH_UNLIKELY(cond) (cond)
#define BENCH_NOINLINE
#endif

static struct timespec bench_start_time;

static inline double bench_seconds_since(const struct timespec *start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) * 1e-9;
}

// Start the wall clock, then bring up the memory manager (its start-up is part of the cost).
#define bench_start()                                                                              \
  do {                                                                                             \
    clock_gettime(CLOCK_MONOTONIC, &bench_start_time);                                             \
    bench_collector_init();                                                                        \
  } while (0)

static BENCH_NOINLINE void bench_out_of_memory(const char *call, size_t size) {
  fprintf(stderr, "bench (%s): %s(%zu) returned NULL\n", BENCH_ALLOCATOR_NAME, call, size);
  exit(2);
}

// Zeroing is not promised: the workloads initialise every field (malloc does not zero).
static inline void *bench_alloc(size_t size) {
  void *p = bench_raw_alloc(size);
  if (BENCH_UNLIKELY(p == NULL))
    bench_out_of_memory("alloc", size);
  return p;
}

// Memory that will never hold pointers (arrays of numbers): not scanned by the collectors.
static inline void *bench_alloc_atomic(size_t size) {
  void *p = bench_raw_alloc_atomic(size);
  if (BENCH_UNLIKELY(p == NULL))
    bench_out_of_memory("alloc_atomic", size);
  return p;
}

// Print the BENCH line. extra_fields is NULL or a string of " key=value" pairs from the workload.
static inline void bench_finish(const char *extra_fields) {
  double wall_s = bench_seconds_since(&bench_start_time);
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  double cpu_s = (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec * 1e-6 +
                 (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec * 1e-6;
  double maxrss_mb = (double)usage.ru_maxrss / 1024.0; // ru_maxrss is in KiB on Linux

  char collector_fields[256] = "";
#if defined(BENCH_SHADE)
  struct shade_stats stats;
  shade_get_stats(&stats);
  snprintf(collector_fields, sizeof collector_fields,
           " cycles=%llu pause_max_ns=%llu pause_total_ns=%llu markers=%llu"
           " sweep_termination_max_ns=%llu",
           (unsigned long long)stats.cycles, (unsigned long long)stats.pause_max_ns,
           (unsigned long long)stats.pause_total_ns, (unsigned long long)stats.markers,
           (unsigned long long)stats.sweep_termination_max_ns);
#elif defined(BENCH_BDWGC)
  snprintf(collector_fields, sizeof collector_fields, " cycles=%llu heap_mb=%.1f",
           (unsigned long long)GC_get_gc_no(), (double)GC_get_heap_size() / (1024.0 * 1024.0));
#endif

  fflush(stdout);
  fprintf(stderr, "BENCH allocator=%s wall_s=%.3f cpu_s=%.3f maxrss_mb=%.1f%s%s\n",
          BENCH_ALLOCATOR_NAME, wall_s, cpu_s, maxrss_mb, extra_fields ? extra_fields : "",
          collector_fields);
}

#endif // BENCH_ALLOCATOR_H
