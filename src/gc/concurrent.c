// concurrent.c: the concurrent cycle's controller thread and its background mark workers.
//
// The controller sleeps until an allocating thread finds the heap at the trigger, then, holding
// the collector lock for each step:
//   1. mark start (mark_handshakes.c: barrier on, no thread stopped);
//   2. greys the data segments and user ranges (world running: the program stores into them
//      through the barrier);
//   3. scans each thread's stack with a handshake (one thread stopped at a time), emptying its
//      barrier buffer and taking its cached spans back at the same time;
// then marks as a background worker, its CPU share held at `worker_share` when that is under
// one CPU (Go's fractional worker: on 2 CPUs, 25% is half of one), with more dedicated workers
// on machines where 25% is two CPUs or more. When no work is left anywhere it tries to end the
// marking (mark_handshakes.c: a round of handshakes that must find nothing); if the round turns
// up work, marking goes on; once a round is clean (or after RAGGED_ROUNDS_MAX rounds, or when the
// marking needs the world stopped: bailout objects) it runs the stop-the-world mark termination
// (mark_phase.c), which the rounds left little to do. Last, it sweeps in the background, beside
// the lazy sweeping of allocating threads.
//
// Workers hold local work only inside a chunk and publish it at the chunk's end; mark termination
// first clears workers_allowed and waits until no worker is inside a chunk.
//
// Incremental mode has no controller: one idle worker marks while a CPU is idle (below).
#define _GNU_SOURCE
#include "gc/marking.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "alloc/central.h"
#include "base/message.h"
#include "gc/barrier.h"
#include "gc/collector.h"
#include "gc/events.h"
#include "gc/pacer.h"
#include "gc/roots.h"
#include "gc/stop_world.h"
#include "gc/verify.h"
#include "alloc/sweep.h"

#define WORKER_CHUNK_BYTES ((uint64_t)128 << 10)

static pthread_mutex_t request_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t request_cond = PTHREAD_COND_INITIALIZER;
static bool requested;
static bool forced;      // the next cycle starts whatever the pacer says (concurrent_collect)
static bool controller_waiting; // the controller sleeps on request_cond (under request_mutex)
static _Atomic bool controller_running;
static _Atomic bool request_hint;
static uint64_t cycle_generation; // under request_mutex: the dedicated workers wait for it
static unsigned extra_workers;
static _Atomic int workers_in_chunk;
static bool started;
static double worker_share; // CPUs the background workers use
static unsigned cpus;
static bool idle_marking;   // the fractional worker also marks on CPUs the program leaves idle
static bool incremental_idle_worker; // incremental mode: only the idle worker, no controller

