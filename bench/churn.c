// churn.c: the "churn" workload of /work/shared/workloads/README.md: a large live heap replaced a
// little at a time, measuring the latency of every operation (what a collector's pauses, assists
// and barriers do to a program that must answer promptly).
//
//   1. build a table of CHURN_SLOTS slots (default 1,000,000), each holding a complete binary tree
//      of depth 3: 15 nodes of {left, right, int64 key, int64 val}, 32 bytes, so 15 M objects and
//      480 MB nominal live;
//   2. for CHURN_SECONDS seconds (default 10): pick a slot with xorshift32 and replace its tree with
//      a new one (BENCH_MALLOC frees the old tree; the collected builds drop it). An operation's
//      time is the difference of consecutive CLOCK_MONOTONIC readings, so every pause, assist or
//      barrier slow path lands in some operation; they go into a histogram of 10 ns buckets up to
//      1 ms, and slower operations are recorded exactly;
//   3. verify every tree: 15 nodes, keys slot * 15 + preorder index, one val (the number of the
//      operation that built it, 0 for the initial build) in all nodes. A wrong tree prints
//      "churn: VERIFY FAILED ..." and exits 1 (a collector freed a live node, or a barrier lost one).
//
// In the Shade build (BENCH_BARRIER is set) every pointer store into a Shade object goes through the
// write barrier, shade_write, the initialising stores into fresh nodes included; the table itself
// is a Shade object, allocated with shade_malloc and written through the barrier too, and
// shade_init is told so (options.write_barrier, bench/allocator.h). So the same binary runs in any
// SHADE_MODE (stw, incremental, concurrent).
//
// stdout: a human-readable summary. stderr: the BENCH line of bench/allocator.h with these extra
// fields: slots, seconds (the timed phase), build_s, ops, ops_per_s, p50_ns, p99_ns, p999_ns,
// max_ns, over_1ms (operations slower than 1 ms), verified (trees checked); for Shade also mode,
// concurrent_cycles, mark_assist_ns, mark_worker_ns, concurrent_mark_ns, heap_peak_mb. Percentiles
// inside the histogram are the upper edge of their 10 ns bucket. bench/churn/run.sh parses it.
// slowest_nivcsw, slowest_nvcsw, slowest_minflt, slowest_sys_ms, slowest_runq_ms,
// slowest_steal_ms, slowest_others_cpu_ms, slowest_window_ms: the host around the slowest
// operation (host_note_slow below), so that a delay of the machine can be told from one of the
// collector; cpus: CPUs online.
// CHURN_SLOW_LOG_MS=x prints every operation of x ms or more (x >= 1) with the time it ended since
// start, to line up with SHADE_TRACE=gc's "@1.234s".
#define _GNU_SOURCE // RUSAGE_THREAD
#if defined(BENCH_SHADE) && !defined(BENCH_BARRIER)
#define BENCH_BARRIER 1
#endif

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "allocator.h"

struct node {
  struct node *left;
  struct node *right;
  int64_t key;
  int64_t val;
};

enum {
  TREE_DEPTH = 3,
  TREE_NODES = 15, // 2^(TREE_DEPTH+1) - 1
  BUCKET_NS = 10,
  BUCKETS = 100000, // 10 ns buckets up to 1 ms
};
#define SLOW_NS ((uint64_t)BUCKET_NS * BUCKETS)

_Static_assert(sizeof(struct node) == 32, "a churn node is 32 bytes");

// Builds a complete tree of the given depth; keys are base + preorder index, *next the next index.
static struct node *build_tree(unsigned depth, int64_t base, int64_t *next, int64_t val) {
  struct node *n = bench_alloc(sizeof *n);
  n->key = base + (*next)++;
  n->val = val;
  if (depth > 0) {
    bench_store(n, n->left, build_tree(depth - 1, base, next, val));
    bench_store(n, n->right, build_tree(depth - 1, base, next, val));
  } else {
    bench_store(n, n->left, NULL);
    bench_store(n, n->right, NULL);
  }
  return n;
}

static struct node *new_tree(size_t slot, int64_t val) {
  int64_t next = 0;
  return build_tree(TREE_DEPTH, (int64_t)slot * TREE_NODES, &next, val);
}

