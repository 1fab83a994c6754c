// mark_phase.c: the two stop-the-world steps of an incremental or concurrent cycle.
//
// Mark start (sweep termination + barrier on): sweep what the last cycle left (world running),
// stop the world, take every span back from the caches (so that each span entering a cache from
// now on records where black allocation starts), grey the uncollectable objects, mark every stack
// unscanned, turn the barrier and black allocation on, restart. Incremental mode greys every root
// here too (stacks included); concurrent mode leaves them to the controller.
//
// Mark termination: stop the workers, stop the world, then for every thread: scan its stack
// again, empty its barrier buffer, give its spans back (marking what it allocated black).
// The stacks are rescanned because they are scanned conservatively. A stack word is a root
// whether or not the program will read it again, and a dead slot below the stack pointer at the
// first scan can come back into the scanned range later, holding a pointer to an object that was
// already garbage at mark start (nothing live can point to it: no barrier ever sees it). bdwgc's
// contract, and the checkmark's roots, keep such an object; so the final pause scans the stacks
// again, as V8's cppgc does for its conservative stack. It finds almost everything marked
// already: the first scans, the hybrid barrier and black allocation did the work. The rescan also
// covers a store made while marking whose barrier check runs after termination (barrier.c).
// Then: drain with the parallel markers, check with the verifier if asked, turn the barrier off,
// free unmarked large objects, make every span unswept, set the next goal, restart.
#define _GNU_SOURCE
#include "gc/marking.h"

#include "alloc/arena.h"
#include "alloc/large.h"
#include "base/message.h"
#include "gc/barrier.h"
#include "gc/black_allocation.h"
#include "gc/cycle.h"
#include "gc/memory_limits.h"
#include "gc/pacer.h"
#include "gc/roots.h"
#include "gc/stop_world.h"
#include "gc/sweep.h"
#include "gc/sweep_pacer.h"
#include "gc/verify.h"

struct marking_state marking;

bool marking_active(void) { return barrier_active(); }

bool marking_out_of_work(void) {
  return worklist_shared_empty() && load_acquire(&marking.active_markers) == 0;
}

void marking_marker_end(struct marker *m) {
  worklist_publish_local(&m->work);
  marker_end(m);
  atomic_fetch_add(&marking.scanned_bytes, m->scanned_bytes);
  atomic_fetch_add(&marking.marked_bytes, m->marked_bytes);
}

void marking_start(struct shade_thread *self, uintptr_t stack_pointer) {
  uint64_t begin = cycle_now_ns();
  store_relaxed(&cycle_stats.phase, PHASE_SWEEP_TERMINATION);
  sweep_pacer_note_termination(central_sweep_all());
  roots_prepare();
  threads_lock();
  roots_lock(); // before the stop: a stopped thread may hold it (shade_add_roots)
  uint64_t stop_begin = cycle_now_ns();
  stop_world(self);
  for (struct shade_thread *t = threads_first(); t; t = t->next) {
    thread_cache_flush(t);
    t->stack_scanned = false;
  }
  store_relaxed(&marking.scanned_bytes, 0);
  store_relaxed(&marking.marked_bytes, 0);
  store_relaxed(&marking.assist_credit, 0);
  store_relaxed(&black_allocated_bytes, 0);
  store_relaxed(&marking.ranges_scanned, false);
  worklist_begin(1);
  struct marker m;
  marker_begin(&m, false);
  roots_mark_uncollectable(&m);
  if (marking.mode == MODE_INCREMENTAL) { // no controller: every root now
    roots_mark_ranges(&m);
    store_relaxed(&marking.ranges_scanned, true);
    for (struct shade_thread *t = threads_first(); t; t = t->next) {
      roots_mark_thread(&m, t, t == self ? stack_pointer : t->stack_pointer);
      t->stack_scanned = true;
    }
  }
  marking_marker_end(&m);
  store_relaxed(&allocate_black, true);
  barrier_set_active(true);
  if (marking.mode == MODE_INCREMENTAL)
    barrier_all_stacks_black(); // every stack was scanned above
  store_relaxed(&marking.workers_allowed, true);
  store_relaxed(&cycle_stats.phase, PHASE_MARK_CONCURRENT);
  marking.start_heap_in_use = load_relaxed(&pacer.heap_in_use);
  uint64_t end = cycle_now_ns(); // the pause ends here: see start_world
  start_world();
  roots_unlock();
  threads_unlock();
  marking.start_ns = end;
  marking.stw1_ns = end - stop_begin;
  marking.sweep_termination_ns = stop_begin - begin;
  cycle_record_pause(end - stop_begin, 0);
}

