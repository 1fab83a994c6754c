// assist.c: what allocating threads do for an incremental or concurrent marking (marking.h).
//
// (Starting a marking at the trigger is the controller's decision: collector.c.) While marking,
// each allocation of `bytes` owes bytes x pacer_assist_ratio of scan work (Go's mark assist).
// Concurrent workers bank the work they do as credit, which assists spend first; the rest the
// thread scans itself, inside a critical section (a stop never finds it holding unpublished grey
// work), giving up early when a stop is pending, and at most ASSIST_MAX_BYTES per call so that
// no single allocation waits long. In an incremental marking every allocation slow path pays a
// slice of at least ASSIST_MIN_BYTES, less what the idle worker (concurrent.c) banked; a slice
// that finds no work left, or a paid-up allocation that finds none, runs mark termination. The
// minimum is an overpayment on purpose: the sooner a marking ends, the less floating garbage the
// next goal carries (churn, 10 s runs: 32 KiB slices gave 1.66 GB peak RSS and 0.93 M ops/s
// without the idle worker, against 1.85 GB and 0.85 M with 16 KiB; 4-8 KiB with the idle worker
// gave less throughput and more memory). 128 KiB slices were tried: no more throughput, and 300
// operations over 1 ms instead of 2-6. An assist that finds no work while
// the heap is past 1.25 x its goal waits for work in 200 us naps, 1 ms at most (no single
// allocation waits for a whole cycle, as Go's can: 63 ms on churn). Past 1.5 x the goal the
// thread marks and waits until the cycle ends: the heap cannot outrun the collector. The naps
// sleep on the phase word (phases.h), so the marking's end wakes them at once.
//
// At most one waiting thread per CPU polls for work in those short naps (assist_pollers); the
// others skip the wait below 1.5 x the goal, and past it sleep 10 ms at a time. With many more
// threads than CPUs, every waiting thread napping 200 us kept the CPUs busy waking threads that
// found nothing, and the collector's own thread starved (256 threads on 2 CPUs: 1.7 million
// wake-ups in 5 s, 95% of the threads' time in assists, 8 k lists/s built; 58 k with the limit).
#include "gc/marking.h"

#include <time.h>

#include "gc/collector.h"
#include "gc/events.h"
#include "gc/pacer.h"
#include "gc/stop_world.h"

#define ASSIST_MIN_BYTES ((uint64_t)32 << 10)  // the smallest slice worth starting
#define ASSIST_MAX_BYTES ((uint64_t)512 << 10) // about half a millisecond of scanning

static void finish_if_out_of_work(struct shade_thread *self, uintptr_t stack_pointer) {
  if (phase_is_marking() && marking_out_of_work())
    marking_finish(self, stack_pointer);
}

// An incremental slice found no work anywhere: the marking ends here, on this thread.
static void finish_here(struct shade_thread *self) {
  collector_lock();
  collector_run_here(finish_if_out_of_work, self);
  collector_unlock();
}

static uint64_t take_credit(uint64_t debt) {
  uint64_t credit = load_relaxed(&marking.assist_credit);
  while (credit > 0) {
    uint64_t take = credit < debt ? credit : debt;
    if (atomic_compare_exchange_weak(&marking.assist_credit, &credit, credit - take))
      return take;
  }
  return 0;
}

// Scan up to `budget` bytes, adding the bytes scanned to *scanned; false when no work was left.
static bool assist_slice(struct shade_thread *t, uint64_t budget, uint64_t *scanned) {
  critical_enter(&t->cache);
  if (!phase_is_marking()) { // it ended without stopping this thread (mark_handshakes.c)
    critical_leave(&t->cache);
    return false;
  }
  atomic_fetch_add(&marking.active_markers, 1);
  struct marker m;
  marker_begin(&m, false);
  bool more = mark_drain_budget(&m, budget, &t->cache.stop_pending);
  *scanned += m.scanned_bytes;
  marking_marker_end(&m);
  atomic_fetch_sub(&marking.active_markers, 1);
  critical_leave(&t->cache);
  return more;
}

// Past the goal with nothing to scan (the workers hold it): give them a moment, asleep until the
// phase changes (the marking ends) or `nap` passes. (A handshake's signal ends the sleep; the
// thread parks at its next safe point, the slice after it.)
static void yield_to_workers(struct shade_thread *t, uint64_t nap) {
  stop_world_safepoint(t);
  phase_wait_while(PHASE_MARK_CONCURRENT, nap);
}

static bool become_poller(void) {
  unsigned pollers = load_relaxed(&marking.assist_pollers);
  while (pollers < marking.assist_poller_limit) {
    if (atomic_compare_exchange_weak(&marking.assist_pollers, &pollers, pollers + 1)) {
      atomic_raise_max(&marking.assist_pollers_max, pollers + 1);
      return true;
    }
  }
  return false;
}

void marking_assist(struct shade_thread *t, uint64_t bytes) {
  bool incremental = load_relaxed(&marking.driver) == DRIVER_INCREMENTAL;
  uint64_t begin = cycle_now_ns();
  double ratio = pacer_assist_ratio(load_relaxed(&marking.scanned_bytes));
  uint64_t debt = (uint64_t)((double)bytes * ratio);
  if (incremental && debt < ASSIST_MIN_BYTES)
    debt = ASSIST_MIN_BYTES; // every slice makes progress (a refill of 0 bytes too)
  debt -= take_credit(debt); // what the background workers did ahead
  if (debt == 0) {
    if (incremental && marking_out_of_work()) // the idle worker did it all: end the marking
      finish_here(t);
    return;
  }
  if (debt > ASSIST_MAX_BYTES)
    debt = ASSIST_MAX_BYTES;
  uint64_t scanned = 0;
  bool more = assist_slice(t, debt, &scanned);
  // Past 1.5 x the goal the thread allocates no more until the cycle ends: it marks while there
  // is work, and waits while there is none. Otherwise, with no work left here: incremental, if
  // no other thread holds any, this one ends the marking; past 1.25 x the goal it waits for work
  // (a worker or another thread's slice holds it, or is off the CPU), 1 ms at most (10 ms let
  // single operations of churn take 4 ms).
  bool polling = false;
  for (unsigned waits = 0; phase_is_marking(); waits++) {
    uint64_t goal = load_relaxed(&pacer.heap_goal), in_use = load_relaxed(&heap_account.in_use);
    bool far_past = in_use > goal + goal / 2;
    if (more) {
      if (!far_past)
        break;
      more = assist_slice(t, ASSIST_MAX_BYTES, &scanned);
      continue;
    }
    if (incremental && marking_out_of_work()) {
      finish_here(t);
      break;
    }
    if (in_use <= goal + goal / 4 || (!far_past && waits >= 5))
      break;
    if (!polling)
      polling = become_poller();
    if (!polling && !far_past)
      break;
    if (polling)
      atomic_fetch_add_explicit(&marking.assist_naps, 1, memory_order_relaxed);
    yield_to_workers(t, polling ? 200 * 1000 : 10 * 1000 * 1000);
    more = assist_slice(t, debt, &scanned);
  }
  if (polling)
    atomic_fetch_sub(&marking.assist_pollers, 1);
  atomic_fetch_add(&marking.assist_ns, cycle_now_ns() - begin);
  events_mark(SHADE_EVENT_MARK_ASSIST, begin, scanned);
}
