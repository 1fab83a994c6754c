// demo.c: Shade at work on a small server-like workload.
//
// Four worker threads (created with shade_pthread_create, so Shade scans their stacks) each
// handle "requests": a request parses a document into a tree of nodes with string keys and values
// (all garbage after the request), and replaces a random entry of the worker's session table (the
// live heap). Nothing is ever freed by hand. The trace prints one line per collection; at the end
// the demo checks every session (each carries a checksum) and prints a summary.
//
// The workload runs twice, each time in a child process (the collector's policy is chosen at
// start-up): once with every collection full, once with generations (SHADE_GENERATIONAL=on, on
// kernels that can track the heap's writes), and the demo ends with the two side by side.
// `shade_demo --one` runs the workload once, as the environment says.
#define _GNU_SOURCE
#include <shade.h>

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 4
#define SESSIONS_PER_WORKER 20000
#define REQUESTS_PER_WORKER 250000

struct node {
  const char *key;
  char *value;
  struct node *first_child, *next_sibling;
};

struct session {
  uint64_t id;
  struct node *profile; // a small tree kept alive by the table
  char *name;
  uint64_t checksum;
};

static uint64_t xorshift(uint64_t *state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *state = x;
}

static struct node *new_node(const char *key, uint64_t value) {
  struct node *n = shade_malloc(sizeof *n);
  char text[32];
  snprintf(text, sizeof text, "%" PRIu64, value);
  n->key = key;
  n->value = shade_strdup(text);
  return n;
}

// A document of `fields` leaves under one root: the "parsed request".
static struct node *parse_document(uint64_t *rng, int fields) {
  struct node *root = new_node("request", xorshift(rng) % 1000);
  for (int i = 0; i < fields; i++) {
    struct node *child = new_node("field", xorshift(rng) % 100000);
    child->next_sibling = root->first_child;
    root->first_child = child;
  }
  return root;
}

static uint64_t tree_checksum(const struct node *n) {
  uint64_t sum = 0;
  for (; n; n = n->next_sibling)
    sum = sum * 31 + strtoull(n->value, NULL, 10) + tree_checksum(n->first_child);
  return sum;
}

static struct session *new_session(uint64_t *rng, uint64_t id) {
  struct session *s = shade_malloc(sizeof *s);
  char name[48];
  snprintf(name, sizeof name, "user-%" PRIu64, id);
  s->id = id;
  s->name = shade_strdup(name);
  s->profile = parse_document(rng, 6);
  s->checksum = tree_checksum(s->profile) ^ id;
  return s;
}

struct worker {
  int index;
  uint64_t requests, bad_sessions;
};

static atomic_int workers_done;

static void *worker_main(void *argument) {
  struct worker *w = argument;
  uint64_t rng = 0x9E3779B97F4A7C15ull * (uint64_t)(w->index + 1);
  struct session **table = shade_malloc(SESSIONS_PER_WORKER * sizeof *table);
  for (uint64_t i = 0; i < SESSIONS_PER_WORKER; i++)
    table[i] = new_session(&rng, i);
  uint64_t next_id = SESSIONS_PER_WORKER;
  for (int r = 0; r < REQUESTS_PER_WORKER; r++) {
    struct node *request = parse_document(&rng, 4 + (int)(xorshift(&rng) % 12));
    if (tree_checksum(request) == 0)
      w->bad_sessions += 0; // the request is read, then dropped: garbage
    table[xorshift(&rng) % SESSIONS_PER_WORKER] = new_session(&rng, next_id++);
    w->requests++;
  }
  for (uint64_t i = 0; i < SESSIONS_PER_WORKER; i++) {
    struct session *s = table[i];
    if ((tree_checksum(s->profile) ^ s->id) != s->checksum)
      w->bad_sessions++;
  }
  atomic_fetch_add(&workers_done, 1);
  return NULL;
}