static void trace_cycle(uint64_t cycle, uint64_t stw2, uint64_t concurrent, uint64_t heap_before,
                        uint64_t marked, unsigned threads, uint64_t assist_ns,
                        uint64_t worker_ns) {
  const double ms = 1e6, mb = 1048576.0;
  shade_message("gc %llu @%.3fs %s: %.3f+%.3f+%.3f ms clock (STW start + %s mark + STW end), "
                "%.3f ms assist, %.3f ms worker cpu (%.0f%% of the mark), %.1f->%.1f MB, "
                "%.1f MB goal, %.1f MB trigger, %u threads",
                (unsigned long long)cycle, (double)(cycle_now_ns() - cycle_start_ns()) / 1e9,
                marking.mode == MODE_CONCURRENT ? "concurrent" : "incremental",
                (double)marking.stw1_ns / ms, (double)concurrent / ms, (double)stw2 / ms,
                marking.mode == MODE_CONCURRENT ? "concurrent" : "incremental",
                (double)assist_ns / ms, (double)worker_ns / ms,
                concurrent ? 100.0 * (double)worker_ns / (double)concurrent : 0.0,
                (double)heap_before / mb, (double)marked / mb,
                (double)load_relaxed(&pacer.heap_goal) / mb,
                (double)load_relaxed(&pacer.trigger) / mb, threads);
}

void marking_finish(struct shade_thread *self, uintptr_t stack_pointer) {
  uint64_t begin = cycle_now_ns();
  concurrent_pause_workers();
  uint64_t worker_before = load_relaxed(&marking.worker_ns);
  threads_lock();
  roots_lock(); // before the stop: a stopped thread may hold it (shade_add_roots)
  uint64_t stop_begin = cycle_now_ns();
  stop_world(self);
  store_relaxed(&cycle_stats.phase, PHASE_MARK_TERMINATION);
  uint64_t heap_before = load_relaxed(&pacer.heap_in_use);
  unsigned threads = threads_count();
  struct marker m;
  marker_begin(&m, false);
  if (!load_relaxed(&marking.ranges_scanned))
    roots_mark_ranges(&m);
  for (struct shade_thread *t = threads_first(); t; t = t->next) {
    roots_mark_thread(&m, t, t == self ? stack_pointer : t->stack_pointer); // see above
    barrier_flush_into(t, &m);
    thread_cache_flush(t); // black allocation ranges get their marks
  }
  store_relaxed(&allocate_black, false);
  barrier_set_active(false);
  uint64_t bailouts = worklist_bailout_move_into(&m.work); // scanned now, the world stopped
  atomic_fetch_add(&marking.bailouts, bailouts);
  uint64_t drained = 0;
  unsigned helpers = cycle_config.markers > 1 ? cycle_config.markers - 1 : 0;
  if (helpers) {
    mark_drain_parallel(&m, helpers, &drained);
  } else {
    worklist_begin(1);
    mark_drain(&m);
    drained = m.marked_bytes;
  }
  marker_end(&m);
  uint64_t traced = load_relaxed(&marking.marked_bytes) + drained;
  uint64_t marked = traced + load_relaxed(&black_allocated_bytes);
  if (cycle_config.verify)
    verify_marking(self, stack_pointer);
  sweep_large_objects();
  uint64_t unswept_pages = central_mark_all_unswept();
  atomic_fetch_add(&heap_sweepgen, 2);
  uint64_t concurrent = stop_begin - marking.start_ns;
  pacer_end_marking(marked, traced, heap_before - marking.start_heap_in_use,
                    load_relaxed(&marking.scanned_bytes) + m.scanned_bytes);
  sweep_pacer_reset(unswept_pages); // after the pacer set the next trigger
  uint64_t cycle = atomic_fetch_add(&cycle_stats.cycles, 1) + 1;
  atomic_fetch_add(&marking.cycles, 1);
  atomic_fetch_add(&marking.concurrent_ns, concurrent);
  store_relaxed(&cycle_stats.phase, PHASE_OFF);
  uint64_t end = cycle_now_ns(); // the pause ends here: see start_world
  start_world();
  roots_unlock();
  threads_unlock();
  cycle_record_pause(end - stop_begin, end - stop_begin);
  cycle_add_gc_time(marking.stw1_ns + marking.sweep_termination_ns + (end - begin));
  if (cycle_config.trace)
    trace_cycle(cycle, end - stop_begin, concurrent, heap_before, marked, threads,
                load_relaxed(&marking.assist_ns) - marking.cycle_assist_base,
                worker_before - marking.cycle_worker_base);
  marking.cycle_assist_base = load_relaxed(&marking.assist_ns);
  marking.cycle_worker_base = load_relaxed(&marking.worker_ns);
  memory_after_cycle(begin, end);
}
