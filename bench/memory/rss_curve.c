// rss_curve.c: the memory-return scenario. A program reads a large file, checksums it and drops
// it, four times: here it allocates a buffer (1 GiB by default), fills it, checksums it, drops it
// and pauses, four times, while a sampler thread records the process's RSS every 100 ms.
//
//   rss_curve_<allocator> [buffer-MiB=1024] [rounds=4] [pause-s=3]
//
// Built three times from this file (bench/allocator.h): shade, malloc (free at the drop), bdwgc.
// stdout: "# ..." comment lines, then one sample per line, "<seconds> <rss MiB>", for gnuplot;
// stderr: one "EVENT <seconds> <what>" per allocation and drop, then one "ROUND" summary line per
// round (RSS before the buffer, peak, 2 s after the drop) and the BENCH line.
// The program never calls anything but allocate and drop: what RSS does after the drop is the
// memory manager's own doing (Shade: idle collection + scavenger; malloc: free -> munmap).
#define _GNU_SOURCE
#include "allocator.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define MAX_SAMPLES 20000
#define MAX_EVENTS 64

static double sample_time[MAX_SAMPLES], sample_rss[MAX_SAMPLES];
static atomic_int sample_count;
static atomic_int stop_sampling;
static struct timespec origin;

static double elapsed(void) { return bench_seconds_since(&origin); }

static double rss_mib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, resident = 0;
  if (f) {
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
      resident = 0;
    fclose(f);
  }
  return (double)resident * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

static void *sampler(void *unused) {
  (void)unused;
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  while (!atomic_load(&stop_sampling)) {
    int n = atomic_load(&sample_count);
    if (n < MAX_SAMPLES) {
      sample_time[n] = elapsed();
      sample_rss[n] = rss_mib();
      atomic_store(&sample_count, n + 1);
    }
    next.tv_nsec += 100000000;
    if (next.tv_nsec >= 1000000000) {
      next.tv_nsec -= 1000000000;
      next.tv_sec++;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {
    }
  }
  return NULL;
}

// A collection's stop signal interrupts nanosleep: keep sleeping until the deadline.
static void pause_seconds(double seconds) {
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  long long ns = until.tv_nsec + (long long)(seconds * 1e9);
  until.tv_sec += ns / 1000000000;
  until.tv_nsec = ns % 1000000000;
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR) {
  }
}

// Allocate, fill ("read the file"), checksum, drop. Out of line so that no copy of the buffer's
// address stays in the caller's frame.
static BENCH_NOINLINE uint64_t read_checksum_drop(size_t bytes) {
  uint64_t *buffer = bench_alloc_atomic(bytes);
  size_t words = bytes / sizeof *buffer;
  for (size_t i = 0; i < words; i++)
    buffer[i] = i * 0x9E3779B97F4A7C15ull;
  uint64_t sum = 0;
  for (size_t i = 0; i < words; i++)
    sum ^= buffer[i] + i;
  bench_free(buffer);
  return sum;
}

static BENCH_NOINLINE void wipe_stack(void) {
  volatile char wipe[32 * 1024];
  memset((char *)wipe, 0, sizeof wipe);
  __asm__ volatile("" : : "r"(wipe) : "memory");
}

static double rss_at(double t) { // the last sample at or before t
  double value = 0;
  int n = atomic_load(&sample_count);
  for (int i = 0; i < n && sample_time[i] <= t; i++)
    value = sample_rss[i];
  return value;
}

static double rss_peak(double from, double to) {
  double peak = 0;
  int n = atomic_load(&sample_count);
  for (int i = 0; i < n; i++)
    if (sample_time[i] >= from && sample_time[i] <= to && sample_rss[i] > peak)
      peak = sample_rss[i];
  return peak;
}

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 1024;
  int rounds = argc > 2 ? atoi(argv[2]) : 4;
  double pause = argc > 3 ? atof(argv[3]) : 3.0;
  bench_start();
  clock_gettime(CLOCK_MONOTONIC, &origin);
  pthread_t thread;
  pthread_create(&thread, NULL, sampler, NULL);
  static double alloc_at[MAX_EVENTS], drop_at[MAX_EVENTS], before[MAX_EVENTS];
  uint64_t checksum = 0;
  pause_seconds(1.0);
  for (int r = 0; r < rounds && r < MAX_EVENTS; r++) {
    before[r] = rss_mib();
    alloc_at[r] = elapsed();
    fprintf(stderr, "EVENT %.3f allocate %zu MiB\n", alloc_at[r], mib);
    checksum ^= read_checksum_drop(mib << 20);
    wipe_stack();
    drop_at[r] = elapsed();
    fprintf(stderr, "EVENT %.3f drop\n", drop_at[r]);
    pause_seconds(pause);
  }
  atomic_store(&stop_sampling, 1);
  pthread_join(thread, NULL);

  printf("# allocator=%s buffer_mib=%zu rounds=%d pause_s=%.1f checksum=%016llx\n",
         BENCH_ALLOCATOR_NAME, mib, rounds, pause, (unsigned long long)checksum);
  for (int r = 0; r < rounds; r++)
    printf("# round %d: allocate at %.3f s, drop at %.3f s\n", r + 1, alloc_at[r], drop_at[r]);
  int n = atomic_load(&sample_count);
  for (int i = 0; i < n; i++)
    printf("%.3f %.1f\n", sample_time[i], sample_rss[i]);
  for (int r = 0; r < rounds; r++) {
    double after = rss_at(drop_at[r] + 2.0), peak = rss_peak(alloc_at[r], drop_at[r] + 0.2);
    double back = -1; // first sample within 10% of the level before the buffer
    for (int i = 0; i < n; i++)
      if (sample_time[i] >= drop_at[r] && sample_rss[i] <= before[r] * 1.1 + 1.0) {
        back = sample_time[i] - drop_at[r];
        break;
      }
    fprintf(stderr, "ROUND %d allocator=%s before_mib=%.1f peak_mib=%.1f after2s_mib=%.1f "
            "back_within_10pct_s=%.1f\n", r + 1, BENCH_ALLOCATOR_NAME, before[r], peak, after,
            back);
  }
  bench_finish(NULL);
  return 0;
}