static double seconds_since(const struct timespec *start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

// What one run reports to the parent, through a pipe.
struct run_result {
  double seconds, cpu_seconds, pause_total_ms, pause_max_ms, peak_heap_mb, peak_live_mb;
  uint64_t requests, young, full, bad, generational;
};

static double cpu_seconds(void) {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
         (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
}

static int run_once(int result_fd) {
  struct shade_options options = {.trace = 1};
  if (shade_init(&options) != 0) {
    fprintf(stderr, "demo: shade_init failed\n");
    return 1;
  }
  printf("Shade demo: %d threads, each with %d live sessions, %d requests of garbage each.\n"
         "Trace: gc N @time %%gc [gen2:] sweep-term+mark+mark-term ms clock, heap "
         "before->after->live, goal, mapped, threads, markers\n"
         "Young collections (generations): gc N @time gen0 or gen1: the same times, heap in use "
         "before->after, promoted, remembered (written pages and cards scanned), budgets, goal\n\n",
         WORKERS, SESSIONS_PER_WORKER, REQUESTS_PER_WORKER);
  fflush(stdout);
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  pthread_t threads[WORKERS];
  struct worker workers[WORKERS];
  for (int i = 0; i < WORKERS; i++) {
    workers[i] = (struct worker){.index = i};
    if (shade_pthread_create(&threads[i], NULL, worker_main, &workers[i]) != 0) {
      fprintf(stderr, "demo: cannot create a thread\n");
      return 1;
    }
  }
  // While the workers run, note the largest live heap a collection found: the heap the program
  // really needs, to compare the peak heap with.
  uint64_t peak_live = 0;
  while (atomic_load(&workers_done) < WORKERS) {
    struct shade_stats sample;
    shade_get_stats(&sample);
    if (sample.heap_live > peak_live)
      peak_live = sample.heap_live;
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
  uint64_t requests = 0, bad = 0;
  for (int i = 0; i < WORKERS; i++) {
    pthread_join(threads[i], NULL);
    requests += workers[i].requests;
    bad += workers[i].bad_sessions;
  }
  double elapsed = seconds_since(&start);
  struct shade_stats stats;
  shade_get_stats(&stats);
  const double mb = 1048576.0;
  printf("\nSummary\n"
         "  requests handled       %" PRIu64 " in %.2f s (%.0f per second)\n"
         "  sessions corrupted     %" PRIu64 " (every live session verified)\n"
         "  collections            %" PRIu64 "\n"
         "  pause total / max      %.1f ms / %.2f ms (mean %.2f ms)\n"
         "  allocated in total     %.1f MB\n"
         "  live heap, peak        %.1f MB (last cycle: %.1f MB)\n"
         "  heap goal              %.1f MB\n"
         "  heap pages, peak       %.1f MB (peak heap / live heap = %.2f)\n"
         "  address space mapped   %.1f MB\n"
         "  marking threads        %" PRIu64 "\n",
         requests, elapsed, (double)requests / elapsed, bad, stats.cycles,
         (double)stats.pause_total_ns / 1e6, (double)stats.pause_max_ns / 1e6,
         stats.cycles ? (double)stats.pause_total_ns / 1e6 / (double)stats.cycles : 0.0,
         (double)stats.total_allocated / mb, (double)peak_live / mb, (double)stats.heap_live / mb,
         (double)stats.heap_goal / mb, (double)stats.heap_committed_peak / mb,
         peak_live ? (double)stats.heap_committed_peak / (double)peak_live : 0.0,
         (double)stats.heap_mapped / mb, stats.markers);
  if (result_fd >= 0) {
    struct run_result r = {
        .seconds = elapsed, .cpu_seconds = cpu_seconds(),
        .pause_total_ms = (double)stats.pause_total_ns / 1e6,
        .pause_max_ms = (double)stats.pause_max_ns / 1e6,
        .peak_heap_mb = (double)stats.heap_committed_peak / mb, .peak_live_mb = (double)peak_live / mb,
        .requests = requests, .young = stats.collections[0] - stats.collections[2],
        .full = stats.collections[2], .bad = bad, .generational = (uint64_t)stats.generational};
    if (write(result_fd, &r, sizeof r) != (ssize_t)sizeof r)
      perror("demo: write");
  }
  return bad == 0 ? 0 : 1;
}

// Runs this program again with --one and SHADE_GENERATIONAL=setting; fills *r from its report.
static int run_child(const char *self, const char *setting, struct run_result *r) {
  int fds[2];
  if (pipe(fds) != 0) {
    perror("demo: pipe");
    return -1;
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    char fd_text[16];
    snprintf(fd_text, sizeof fd_text, "%d", fds[1]);
    setenv("SHADE_GENERATIONAL", setting, 1);
    execl(self, self, "--one", fd_text, (char *)NULL);
    perror("demo: exec");
    _exit(127);
  }
  close(fds[1]);
  ssize_t got = pid > 0 ? read(fds[0], r, sizeof *r) : -1;
  close(fds[0]);
  int status = 0;
  if (pid > 0)
    waitpid(pid, &status, 0);
  return got == (ssize_t)sizeof *r && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "--one") == 0)
    return run_once(argc >= 3 ? atoi(argv[2]) : -1);
  struct run_result off, on;
  printf("=== 1 of 2: every collection full (SHADE_GENERATIONAL=off) ===\n");
  if (run_child("/proc/self/exe", "off", &off) != 0)
    return 1;
  printf("\n=== 2 of 2: generations (SHADE_GENERATIONAL=on): young collections trace what is new "
         "===\n");
  if (run_child("/proc/self/exe", "on", &on) != 0)
    return 1;
  if (!on.generational)
    printf("\n(this kernel cannot track the heap's writes: the second run was not generational)\n");
  printf("\nSide by side (the same workload, one run each)\n"
         "                         full only   generations   generations / full\n"
         "  wall time, s           %9.2f     %9.2f     %6.2f\n"
         "  CPU time, s            %9.2f     %9.2f     %6.2f\n"
         "  pauses in all, ms      %9.1f     %9.1f     %6.2f\n"
         "  longest pause, ms      %9.2f     %9.2f     %6.2f\n"
         "  peak heap pages, MB    %9.1f     %9.1f     %6.2f\n"
         "  collections            %9" PRIu64 "     %4" PRIu64 " young + %" PRIu64 " full\n",
         off.seconds, on.seconds, on.seconds / off.seconds, off.cpu_seconds, on.cpu_seconds,
         on.cpu_seconds / off.cpu_seconds, off.pause_total_ms, on.pause_total_ms,
         on.pause_total_ms / off.pause_total_ms, off.pause_max_ms, on.pause_max_ms,
         on.pause_max_ms / off.pause_max_ms, off.peak_heap_mb, on.peak_heap_mb,
         on.peak_heap_mb / off.peak_heap_mb, off.full, on.young, on.full);
  return off.bad == 0 && on.bad == 0 ? 0 : 1;
}