static uint64_t cpu_clock(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t thread_cpu_ns(void) { return cpu_clock(CLOCK_THREAD_CPUTIME_ID); }

static void sleep_ns(uint64_t ns) {
  struct timespec pause = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
  nanosleep(&pause, NULL);
}

void concurrent_request_cycle(void) {
  if (load_relaxed(&request_hint))
    return;
  store_relaxed(&request_hint, true);
  pthread_mutex_lock(&request_mutex);
  requested = true;
  pthread_cond_broadcast(&request_cond);
  pthread_mutex_unlock(&request_mutex);
}

// Asks for a forced cycle unless the controller has one to start already (request_mutex held).
// Only an idle controller can have dropped one: it does so when collection is disabled.
static void request_forced_cycle_locked(bool first) {
  if (first || (controller_waiting && !requested)) {
    requested = forced = true;
    pthread_cond_broadcast(&request_cond);
  }
}

bool concurrent_collect(void) {
  if (!load_relaxed(&controller_running))
    return false;
  // A marking under way began before the call: the garbage made since needs the next one (the
  // controller runs one cycle at a time, so it takes the request once that one is done). The
  // phase is read first: read after the count, a marking that ended in between (the count moves
  // before the phase) looked like none, and its end, of a cycle begun before the call, was taken
  // for the cycle asked for. Read in this order, that ending costs at most one extra cycle.
  bool marking_now = phase_is_marking();
  uint64_t target = load_acquire(&marking.cycles) + (marking_now ? 2 : 1);
  for (bool first = true; load_acquire(&marking.cycles) < target; first = false) {
    if (!first && load_relaxed(&pacer.disable_depth) > 0 && !phase_is_marking())
      break; // shade_disable meanwhile: no cycle will start
    pthread_mutex_lock(&request_mutex);
    request_forced_cycle_locked(first);
    pthread_mutex_unlock(&request_mutex);
    sleep_ns(1000 * 1000);
  }
  return true;
}

bool concurrent_start_cycle(void) {
  if (!load_relaxed(&controller_running))
    return false;
  pthread_mutex_lock(&request_mutex);
  request_forced_cycle_locked(true);
  pthread_mutex_unlock(&request_mutex);
  return true;
}

void concurrent_pause_workers(void) {
  store_relaxed(&marking.workers_allowed, false);
  while (load_acquire(&workers_in_chunk) > 0)
    sleep_ns(20 * 1000);
}

// One chunk of background marking; false when there was no work.
static bool worker_chunk(void) {
  atomic_fetch_add(&workers_in_chunk, 1);
  if (!load_acquire(&marking.workers_allowed)) {
    atomic_fetch_sub(&workers_in_chunk, 1);
    return false;
  }
  uint64_t cpu = thread_cpu_ns();
  uint64_t begin = events_on(SHADE_EVENT_WORKER_CHUNK) ? cycle_now_ns() : 0;
  atomic_fetch_add(&marking.active_markers, 1);
  struct marker m;
  marker_begin(&m, false);
  bool more = mark_drain_budget(&m, WORKER_CHUNK_BYTES, NULL);
  uint64_t scanned = m.scanned_bytes;
  marking_marker_end(&m);
  atomic_fetch_sub(&marking.active_markers, 1);
  atomic_fetch_sub(&workers_in_chunk, 1);
  atomic_fetch_add(&marking.assist_credit, scanned);
  atomic_fetch_add(&marking.worker_ns, thread_cpu_ns() - cpu);
  if (begin && scanned)
    events_mark(SHADE_EVENT_WORKER_CHUNK, begin, scanned);
  return more || scanned > 0;
}

// Greys data segments and user ranges, then each stack with a handshake, which also greys the
// thread's cached uncollectable objects, empties its barrier buffer and takes its cached spans
// back (from then on it allocates black: mark_handshakes.c).
static void scan_roots(void) {
  collector_lock();
  if (!phase_is_marking()) {
    collector_unlock();
    return;
  }
  struct marker m;
  marker_begin(&m, false);
  roots_lock();
  roots_mark_ranges(&m);
  roots_unlock();
  store_relaxed(&marking.ranges_scanned, true);
  threads_lock();
  marking_scan_grey_stacks(&m);
  threads_unlock();
  marking_marker_end(&m);
  collector_unlock();
}

// Mark termination once no work is left; false if work turned up (or the cycle ended elsewhere:
// then true).
static bool try_terminate(unsigned *rounds) {
  collector_lock();
  if (!phase_is_marking()) {
    collector_unlock();
    return true;
  }
  enum termination done = marking_try_finish_running(++*rounds);
  if (done == TERMINATION_STOP_THE_WORLD)
    marking_finish(NULL, 0);
  collector_unlock();
  return done != TERMINATION_NOT_YET;
}

// Go's idle mark worker: whether the program's other threads left a whole CPU unused over the
// last window (then the fractional worker may keep marking past its share).
struct idle_window {
  uint64_t wall, process_cpu, thread_cpu;
  bool idle; // the verdict of the last whole window
};

static bool cpu_idle(struct idle_window *w) {
  uint64_t wall = cycle_now_ns();
  if (wall - w->wall < 5 * 1000 * 1000) // judge 5 ms windows
    return w->idle;
  uint64_t process = cpu_clock(CLOCK_PROCESS_CPUTIME_ID), thread = thread_cpu_ns();
  double others = (double)((process - w->process_cpu) - (thread - w->thread_cpu)) /
                  (double)(wall - w->wall);
  w->idle = (double)cpus - others >= 0.9; // a CPU (less measuring noise) is free for us
  w->wall = wall;
  w->process_cpu = process;
  w->thread_cpu = thread;
  return w->idle;
}

static void mark_in_background(void) {
  double share = worker_share >= 1.0 ? 1.0 : worker_share;
  uint64_t wall_begin = cycle_now_ns(), cpu_begin = thread_cpu_ns();
  struct idle_window window = {wall_begin, cpu_clock(CLOCK_PROCESS_CPUTIME_ID), cpu_begin, false};
  unsigned rounds = 0;
  while (phase_is_marking()) {
    uint64_t chunk_cpu = thread_cpu_ns();
    bool idle = share < 1.0 && idle_marking && cpu_idle(&window);
    if (!worker_chunk()) {
      if (marking_out_of_work() && try_terminate(&rounds))
        return;
      sleep_ns(50 * 1000);
      continue;
    }
    if (idle) {
      cpu_begin += thread_cpu_ns() - chunk_cpu; // idle marking does not count against the share
    } else if (share < 1.0) {
      // fractional: stay at `share` of one CPU since marking began
      uint64_t wall = cycle_now_ns() - wall_begin, cpu = thread_cpu_ns() - cpu_begin;
      if ((double)cpu > share * (double)wall)
        sleep_ns((uint64_t)((double)cpu / share - (double)wall));
    }
  }
}

// Class by class, each under the collector lock: a stop-the-world collection (shade_collect)
// must not start marking while a span is half swept here (this thread is never stopped).
static void sweep_in_background(void) {
  events_phase_begin(SHADE_PHASE_SWEEP, 0);
  for (unsigned c = 0; c < SPAN_CLASS_COUNT; c++) {
    collector_lock();
    if (!phase_is_marking())
      central_sweep_class(c);
    collector_unlock();
  }
  events_phase_end(SHADE_PHASE_SWEEP, 0);
}

static void *controller_main(void *unused) {
  (void)unused;
  for (;;) {
    pthread_mutex_lock(&request_mutex);
    controller_waiting = true;
    while (!requested)
      pthread_cond_wait(&request_cond, &request_mutex);
    controller_waiting = false;
    requested = false;
    bool force = forced;
    forced = false;
    pthread_mutex_unlock(&request_mutex);
    collector_lock();
    bool start = !phase_is_marking() &&
                 (force ? load_relaxed(&pacer.disable_depth) == 0 : pacer_should_collect());
    if (start) {
      events_set_reason(force ? events_background_reason() : REASON_ALLOCATION);
      marking_start_running();
    }
    collector_unlock();
    store_relaxed(&request_hint, false);
    if (!start)
      continue;
    pthread_mutex_lock(&request_mutex);
    cycle_generation++;
    pthread_cond_broadcast(&request_cond);
    pthread_mutex_unlock(&request_mutex);
    scan_roots();
    mark_in_background();
    sweep_in_background();
  }
  return NULL;
}

// Incremental marking's idle worker (Go's idle mark worker): while an incremental marking is
// under way and the program leaves a CPU idle (5 ms windows, as above), it marks in chunks whose
// scan work the program's slices then owe no more (assist credit); otherwise it sleeps on the
// phase word. It never ends a marking: the slice that finds no work left does (assist.c), and
// mark termination waits for a chunk under way like any worker's (concurrent_pause_workers).
static void *idle_worker_main(void *unused) {
  (void)unused;
  struct idle_window window = {0};
  for (;;) {
    enum gc_phase phase = phase_now();
    if (phase != PHASE_MARK_CONCURRENT || load_relaxed(&marking.driver) != DRIVER_INCREMENTAL) {
      phase_wait_while(phase, 1000 * 1000 * 1000);
      continue;
    }
    if (!load_acquire(&marking.workers_allowed)) { // the mark start's pause is ending (or
      sleep_ns(50 * 1000);                           // termination is near): not for a 1 ms nap,
      continue;                                      // longer than a small heap's marking
    }
    if (!cpu_idle(&window) || !worker_chunk())
      phase_wait_while(PHASE_MARK_CONCURRENT, 1000 * 1000); // a CPU busy, or no work: later
  }
  return NULL;
}

static void *worker_main(void *unused) {
  (void)unused;
  uint64_t seen = 0;
  for (;;) {
    pthread_mutex_lock(&request_mutex);
    while (cycle_generation == seen)
      pthread_cond_wait(&request_cond, &request_mutex);
    seen = cycle_generation;
    pthread_mutex_unlock(&request_mutex);
    while (phase_is_marking()) {
      if (!worker_chunk())
        sleep_ns(100 * 1000);
    }
  }
  return NULL;
}

static bool start_thread(void *(*main)(void *), const char *name) {
  int error = threads_start_internal(main, name);
  if (error != 0)
    shade_message("shade: cannot start a concurrent marking thread (error %d); marking will "
                  "be done by mark assists and at mark termination", error);
  return error == 0;
}

static void start_threads(void) {
  if (incremental_idle_worker) {
    start_thread(idle_worker_main, "shade-idle-mark");
    started = true;
    return;
  }
  extra_workers = worker_share >= 2.0 ? (unsigned)(worker_share + 0.5) - 1 : 0;
  store_relaxed(&controller_running, start_thread(controller_main, "shade-gc"));
  for (unsigned i = 0; i < extra_workers; i++)
    start_thread(worker_main, "shade-gc-worker");
  started = true;
}

void concurrent_init(double share, unsigned cpu_count, bool idle) {
  worker_share = share;
  cpus = cpu_count;
  idle_marking = idle;
  start_threads();
}

void concurrent_init_idle_worker(unsigned cpu_count) {
  cpus = cpu_count;
  incremental_idle_worker = true;
  start_threads();
}

void concurrent_after_fork_child(void) {
  pthread_mutex_init(&request_mutex, NULL);
  pthread_cond_init(&request_cond, NULL);
  requested = forced = false;
  store_relaxed(&controller_running, false);
  store_relaxed(&request_hint, false);
  store_relaxed(&workers_in_chunk, 0);
  if (started)
    start_threads(); // the threads did not survive the fork
}
