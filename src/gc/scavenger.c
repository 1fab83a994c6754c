// scavenger.c: one background thread that gives free pages back to the OS, and collects when the
// program goes idle or when a periodic collection is due.
//
// Every tick (50 ms), or sooner when a cycle ends, the thread
//   1. notes whether the program is active: it allocated (heap_account.total_allocated moved), used
//      more than a tenth of a CPU (process CPU time minus the scavenger's own), or touched new
//      pages (minor page faults, the scavenger's own not counted) since the last tick. The faults
//      matter on a loaded machine: a program filling a buffer it just allocated may get less than
//      a tenth of a CPU, and idle collections run while it fills find the buffer live, each one
//      doubling the quiet time the next needs (step 3), so that memory it drops afterwards came
//      back only seconds later;
//   2. runs a periodic collection when one is configured (SHADE_PERIODIC_GC_MS) and none ran for
//      that long;
//   3. runs an idle collection when the program was active since the last idle collection and
//      then quiet for idle_gc_ns (SHADE_IDLE_GC_MS, 250 ms): collect, sweep every span, and give
//      every free page back, in 64 MiB steps, stopping early if the program allocates again. So
//      memory a program dropped goes back to the OS a fraction of a second after it stops
//      (sleeps, waits on I/O), without any call. An idle collection that found most of the heap
//      still live is tried again after twice the quiet time (up to 64 times it) until the
//      program allocates again: it may have come while the program computed on fresh data;
//   4. background scavenging, while the program runs: keeps the resident heap (in-use pages plus
//      free pages not given back) under heap goal + 10% (and under the soft limit less 1/16), and
//      returns any free run unused for idle_return_ns (SHADE_SCAVENGE_IDLE_MS, 1 s; Go: 5 minutes).
//      Oldest free runs go first, at most 16 MiB per madvise; after a step that cost c of this
//      thread's CPU time it sleeps 99c, so it spends about 1% of one CPU.
//
// Every step holds the collector lock (collector_lock): the scavenger is not stopped with the world,
// and must not change free-run records while marking reads them.
//
// The thread is not registered (the collector never stops it or scans it), blocks every signal,
// holds no Shade lock while it sleeps, and is detached (it never keeps a finished program
// alive). Collections it runs are ordinary collector_request calls from an unregistered thread, except
// in concurrent mode, where it asks the controller for a concurrent cycle and waits for it (no
// stop-the-world marking behind a program's back in the mode chosen for short pauses). After
// fork, the child has no scavenger; the first cycle in the child starts a new one.
#define _GNU_SOURCE
#include "gc/scavenger.h"

#include <errno.h>
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>

#include "alloc/central.h"
#include "alloc/pageheap.h"
#include "base/message.h"
#include "gc/collector.h"
#include "gc/events.h"
#include "gc/phases.h"
#include "gc/memory_limits.h"
#include "gc/pacer.h"
#include "gc/threads.h"
#include "os/os_memory.h"

#define TICK_NS ((uint64_t)50 * 1000000)
#define MIN_PACE_NS ((uint64_t)1 * 1000000)
#define CPU_BUDGET_INVERSE 100 // 1% of one CPU
// Minor page faults in one tick that make the program active (256 KiB of 4 KiB pages): filling
// memory makes hundreds or thousands; a quiet program makes a few now and then (a stack or a
// metadata page touched first), a polling one under ASan a dozen (its quarantine hands out fresh
// memory for every malloc). Where transparent huge pages back the heap, a fault covers 2 MiB and a
// slow fill may stay below this: there CPU and allocation alone tell, as before.
#define PROGRAM_FAULTS_ACTIVE 64
// A step holds the collector lock through its madvise: small steps keep a collection that wants
// to start from waiting long behind one (idle returns, with the program quiet, use 64 MiB).
#define BACKGROUND_CHUNK ((size_t)16 << 20)

static pthread_mutex_t wake_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cond;
static bool wanted;      // scavenger_start was called (survives fork)
static bool running;     // the thread exists in this process
static uint64_t wake_count;

// What the program did, as seen at the last tick.
struct activity {
  uint64_t allocated;
  uint64_t process_cpu_ns, own_cpu_ns;
  uint64_t process_faults, own_faults;
  uint64_t last_tick_ns;
  uint64_t quiet_since_ns;
  bool active_since_idle_collection;
  unsigned idle_backoff; // the quiet time asked for is idle_gc_ns times this (1, 2, 4, ... 64)
};