#if BENCH_FREES_MEMORY
static void delete_tree(struct node *tree) {
  if (tree->left != NULL) {
    delete_tree(tree->left);
    delete_tree(tree->right);
  }
  bench_free(tree);
}
#else
#define delete_tree(tree) ((void)(tree)) // the collector reclaims it
#endif

// Checks one tree; returns NULL if right, else what is wrong. *index counts the nodes in preorder.
static const char *check_tree(const struct node *n, unsigned depth, int64_t base, int64_t val,
                              int64_t *index) {
  if (n == NULL)
    return "missing node";
  if (*index >= TREE_NODES)
    return "more than 15 nodes";
  if (n->key != base + *index)
    return "wrong key";
  if (n->val != val)
    return "nodes of different generations in one tree";
  (*index)++;
  if (depth == 0)
    return (n->left == NULL && n->right == NULL) ? NULL : "leaf with children";
  const char *why = check_tree(n->left, depth - 1, base, val, index);
  return why ? why : check_tree(n->right, depth - 1, base, val, index);
}

static uint32_t xorshift32(uint32_t *state) {
  uint32_t x = *state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *state = x;
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static double env_number(const char *name, double fallback, double min, double max) {
  const char *text = getenv(name);
  if (text == NULL || *text == '\0')
    return fallback;
  char *end;
  errno = 0;
  double value = strtod(text, &end);
  if (errno != 0 || *end != '\0' || !(value >= min && value <= max)) {
    fprintf(stderr, "churn: %s=%s: expected a number in [%g, %g]\n", name, text, min, max);
    exit(2);
  }
  return value;
}

// Latencies: operations under 1 ms in the histogram, the others in growing arrays (duration, and
// when the operation ended, for CHURN_SLOW_LOG_MS).
static uint64_t *histogram;
static uint64_t *slow_ops, *slow_ends;
static size_t slow_count, slow_capacity;

static void record(uint64_t ns, uint64_t end) {
  if (ns < SLOW_NS) {
    histogram[ns / BUCKET_NS]++;
    return;
  }
  if (slow_count == slow_capacity) {
    slow_capacity = slow_capacity ? 2 * slow_capacity : 1024;
    slow_ops = realloc(slow_ops, slow_capacity * sizeof *slow_ops);
    slow_ends = realloc(slow_ends, slow_capacity * sizeof *slow_ends);
    if (slow_ops == NULL || slow_ends == NULL) {
      fprintf(stderr, "churn: out of memory for the latency record\n");
      exit(2);
    }
  }
  slow_ends[slow_count] = end;
  slow_ops[slow_count++] = ns;
}

// The host around the slowest operation: this thread's involuntary context switches (taken off
// its CPU), voluntary ones (it waited: a lock, a sleep), minor page faults and system time
// (getrusage RUSAGE_THREAD; the kernel splits a thread's time into user and system by its 4 ms
// ticks, so a few milliseconds of it are rough) and the time it spent runnable but waiting for
// a CPU (the second number of /proc/thread-self/schedstat), sampled every 256 operations; and,
// every 4096 operations, the machine's steal time (/proc/stat: a hypervisor that ran something
// else on our vCPUs; in 10 ms ticks) and the CPU time of this process's other threads (the
// process's CPU clock less this thread's: the collector's). When an operation of 1 ms or more
// becomes the slowest, they are sampled again: the differences cover that operation and the
// operations before it since the last sample (host_window_ns says how long the longer window
// was). A slow operation that is mostly run-queue wait, while the other threads used at most the
// CPUs this one was not on (CPUs - 1 for the window), was delayed by the scheduler or the host,
// not by the collector's work: on this project's VM, DAMON's kdamond (2-5 ms every 500 ms) or the
// kernel leaving a CPU idle while two threads shared the other. One that is mostly system time
// with page faults was spent in the kernel's fault path (first touches of heap memory, at the
// speed the kernel and the hypervisor give them); one covered by steal time, in the hypervisor.
struct host_sample {
  uint64_t at_ns, nivcsw, nvcsw, minflt, sys_ns, runq_ns, steal_ticks, others_cpu_ns;
};
static struct host_sample host_last_switches, host_last_steal;
static uint64_t host_slowest_ns, host_nivcsw, host_nvcsw, host_minflt, host_sys_ns,
    host_runq_ns, host_steal_ticks, host_others_cpu_ns, host_window_ns;
static int host_stat_fd = -1, host_schedstat_fd = -1;

static uint64_t cpu_clock_ns(clockid_t clock) {
  struct timespec ts;
  if (clock_gettime(clock, &ts) != 0)
    return 0;
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

// The start of a /proc file kept open (fd), read again from its start; false if it cannot be.
static bool host_read(int fd, char *text, size_t size) {
  if (fd < 0)
    return false;
  ssize_t n = pread(fd, text, size - 1, 0);
  if (n <= 0)
    return false;
  text[n] = '\0';
  return true;
}

static uint64_t host_runq_wait(void) { // nanoseconds this thread has waited on a run queue
  char text[128];
  unsigned long long run = 0, wait = 0;
  if (!host_read(host_schedstat_fd, text, sizeof text))
    return 0;
  return sscanf(text, "%llu %llu", &run, &wait) == 2 ? wait : 0;
}

static struct host_sample host_thread(uint64_t now) {
  struct rusage usage;
  if (getrusage(RUSAGE_THREAD, &usage) != 0)
    return (struct host_sample){.at_ns = now};
  return (struct host_sample){.at_ns = now,
                              .nivcsw = (uint64_t)usage.ru_nivcsw,
                              .nvcsw = (uint64_t)usage.ru_nvcsw,
                              .minflt = (uint64_t)usage.ru_minflt,
                              .sys_ns = (uint64_t)usage.ru_stime.tv_sec * 1000000000u +
                                        (uint64_t)usage.ru_stime.tv_usec * 1000u,
                              .runq_ns = host_runq_wait()};
}

static uint64_t host_steal(void) { // the "cpu" line's 8th number, in USER_HZ ticks
  char text[512];
  if (!host_read(host_stat_fd, text, sizeof text))
    return 0;
  unsigned long long v[8] = {0};
  if (sscanf(text, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
             &v[4], &v[5], &v[6], &v[7]) != 8)
    return 0;
  return v[7];
}

static struct host_sample host_machine(uint64_t now) {
  uint64_t thread = cpu_clock_ns(CLOCK_THREAD_CPUTIME_ID); // first: the difference only errs up
  uint64_t process = cpu_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
  return (struct host_sample){
      .at_ns = now, .steal_ticks = host_steal(), .others_cpu_ns = process - thread};
}

static void host_open(uint64_t now) {
  host_stat_fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);
  host_schedstat_fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
  host_last_switches = host_thread(now);
  host_last_steal = host_machine(now);
}

static void host_sample(uint64_t ops, uint64_t now) {
  if (ops % 256 == 0)
    host_last_switches = host_thread(now);
  if (ops % 4096 == 0)
    host_last_steal = host_machine(now);
}

static void host_note_slow(uint64_t ns, uint64_t now) {
  if (ns < SLOW_NS || ns <= host_slowest_ns)
    return;
  host_slowest_ns = ns;
  struct host_sample thread = host_thread(now), machine = host_machine(now);
  host_nivcsw = thread.nivcsw - host_last_switches.nivcsw;
  host_nvcsw = thread.nvcsw - host_last_switches.nvcsw;
  host_minflt = thread.minflt - host_last_switches.minflt;
  host_sys_ns = thread.sys_ns > host_last_switches.sys_ns
                    ? thread.sys_ns - host_last_switches.sys_ns
                    : 0; // (the user/system split is estimated afresh at every reading)
  host_runq_ns = thread.runq_ns - host_last_switches.runq_ns;
  host_steal_ticks = machine.steal_ticks - host_last_steal.steal_ticks;
  host_others_cpu_ns = machine.others_cpu_ns > host_last_steal.others_cpu_ns
                           ? machine.others_cpu_ns - host_last_steal.others_cpu_ns
                           : 0; // (two clocks read one after the other: off by nanoseconds)
  host_window_ns = now - host_last_steal.at_ns;
}

static int compare_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

// The latency at quantile q of total operations (slow_ops must be sorted).
static uint64_t quantile(double q, uint64_t total) {
  if (total == 0)
    return 0;
  uint64_t rank = (uint64_t)(q * (double)total + 0.999999); // ceil, 1-based
  if (rank < 1)
    rank = 1;
  if (rank > total)
    rank = total;
  uint64_t seen = 0;
  for (size_t i = 0; i < BUCKETS; i++) {
    seen += histogram[i];
    if (seen >= rank)
      return (uint64_t)(i + 1) * BUCKET_NS;
  }
  return slow_ops[rank - seen - 1];
}

int main(void) {
  bench_start();

  size_t slots = (size_t)env_number("CHURN_SLOTS", 1000000, 1, 100000000);
  double seconds = env_number("CHURN_SECONDS", 10, 0.001, 86400);
  double slow_log_ms = env_number("CHURN_SLOW_LOG_MS", 0, 0, 1e9);

  // Not in the collected heap and not in bss: the collectors do not scan these numbers.
  histogram = calloc(BUCKETS, sizeof *histogram);
  if (histogram == NULL) {
    fprintf(stderr, "churn: out of memory for the histogram\n");
    return 2;
  }

  // The table: a heap object of the allocator under test, every store into it through bench_store.
  uint64_t build_start = now_ns();
  struct node **table = bench_alloc(slots * sizeof *table);
  for (size_t i = 0; i < slots; i++)
    bench_store(table, table[i], new_tree(i, 0));
  double build_s = (double)(now_ns() - build_start) * 1e-9;

  uint32_t rng = 2463534242u; // Marsaglia's seed
  uint64_t ops = 0;
  uint64_t start = now_ns();
  uint64_t end = start + (uint64_t)(seconds * 1e9);
  uint64_t previous = start, now = start;
  host_open(start);
  do {
    size_t slot = xorshift32(&rng) % slots;
    struct node *tree = new_tree(slot, (int64_t)++ops);
#if BENCH_FREES_MEMORY
    struct node *old = table[slot];
    bench_store(table, table[slot], tree);
    delete_tree(old);
#else
    bench_store(table, table[slot], tree);
#endif
    now = now_ns();
    record(now - previous, now);
    host_note_slow(now - previous, now);
    host_sample(ops, now);
    previous = now;
  } while (now < end);
  double elapsed_s = (double)(now - start) * 1e-9;

  // Verify every tree.
  size_t verified = 0;
  for (size_t i = 0; i < slots; i++) {
    const struct node *tree = table[i];
    int64_t index = 0;
    const char *why = tree ? NULL : "empty slot";
    if (why == NULL) {
      int64_t val = tree->val;
      if (val < 0 || (uint64_t)val > ops)
        why = "impossible generation";
      else if ((why = check_tree(tree, TREE_DEPTH, (int64_t)i * TREE_NODES, val, &index)) ==
                   NULL &&
               index != TREE_NODES)
        why = "wrong node count";
    }
    if (why != NULL) {
      fflush(stdout);
      fprintf(stderr,
              "churn: VERIFY FAILED (%s): slot %zu: %s (root %p, key %" PRId64 ", val %" PRId64
              ", %" PRId64 " nodes checked)\n",
              BENCH_ALLOCATOR_NAME, i, why, (const void *)tree, tree ? tree->key : -1,
              tree ? tree->val : -1, index);
      return 1;
    }
    verified++;
  }

  // CHURN_SLOW_LOG_MS=x: every operation of at least x ms (and at least 1 ms), with the time it
  // ended since the program started (compare with the @time of SHADE_TRACE=gc lines).
  if (slow_log_ms > 0) {
    uint64_t program_start = (uint64_t)bench_start_time.tv_sec * 1000000000u +
                             (uint64_t)bench_start_time.tv_nsec;
    for (size_t i = 0; i < slow_count; i++)
      if ((double)slow_ops[i] >= slow_log_ms * 1e6)
        fprintf(stderr, "churn: slow op ended @%.3fs: %.3f ms\n",
                (double)(slow_ends[i] - program_start) * 1e-9, (double)slow_ops[i] / 1e6);
  }
  qsort(slow_ops, slow_count, sizeof *slow_ops, compare_u64);
  uint64_t p50 = quantile(0.50, ops), p99 = quantile(0.99, ops), p999 = quantile(0.999, ops);
  uint64_t max_ns = 0;
  if (slow_count > 0) {
    max_ns = slow_ops[slow_count - 1];
  } else {
    for (size_t i = BUCKETS; i-- > 0;)
      if (histogram[i] != 0) {
        max_ns = (uint64_t)(i + 1) * BUCKET_NS;
        break;
      }
  }
  double ops_per_s = (double)ops / elapsed_s;

  printf("churn (%s): %zu slots of %d-node trees, built in %.2f s\n", BENCH_ALLOCATOR_NAME, slots,
         TREE_NODES, build_s);
  printf("  %" PRIu64 " replacements in %.2f s: %.0f ops/s\n", ops, elapsed_s, ops_per_s);
  printf("  latency: p50 %.2f us, p99 %.2f us, p99.9 %.2f us, slowest %.3f ms, %zu over 1 ms\n",
         (double)p50 / 1e3, (double)p99 / 1e3, (double)p999 / 1e3, (double)max_ns / 1e6,
         slow_count);
  long ticks = sysconf(_SC_CLK_TCK);
  double steal_ms = ticks > 0 ? (double)host_steal_ticks * 1e3 / (double)ticks : 0.0;
  if (host_slowest_ns)
    printf("  host around the slowest operation (%.3f ms, in a window of %.1f ms): %" PRIu64
           " involuntary and %" PRIu64 " voluntary context switches, %" PRIu64
           " minor page faults, %.1f ms of system time and %.3f ms waiting for a CPU of this"
           " thread, %.1f ms of steal time (all CPUs), %.1f ms of CPU used by the process's other"
           " threads\n",
           (double)host_slowest_ns / 1e6, (double)host_window_ns / 1e6, host_nivcsw, host_nvcsw,
           host_minflt, (double)host_sys_ns / 1e6, (double)host_runq_ns / 1e6, steal_ms,
           (double)host_others_cpu_ns / 1e6);
  printf("  verified %zu trees\n", verified);

  char extra[1024];
  int length = snprintf(extra, sizeof extra,
                        " slots=%zu seconds=%.3f build_s=%.3f ops=%" PRIu64 " ops_per_s=%.0f"
                        " p50_ns=%" PRIu64 " p99_ns=%" PRIu64 " p999_ns=%" PRIu64
                        " max_ns=%" PRIu64 " over_1ms=%zu verified=%zu slowest_nivcsw=%" PRIu64
                        " slowest_nvcsw=%" PRIu64 " slowest_minflt=%" PRIu64
                        " slowest_sys_ms=%.1f slowest_runq_ms=%.3f slowest_steal_ms=%.1f"
                        " slowest_others_cpu_ms=%.1f"
                        " slowest_window_ms=%.1f cpus=%ld",
                        slots, elapsed_s, build_s, ops, ops_per_s, p50, p99, p999, max_ns,
                        slow_count, verified, host_nivcsw, host_nvcsw, host_minflt,
                        (double)host_sys_ns / 1e6, (double)host_runq_ns / 1e6, steal_ms,
                        (double)host_others_cpu_ns / 1e6,
                        (double)host_window_ns / 1e6, sysconf(_SC_NPROCESSORS_ONLN));
#if defined(BENCH_SHADE)
  struct shade_stats stats;
  shade_get_stats(&stats);
  static const char *const mode_names[] = {"default", "stw", "incremental", "concurrent"};
  const char *mode = (stats.mode >= 0 && stats.mode <= 3) ? mode_names[stats.mode] : "unknown";
  printf("  shade: mode %s, longest stop-the-world pause %.3f ms, %" PRIu64 " cycles (%" PRIu64
         " concurrent), assists %.1f ms, workers %.1f ms\n",
         mode, (double)stats.pause_max_ns / 1e6, (uint64_t)stats.cycles,
         (uint64_t)stats.concurrent_cycles, (double)stats.mark_assist_ns / 1e6,
         (double)stats.mark_worker_ns / 1e6);
  if (length > 0 && (size_t)length < sizeof extra)
    snprintf(extra + length, sizeof extra - (size_t)length,
             " mode=%s concurrent_cycles=%" PRIu64 " mark_assist_ns=%" PRIu64
             " mark_worker_ns=%" PRIu64 " concurrent_mark_ns=%" PRIu64 " heap_peak_mb=%.1f",
             mode, (uint64_t)stats.concurrent_cycles, (uint64_t)stats.mark_assist_ns,
             (uint64_t)stats.mark_worker_ns, (uint64_t)stats.concurrent_mark_ns,
             (double)stats.heap_committed_peak / (1024.0 * 1024.0));
#else
  (void)length;
#endif

#if BENCH_FREES_MEMORY
  for (size_t i = 0; i < slots; i++)
    delete_tree(table[i]);
  bench_free(table);
#endif
  free(histogram);
  free(slow_ops);
  free(slow_ends);
  bench_finish(extra);
  return 0;
}
