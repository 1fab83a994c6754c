// collector.c: the collection controller.
//
// Every request (an allocation at the trigger, shade_collect, an idle or periodic collection,
// shade_free_os_memory, the OS refusing memory) arrives at collector_request with a reason and a
// kind. decide() alone turns the mode chosen at start-up and the reason into an action:
//
//   reason                  stw          incremental            concurrent
//   allocation (trigger)    stw cycle    mark start, here       wake the background controller
//   idle, periodic          stw cycle    stw cycle              background cycle, waited for
//   explicit, out of memory,
//   free OS memory          stw cycle (a marking under way is finished first)
//   explicit, non-blocking  stw cycle    stw cycle              start a background cycle
//
// and the kind: with generations on (stw mode, generations.c), an allocation collects gen2 when
// the heap reached the pacer's trigger, else gen1 or gen0 when gen0's budget is spent (gen1 when
// gen1's is spent too, generations.c); an explicit request says its generation; every other
// request is full. Without generations every collection is full.
//
// Idle and periodic collections do not stop the world for a whole marking in concurrent mode:
// the program may be back at any moment, and it chose that mode for its short pauses. Explicit
// ones are blocking, as Go's runtime.GC().
//
// The drivers are stw_cycle.c (a whole collection in one pause) and mark_phase.c (mark start and
// mark termination of a marking that runs beside the program: in slices on allocating threads,
// assist.c, or in background workers, concurrent.c); all are built of the steps in phases.c.
// Only `decide` and the two allocation hooks below read the mode.
//
// Invariant: collector_lock is held for every step that stops the world or changes the phase.
#include "gc/collector.h"

#include <unistd.h>

#include "alloc/heap_account.h"
#include "gc/events.h"
#include "gc/finalization.h"
#include "gc/generations.h"
#include "gc/marking.h"
#include "gc/memory_limits.h"
#include "gc/pacer.h"
#include "gc/registers.h"
#include "gc/stop_world.h"
#include "gc/stw_cycle.h"
#include "gc/trace_line.h"

static pthread_mutex_t collector_mutex = PTHREAD_MUTEX_INITIALIZER;
static int mode = SHADE_MODE_STW; // enum shade_mode, fixed at start-up
static unsigned online_cpus = 1;  // concurrent mode: read at start-up
static unsigned step_generation;  // the generation the step under way collects (lock held)

void collector_lock(void) { lock_stoppable(&collector_mutex); }
void collector_unlock(void) {
  pthread_mutex_unlock(&collector_mutex);
  finalization_announce(); // finalizers the collection queued: their thread, or the notifier
}
void collector_after_fork_child(void) {
  pthread_mutex_init(&collector_mutex, NULL);
  generations_after_fork_child(); // the kernel tracks nothing for the child: the next is full
}
int collector_mode(void) { return mode; }

void collector_init(const struct shade_options *o) {
  mode = o->mode;
  cycle_config.markers = (unsigned)o->markers;
  cycle_config.trace = o->trace != 0;
  cycle_config.verify = o->verify != 0;
  events_init(o->trace_file); // the heap-growth hook; the trace file (SHADE_TRACE_FILE)
  if (cycle_config.trace)
    trace_line_start(); // SHADE_TRACE=gc: a listener of the cycle events
  cycle_clock_init();
  pacer_init(o->gc_percent, o->min_heap_goal, o->retain_goal > 0, o->noscan_weight);
  if (mode != SHADE_MODE_STW)
    pacer_use_early_trigger(); // marking runs beside the program: start before the goal
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  unsigned count = cpus > 0 ? (unsigned)cpus : 1;
  marking.assist_poller_limit = count;
  if (mode == SHADE_MODE_CONCURRENT) {
    online_cpus = count;
    concurrent_init((double)count * (double)o->gc_cpu_percent / 100.0, count,
                    o->idle_marking >= 0);
  } else if (mode == SHADE_MODE_INCREMENTAL && o->idle_marking >= 0 && count > 1) {
    concurrent_init_idle_worker(count);
  }
  generations_init(o, mode == SHADE_MODE_STW);
  finalization_init(o);
  memory_limits_init(o); // limits, scavenger thread
}

SHADE_NOINLINE void collector_run_here(collector_step_fn fn, struct shade_thread *self) {
  volatile uintptr_t registers[REGISTER_SPILL_WORDS] = {0}; // unused words: no stale value
  SPILL_REGISTERS(registers);
  fn(self, (uintptr_t)registers);
  __asm__ volatile("" : : "r"(registers) : "memory");
}

enum action {
  ACTION_NONE,
  ACTION_STOP_THE_WORLD,     // a whole collection in one pause, here
  ACTION_START_INCREMENTAL,  // mark start here; allocating threads mark in slices
  ACTION_WAKE_BACKGROUND,    // the concurrent controller starts a cycle; return at once
  ACTION_BACKGROUND_CYCLE,   // a concurrent cycle, waited for
  ACTION_START_BACKGROUND,   // a concurrent cycle, whatever the pacer says; return at once
};

int collector_due_kind(void) {
  if (!generations_on() || generations_paused())
    return pacer_should_collect() ? COLLECTION_FULL : -1;
  if (!generations_young_due())
    return -1;
  return generations_full_due() ? COLLECTION_FULL : (int)generations_young_choice();
}

