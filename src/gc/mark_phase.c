// mark_phase.c: the two stop-the-world steps of an incremental cycle, and the stop-the-world
// mark termination of a concurrent cycle (after its rounds of handshakes, mark_handshakes.c;
// also shade_collect and fork finishing a marking). A concurrent cycle starts without stopping
// the world (mark_handshakes.c).
//
// Mark start (sweep termination + barrier on): sweep what the last cycle left (world running),
// stop the world, take every span back from the caches (so that each span entering a cache from
// now on records where black allocation starts), grey the uncollectable objects, mark every stack
// unscanned, turn the barrier and black allocation on, restart. With grey_all_roots (incremental
// marking: no background thread scans roots) every root is greyed here too, stacks included;
// otherwise the concurrent controller scans them while the program runs (concurrent.c).
//
// Mark termination: stop the workers, stop the world, then for every thread: scan its stack
// again, empty its barrier buffer, give its spans back (marking what it allocated black). The
// threads were stopped wherever the signal found them, possibly between a store made while
// marking and that store's barrier check (barrier.c: store first, check second): the old value
// the check would shade is in the thread's registers or frame, so the stacks are scanned again
// (it costs their length in word reads: the first scans, the barrier and black allocation marked
// almost everything). A thread that was never scanned (it could not be signalled) is covered the
// same way. Dead stack slots are not the reason: what a dead slot names the program never reads,
// and the verifier does not follow stack words naming unmarked objects (verify.c).
// Then: drain with the parallel markers, resolve finalizers, weak references and ephemerons
// (weak_resolution.c), check with the verifier if asked, turn the barrier off,
// free unmarked large objects, make every span unswept, set the next goal, restart.
#define _GNU_SOURCE
#include "gc/marking.h"

#include "alloc/black_allocation.h"
#include "alloc/sweep.h"
#include "gc/barrier.h"
#include "gc/events.h"
#include "gc/finalization.h"
#include "gc/pacer.h"
#include "gc/phases.h"
#include "gc/roots.h"
#include "gc/stop_world.h"

struct marking_state marking;

bool marking_out_of_work(void) {
  return worklist_shared_empty() && load_acquire(&marking.active_markers) == 0;
}

void marking_marker_end(struct marker *m) {
  worklist_publish_local(&m->work);
  marker_end(m);
  atomic_fetch_add(&marking.scanned_bytes, m->scanned_bytes);
  atomic_fetch_add(&marking.marked_bytes, m->marked_bytes);
}

void marking_reset(void) {
  for (struct shade_thread *t = threads_first(); t; t = t->next)
    t->stack_scanned = false;
  store_relaxed(&marking.scanned_bytes, 0);
  store_relaxed(&marking.marked_bytes, 0);
  store_relaxed(&marking.assist_credit, 0);
  store_relaxed(&marking.ranges_scanned, false);
  worklist_begin(1);
}

void marking_start(struct shade_thread *self, uintptr_t stack_pointer, enum cycle_driver driver) {
  bool grey_all_roots = driver == DRIVER_INCREMENTAL;
  struct cycle_record *r = &marking.record;
  *r = (struct cycle_record){.driver = driver, .generation = 2};
  store_relaxed(&marking.driver, (int)driver);
  phase_sweep_termination(r);
  phase_stop(self, r);
  phase_flush_caches();
  marking_reset(); // every stack grey, the counters at 0
  struct marker m;
  marker_begin(&m, false);
  roots_mark_uncollectable(&m);
  if (grey_all_roots) {
    roots_mark_ranges(&m);
    store_relaxed(&marking.ranges_scanned, true);
    for (struct shade_thread *t = threads_first(); t; t = t->next) {
      roots_mark_thread(&m, t, t == self ? stack_pointer : t->stack_pointer);
      t->stack_scanned = true;
    }
  }
  marking_marker_end(&m);
  black_allocation_begin(load_relaxed(&heap_sweepgen));
  barrier_set_active(true);
  if (grey_all_roots)
    barrier_all_stacks_black(); // every stack was scanned above
  phase_set(PHASE_MARK_CONCURRENT);
  marking.start_heap_in_use = heap_account_in_use();
  phase_restart(r, 0);
  // Workers (incremental's idle worker) only now: woken by the phase change inside the pause, a
  // worker that marked then took the pausing thread's CPU for a whole chunk (1.3-3 ms pauses, not
  // 0.04-0.07); it finds no chunk allowed and naps instead.
  store_release(&marking.workers_allowed, true);
  r->start_pause_ns = r->end_ns - r->stop_begin_ns;
  r->start_sweep_ns = r->stop_begin_ns - r->begin_ns;
  marking.start_ns = r->end_ns;
  events_phase_begin(SHADE_PHASE_MARK_CONCURRENT, r->end_ns);
}

void marking_finish(struct shade_thread *self, uintptr_t stack_pointer) {
  struct cycle_record *r = &marking.record;
  r->begin_ns = cycle_now_ns();
  events_phase_end(SHADE_PHASE_MARK_CONCURRENT, r->begin_ns);
  concurrent_pause_workers();
  uint64_t worker_before = load_relaxed(&marking.worker_ns);
  phase_stop(self, r);
  phase_set(PHASE_MARK_TERMINATION);
  events_phase_begin(SHADE_PHASE_MARK_TERMINATION, 0);
  struct marker m;
  marker_begin(&m, false);
  if (!load_relaxed(&marking.ranges_scanned))
    roots_mark_ranges(&m);
  for (struct shade_thread *t = threads_first(); t; t = t->next) {
    roots_mark_thread(&m, t, t == self ? stack_pointer : t->stack_pointer); // see above
    barrier_flush_into(t, &m);
    thread_cache_flush(&t->cache); // black allocation ranges get their marks
  }
  uint64_t black = black_allocation_end();
  barrier_set_active(false);
  uint64_t bailouts = worklist_bailout_move_into(&m.work); // scanned now, the world stopped
  atomic_fetch_add(&marking.bailouts, bailouts);
  uint64_t drained = phase_drain(&m);
  uint64_t scanned = load_relaxed(&marking.scanned_bytes) + m.scanned_bytes;
  marker_end(&m);
  drained += finalization_resolve(); // finalizers, weak references, ephemerons
  uint64_t traced = load_relaxed(&marking.marked_bytes) + drained;
  r->marked = traced + black;
  r->black = black;
  r->marked_ns = cycle_now_ns();
  events_phase_end(SHADE_PHASE_MARK_TERMINATION, r->marked_ns);
  uint64_t unswept_pages = phase_end_marking(self, stack_pointer, SWEEP_FULL);
  r->concurrent_ns = r->stop_begin_ns - marking.start_ns;
  pacer_end_marking(r->marked, traced, r->heap_before - marking.start_heap_in_use, scanned,
                    roots_take_scanned_bytes());
  atomic_fetch_add(&marking.cycles, 1);
  atomic_fetch_add(&marking.concurrent_ns, r->concurrent_ns);
  uint64_t cycle = phase_close(unswept_pages);
  phase_restart(r, r->marked_ns - r->stopped_ns);
  r->assist_ns = load_relaxed(&marking.assist_ns) - marking.cycle_assist_base;
  r->worker_ns = worker_before - marking.cycle_worker_base;
  marking.cycle_assist_base = load_relaxed(&marking.assist_ns);
  marking.cycle_worker_base = load_relaxed(&marking.worker_ns);
  cycle_report(r, cycle);
}