static uint64_t cpu_clock_ns(clockid_t clock) {
  struct timespec ts;
  if (clock_gettime(clock, &ts) != 0)
    return 0;
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

// Minor page faults of the process or of the calling thread (getrusage), 0 if unknown.
static uint64_t minor_faults(int who) {
  struct rusage usage;
  if (getrusage(who, &usage) != 0)
    return 0;
  return (uint64_t)usage.ru_minflt;
}

static void activity_reset(struct activity *a, bool active) { // (idle_backoff is kept)
  a->allocated = load_relaxed(&heap_account.total_allocated);
  a->process_cpu_ns = cpu_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
  a->own_cpu_ns = cpu_clock_ns(CLOCK_THREAD_CPUTIME_ID);
  a->process_faults = minor_faults(RUSAGE_SELF);
  a->own_faults = minor_faults(RUSAGE_THREAD);
  a->last_tick_ns = a->quiet_since_ns = cycle_now_ns();
  a->active_since_idle_collection = active;
}

static void activity_observe(struct activity *a, uint64_t now) {
  uint64_t allocated = load_relaxed(&heap_account.total_allocated);
  uint64_t process_cpu = cpu_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
  uint64_t own_cpu = cpu_clock_ns(CLOCK_THREAD_CPUTIME_ID);
  uint64_t process_used = process_cpu - a->process_cpu_ns, own_used = own_cpu - a->own_cpu_ns;
  uint64_t program_used = process_used > own_used ? process_used - own_used : 0;
  uint64_t process_faults = minor_faults(RUSAGE_SELF), own_faults = minor_faults(RUSAGE_THREAD);
  uint64_t process_faulted = process_faults - a->process_faults;
  uint64_t own_faulted = own_faults - a->own_faults;
  uint64_t program_faults = process_faulted > own_faulted ? process_faulted - own_faulted : 0;
  uint64_t elapsed = now - a->last_tick_ns;
  if (allocated != a->allocated || program_used * 10 > elapsed ||
      program_faults >= PROGRAM_FAULTS_ACTIVE) {
    a->quiet_since_ns = now;
    a->active_since_idle_collection = true;
  }
  if (allocated != a->allocated)
    a->idle_backoff = 1; // it allocates again: the next quiet spell counts from the start
  a->allocated = allocated;
  a->process_cpu_ns = process_cpu;
  a->own_cpu_ns = own_cpu;
  a->process_faults = process_faults;
  a->own_faults = own_faults;
  a->last_tick_ns = now;
}

static bool collection_allowed(void) {
  return load_relaxed(&pacer.disable_depth) == 0 &&
         (load_relaxed(&pacer.gc_percent) >= 0 || load_relaxed(&pacer.soft_limit_on));
}

static bool idle_collection_due(const struct activity *a, uint64_t now) {
  return memory_config.idle_gc_ns != 0 && a->active_since_idle_collection &&
         now - a->quiet_since_ns >= memory_config.idle_gc_ns * a->idle_backoff &&
         pageheap_resident_bytes() >= pacer.min_goal && collection_allowed();
}

static bool periodic_collection_due(uint64_t now) {
  uint64_t period = load_relaxed(&memory_config.periodic_gc_ns);
  return period != 0 && now - load_relaxed(&memory_stats.last_cycle_end_ns) >= period &&
         collection_allowed();
}

static void idle_collection(void) {
  uint64_t begin = cycle_now_ns();
  collector_request(REASON_IDLE, COLLECTION_FULL);
  collector_lock(); // sweeping must not overlap another cycle's marking
  central_sweep_all();
  collector_unlock();
  atomic_fetch_add(&memory_stats.idle_collections, 1);
  uint64_t collected = cycle_now_ns();
  uint64_t allocated = load_relaxed(&heap_account.total_allocated);
  size_t released = 0, step;
  for (;;) {
    collector_lock(); // no marking while the page heap changes (pageheap.h)
    step = pageheap_scavenge_step(PAGEHEAP_SCAVENGE_CHUNK, UINT64_MAX);
    collector_unlock();
    released += step;
    if (step == 0 || load_relaxed(&heap_account.total_allocated) != allocated)
      break; // done, or the program is back: leave the rest to the paced scavenger
  }
  events_scavenge(SHADE_SCAVENGE_IDLE, released);
  if (memory_config.trace)
    shade_message("scav idle: collection %.3f ms, %.1f MB returned in %.3f ms; heap %.1f MB "
                  "resident; rss %.1f MB", (double)(collected - begin) / 1e6,
                  (double)released / 1048576.0, (double)(cycle_now_ns() - collected) / 1e6,
                  (double)pageheap_resident_bytes() / 1048576.0,
                  (double)os_resident_bytes() / 1048576.0);
}

// The most resident heap bytes to keep while the program runs.
static size_t retained_target(void) {
  uint64_t goal = load_relaxed(&pacer.heap_goal);
  size_t target = goal >= SIZE_MAX / 2 ? SIZE_MAX : (size_t)(goal + goal / 10);
  size_t soft = memory_soft_limit();
  if (soft && soft - soft / 16 < target)
    target = soft - soft / 16;
  return target;
}

// One paced step; returns how long to sleep after it, or 0 when there was nothing to do.
static uint64_t background_step(void) {
  size_t resident = pageheap_resident_bytes(), target = retained_target();
  size_t want = BACKGROUND_CHUNK;
  uint64_t freed_before = UINT64_MAX;
  if (resident > target) {
    if (resident - target < want)
      want = resident - target;
  } else {
    uint64_t now = pageheap_now_ns();
    if (now < memory_config.idle_return_ns)
      return 0;
    freed_before = now - memory_config.idle_return_ns;
  }
  if (want < PAGE_SIZE || pageheap_free_bytes() <= pageheap_released_bytes())
    return 0; // nothing resident to return: do not even take the lock
  uint64_t cpu_before = cpu_clock_ns(CLOCK_THREAD_CPUTIME_ID);
  collector_lock(); // no marking while the page heap changes (pageheap.h)
  size_t released = pageheap_scavenge_step(want, freed_before);
  collector_unlock();
  events_scavenge(SHADE_SCAVENGE_BACKGROUND, released);
  if (released == 0)
    return 0;
  uint64_t cost = cpu_clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_before;
  uint64_t pause = cost * (CPU_BUDGET_INVERSE - 1);
  return pause > MIN_PACE_NS ? pause : MIN_PACE_NS;
}

// Sleep for ns; a wake-up (a cycle ended) cuts the sleep short only when interruptible.
static void sleep_for(uint64_t ns, bool interruptible) {
  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  uint64_t nsec = (uint64_t)deadline.tv_nsec + ns;
  deadline.tv_sec += (time_t)(nsec / 1000000000u);
  deadline.tv_nsec = (long)(nsec % 1000000000u);
  pthread_mutex_lock(&wake_mutex);
  uint64_t seen = wake_count;
  while (!interruptible || wake_count == seen)
    if (pthread_cond_timedwait(&wake_cond, &wake_mutex, &deadline) == ETIMEDOUT)
      break;
  pthread_mutex_unlock(&wake_mutex);
}

static void *scavenger_main(void *unused) {
  (void)unused;
  struct activity activity = {.idle_backoff = 1};
  activity_reset(&activity, false);
  for (;;) {
    uint64_t now = cycle_now_ns();
    activity_observe(&activity, now);
    if (periodic_collection_due(now)) {
      collector_request(REASON_PERIODIC, COLLECTION_FULL);
      atomic_fetch_add(&memory_stats.periodic_collections, 1);
      activity_reset(&activity, activity.active_since_idle_collection);
    } else if (idle_collection_due(&activity, now)) {
      // An idle collection that found most of the heap still live may have come while the
      // program computed on what it had just allocated (it looked quiet: it got little CPU, or
      // it only wrote memory): it tries again after twice the quiet time, up to 64 times it,
      // so that a program which then drops its data gets it back without allocating.
      uint64_t before = heap_account_in_use();
      idle_collection();
      bool kept_most = heap_account_in_use() > before / 2;
      unsigned backoff = activity.idle_backoff;
      activity_reset(&activity, kept_most && backoff < 64);
      activity.idle_backoff = kept_most ? backoff * 2 : 1;
    }
    uint64_t pause = memory_config.scavenge ? background_step() : 0;
    if (pause)
      sleep_for(pause, false);
    else
      sleep_for(TICK_NS, true);
  }
  return NULL;
}

// Called with wake_mutex held.
static void start_thread(void) {
  pthread_condattr_t condattr;
  pthread_condattr_init(&condattr);
  pthread_condattr_setclock(&condattr, CLOCK_MONOTONIC);
  pthread_cond_init(&wake_cond, &condattr);
  pthread_condattr_destroy(&condattr);
  int error = threads_start_internal(scavenger_main, "shade-scavenger");
  if (error != 0) {
    shade_message("shade: cannot start the scavenger thread (error %d); free memory is returned "
                  "only by shade_free_os_memory", error);
    wanted = false;
    return;
  }
  running = true;
}

void scavenger_start(void) {
  pthread_mutex_lock(&wake_mutex);
  wanted = true;
  if (!running)
    start_thread();
  pthread_mutex_unlock(&wake_mutex);
}

void scavenger_wake(void) {
  pthread_mutex_lock(&wake_mutex);
  if (wanted && !running)
    start_thread(); // first cycle in a forked child
  if (running) {
    wake_count++;
    pthread_cond_signal(&wake_cond);
  }
  pthread_mutex_unlock(&wake_mutex);
}

void scavenger_after_fork_child(void) {
  pthread_mutex_init(&wake_mutex, NULL);
  running = false; // the thread did not come along; wake_cond is re-created with the new one
}