static enum action decide(enum collect_reason reason, enum collection_kind *kind) {
  if (!generations_on())
    *kind = COLLECTION_FULL;
  switch (reason) {
  case REASON_ALLOCATION: {
    int due = collector_due_kind();
    if (due < 0)
      return ACTION_NONE;
    *kind = (enum collection_kind)due;
    return mode == SHADE_MODE_INCREMENTAL ? ACTION_START_INCREMENTAL
           : mode == SHADE_MODE_CONCURRENT ? ACTION_WAKE_BACKGROUND
                                           : ACTION_STOP_THE_WORLD;
  }
  case REASON_EXPLICIT:
    return ACTION_STOP_THE_WORLD; // of the generation asked for
  case REASON_EXPLICIT_BACKGROUND:
    if (mode == SHADE_MODE_CONCURRENT)
      return ACTION_START_BACKGROUND;
    break;
  case REASON_IDLE:
  case REASON_PERIODIC:
    return mode == SHADE_MODE_CONCURRENT ? ACTION_BACKGROUND_CYCLE : ACTION_STOP_THE_WORLD;
  case REASON_OUT_OF_MEMORY:
  case REASON_FREE_OS_MEMORY:
    break;
  }
  *kind = COLLECTION_FULL;
  return ACTION_STOP_THE_WORLD;
}

static void finish_marking_step(struct shade_thread *self, uintptr_t stack_pointer) {
  if (phase_is_marking())
    marking_finish(self, stack_pointer);
}

static void stop_the_world_step(struct shade_thread *self, uintptr_t stack_pointer) {
  finish_marking_step(self, stack_pointer); // an incremental or concurrent marking: finish it
  stw_cycle_run(self, stack_pointer, step_generation);
}

static void start_incremental_step(struct shade_thread *self, uintptr_t stack_pointer) {
  if (!phase_is_marking() && pacer_should_collect())
    marking_start(self, stack_pointer, DRIVER_INCREMENTAL);
}

static void run_locked(collector_step_fn step, enum collect_reason reason,
                       enum collection_kind kind) {
  collector_lock();
  events_set_reason(reason);
  // At the trigger: another thread may have collected while this one waited for the lock.
  int due = reason == REASON_ALLOCATION ? collector_due_kind() : (int)kind;
  if (due >= 0) {
    step_generation = (unsigned)due;
    generations_set_trigger(reason == REASON_ALLOCATION);
    collector_run_here(step, current_thread);
  }
  collector_unlock();
}

void collector_request(enum collect_reason reason, enum collection_kind kind) {
  switch (decide(reason, &kind)) {
  case ACTION_NONE:
    return;
  case ACTION_STOP_THE_WORLD:
    run_locked(stop_the_world_step, reason, kind);
    return;
  case ACTION_START_INCREMENTAL:
    run_locked(start_incremental_step, reason, kind);
    return;
  case ACTION_WAKE_BACKGROUND:
    concurrent_request_cycle();
    return;
  case ACTION_START_BACKGROUND:
    if (!concurrent_start_cycle())
      run_locked(stop_the_world_step, reason, kind);
    return;
  case ACTION_BACKGROUND_CYCLE:
    events_set_background_reason(reason);
    if (!concurrent_collect()) // no controller thread: collect another way
      run_locked(stop_the_world_step, reason, kind);
    return;
  }
}

bool collector_collect_if_due(void) {
  if (mode != SHADE_MODE_STW || collector_due_kind() < 0)
    return false;
  collector_request(REASON_ALLOCATION, COLLECTION_FULL);
  return true;
}

// A concurrent cycle is due and its marking has not begun: the controller is not on a CPU yet,
// or its mark start waits for threads preempted inside the allocator (a grace). With more
// registered threads than CPUs, past 1.5 x the goal (the bound assists keep during marking), an
// allocating thread waits for the marking instead of running the heap up meanwhile: 64 threads
// on 2 CPUs allocated 5 x the goal before it began. (With no more threads than CPUs the
// controller is on a CPU at once, and the wait only delays: churn's one thread waited up to
// 1.5 s while the controller finished the last cycle's sweep.)
// Waiting off the CPU also lets those preempted threads run sooner. At most 20 ms per call; a
// phase change wakes the thread (phase_wait_while).
static void wait_for_marking(struct shade_thread *t) {
  uint64_t deadline = 0;
  for (;;) {
    enum gc_phase phase = phase_now();
    if (phase == PHASE_MARK_CONCURRENT || phase == PHASE_MARK_TERMINATION ||
        threads_count() <= online_cpus || !pacer_should_collect())
      return;
    uint64_t goal = load_relaxed(&pacer.heap_goal);
    if (heap_account_in_use() <= goal + goal / 2)
      return;
    uint64_t now = cycle_now_ns();
    if (deadline == 0)
      deadline = now + 20 * 1000 * 1000;
    else if (now >= deadline)
      return;
    stop_world_safepoint(t);
    phase_wait_while(phase, deadline - now);
  }
}

void collector_pace_allocation(struct shade_thread *t, uint64_t bytes) {
  if (mode == SHADE_MODE_STW)
    return;
  if (phase_is_marking()) {
    marking_assist(t, bytes);
    return;
  }
  collector_request(REASON_ALLOCATION, COLLECTION_FULL);
  if (mode == SHADE_MODE_CONCURRENT)
    wait_for_marking(t);
}

static struct {
  stw_inspect_fn fn;
  void *context;
} inspection; // collector lock held

static void collect_inspecting_step(struct shade_thread *self, uintptr_t stack_pointer) {
  finish_marking_step(self, stack_pointer);
  stw_cycle_run_inspecting(self, stack_pointer, COLLECTION_FULL, inspection.fn,
                           inspection.context);
}

void collector_collect_inspecting(stw_inspect_fn inspect, void *context) {
  collector_lock();
  inspection.fn = inspect;
  inspection.context = context;
  collector_run_here(collect_inspecting_step, current_thread);
  inspection.fn = NULL;
  collector_unlock();
}

void collector_prepare_fork(void) {
  collector_lock();
  collector_run_here(finish_marking_step, current_thread); // no marking half done across fork
}
