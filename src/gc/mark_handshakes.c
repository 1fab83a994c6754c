// mark_handshakes.c: mark start and mark termination of a concurrent cycle, without stopping the
// world. Each step changes global words (barrier, phase, black allocation, sweep generation),
// makes them visible to every thread at once (membarrier), waits until no thread is still inside
// an allocator critical section entered before the change (stop_world_grace), and does per-thread
// work only in one-thread handshakes while the others run. No step waits for every thread to
// stop, so no pause grows with the number of threads.
//
// Mark start (the controller, collector lock held): sweep what the last cycle left; grace (a span
// some thread claimed before the sweep ended is swept when it returns); every stack grey; black
// allocation on for spans of the current sweep generation, barrier on (1), phase marking;
// grace (every later store runs the barrier: Go's rule that the barrier is on everywhere before
// any stack is scanned); grey the uncollectable objects, found through the page map (a span may
// be in a cache or on its way to a list). Then the controller scans each stack with a handshake
// (concurrent.c); that handshake also greys the thread's cached uncollectable objects and gives
// its cached spans back, so that every span it takes from then on allocates black (until then the
// thread's stack is grey and the insertion half of the barrier shades what it stores).
//
// Mark termination, once no work is left (marking_out_of_work): a round of handshakes, each
// parking its thread at a safe point (stop_world.c: between calls, so every store the thread made
// has run its barrier check) and marking its barrier buffer. If the round greyed nothing, no
// marker did anything meanwhile, and no work is left at its end, marking is complete: at the
// round's start no object was grey, no stack grey, and every pending deletion (a buffered value,
// or a store whose check had not run yet) was in a buffer the round emptied; an unmarked
// reachable object would need one of those to lead to it (the hybrid barrier's invariant), and
// marking it would have counted. Objects never turn white again and new ones are black, so it
// stays complete. A thread that could only be stopped outside a safe point has its stack and
// registers scanned in the round: that is where its unchecked store's old value is.
// Then: the verifier if asked (the world stopped: it is a debugging aid); barrier off, phase off,
// grace (no thread still marks: assists, buffer flushes and large frees check the phase inside a
// critical section); the heap's sweep generation advances (the marked spans wait for sweeping,
// central.c passes over them when it hands out spans); black allocation off, grace (no large
// object still between its two allocation steps, black_allocation.h); large objects swept
// (keeping those allocated during the marking whose mark came too late); the marked spans move to
// the unswept lists; next goal; then a last round of handshakes gives back every cached span (its
// black allocation marked first) and drops what the barrier buffered after the round, before
// another marking may begin.
//
// Fallbacks to the stop-the-world termination (mark_phase.c): objects on the bailout worklist
// (SHADE_TYPE_SCAN_STOPPED), a thread whose stack was never scanned (it could not be signalled),
// or RAGGED_ROUNDS_MAX rounds that were never clean.
//
// Mark start publishes its words in two steps, barrier and phase first, black allocation only
// after a grace: a thread that took a black slot must see the barrier too. (In one step, a thread
// could take a black slot, miss the phase and copy pointers into it unshaded: shade_realloc does
// such a copy, then frees the original, and nothing traced what the copy held. The checkmark
// caught it about one run in sixteen of conc_alloc_during_mark under load.)
//
// By default (SHADE_TERMINATION=handshakes) a marking ends as above, stopping no thread at once.
// With SHADE_TERMINATION=stop a clean round is followed by the stop-the-world termination
// instead: the rounds have emptied every barrier buffer, so that pause scans the stacks again
// (mark_phase.c) and drains what little turns up, but it waits for every thread to stop. The
// finalization pass (weak_resolution.c) needs the world stopped, so that termination is used
// whenever a finalizer, weak reference or ephemeron was registered.
#define _GNU_SOURCE
#include "gc/marking.h"

#include "alloc/arena.h"
#include "alloc/black_allocation.h"
#include "alloc/central.h"
#include "alloc/heap_account.h"
#include "alloc/large.h"
#include "alloc/sweep.h"
#include "base/options.h"
#include "gc/barrier.h"
#include "gc/events.h"
#include "gc/finalization.h"
#include "gc/pacer.h"
#include "gc/roots.h"
#include "gc/stop_world.h"
#include "gc/verify.h"


void marking_start_running(void) {
  struct cycle_record *r = &marking.record;
  *r = (struct cycle_record){.driver = DRIVER_CONCURRENT, .generation = 2};
  store_relaxed(&marking.driver, DRIVER_CONCURRENT);
  phase_sweep_termination(r);
  roots_prepare();
  threads_lock();
  stop_world_grace(NULL); // spans claimed before the sweep ended are swept now
  r->stop_begin_ns = r->stopped_ns = cycle_now_ns();
  r->threads = threads_count();
  r->heap_before = heap_account_in_use();
  marking_reset(); // every stack grey, the counters at 0
  barrier_set_active(true);
  store_relaxed(&marking.workers_allowed, true);
  phase_set_release(PHASE_MARK_CONCURRENT);
  stop_world_grace(NULL); // every store from now on runs the barrier
  // Only now may allocation turn black: a thread that takes a black slot must also see the
  // barrier and the phase (else shade_realloc, say, could copy unshaded pointers into a black
  // object and free the original: nothing would trace them). Threads may see black allocation
  // late, not early: white allocation while their stack is grey is what the barrier expects.
  black_allocation_begin(load_relaxed(&heap_sweepgen));
  stop_world_grace(NULL);
  struct marker m;
  marker_begin(&m, false);
  roots_mark_uncollectable_running(&m);
  marking_marker_end(&m);
  threads_unlock();
  marking.start_heap_in_use = heap_account_in_use();
  r->end_ns = cycle_now_ns();
  r->start_pause_ns = 0;
  r->start_sweep_ns = r->stop_begin_ns - r->begin_ns;
  marking.start_ns = r->end_ns;
  events_phase_begin(SHADE_PHASE_MARK_CONCURRENT, r->end_ns);
}

struct round {
  struct marker *m;
  uint64_t greyed;
  bool all_black;
};

static void flush_one(struct shade_thread *t, enum handshake_park how, void *context) {
  struct round *r = context;
  if (how == HANDSHAKE_FAILED)
    return; // never signalled: its stack is not black, and termination stops the world
  if (how == HANDSHAKE_ANYWHERE) { // a store of its own may not have run its check yet
    uint64_t before = r->m->marked_objects;
    roots_mark_thread(r->m, t, t->stack_pointer);
    r->greyed += r->m->marked_objects - before;
  }
  r->greyed += barrier_flush_into(t, r->m);
}

// One round of safe-point handshakes (registry locked). Returns the objects it greyed.
static uint64_t flush_round(struct marker *m) {
  struct round r = {m, 0, true};
  handshake_each(NULL, true, NULL, flush_one, &r);
  return r.greyed;
}

static void release_one(struct shade_thread *t, enum handshake_park how, void *context) {
  (void)context;
  if (how == HANDSHAKE_FAILED)
    return; // (cannot happen to a thread whose stack was scanned)
  thread_cache_flush(&t->cache);
  store_relaxed(&t->barrier_count, 0);
}

// Give back every span cached during the marking and drop the barrier buffers (registry locked).
static void release_round(void) { handshake_each(NULL, false, NULL, release_one, NULL); }

void marking_scan_thread(struct marker *m, struct shade_thread *t) {
  roots_mark_thread(m, t, t->stack_pointer);
  roots_mark_cached_uncollectable(m, t);
  barrier_flush_into(t, m);
  thread_cache_flush(&t->cache);
  t->stack_scanned = true;
}

static bool grey(struct shade_thread *t) { return !t->stack_scanned; }

static void scan_one(struct shade_thread *t, enum handshake_park how, void *context) {
  struct round *r = context;
  if (how == HANDSHAKE_FAILED)
    r->all_black = false; // a thread that cannot be signalled: termination stops the world
  else
    marking_scan_thread(r->m, t);
}

bool marking_scan_grey_stacks(struct marker *m) {
  struct round r = {m, 0, true};
  handshake_each(NULL, false, grey, scan_one, &r);
  if (r.all_black) // (until another thread registers)
    barrier_all_stacks_black();
  return r.all_black;
}

static void verify_stopped(void) {
  roots_lock();
  stop_world(NULL);
  atomic_fetch_add(&stop_counts.verify_stops, 1);
  phase_flush_caches();
  uint32_t epoch = black_allocation_large_tag(load_relaxed(&black_allocation_epoch));
  struct marker m;
  marker_begin(&m, false);
  for (struct span *s = large_first(); s; s = s->next)
    if (load_relaxed(&s->black_from) == epoch && !span_object_is_marked(s, 0))
      mark_object_and_scan(&m, s, 0);
  worklist_begin(1);
  mark_drain(&m);
  marking_marker_end(&m);
  verify_marking(NULL, 0, true);
  start_world();
  roots_unlock();
}

static void end(struct cycle_record *r, uint64_t marked_before) {
  concurrent_pause_workers();
  if (cycle_config.verify)
    verify_stopped();
  events_phase_begin(SHADE_PHASE_MARK_TERMINATION, 0);
  barrier_set_active(false);
  phase_set_release(PHASE_OFF);
  stop_world_grace(NULL); // nothing marks from here on
  uint64_t traced = load_relaxed(&marking.marked_bytes);
  (void)marked_before;
  uint64_t scanned = load_relaxed(&marking.scanned_bytes);
  uint32_t epoch = black_allocation_large_tag(load_relaxed(&black_allocation_epoch));
  store_relaxed(&heap_sweep_kind, SWEEP_FULL);
  atomic_fetch_add(&heap_sweepgen, 2); // the marked spans wait for their sweep
  uint64_t black = black_allocation_end();
  stop_world_grace(NULL); // no large allocation still marks with the old epoch
  large_lock();
  sweep_large_objects_keeping(SWEEP_FULL, epoch);
  large_unlock();
  uint64_t unswept_pages = central_mark_unswept_running();
  r->marked = traced + black;
  r->black = black;
  r->marked_ns = cycle_now_ns();
  events_phase_end(SHADE_PHASE_MARK_TERMINATION, r->marked_ns);
  r->concurrent_ns = r->begin_ns - marking.start_ns;
  pacer_end_marking(r->marked, traced, r->heap_before - marking.start_heap_in_use, scanned,
                    roots_take_scanned_bytes());
  atomic_fetch_add(&marking.cycles, 1);
  atomic_fetch_add(&marking.concurrent_ns, r->concurrent_ns);
  uint64_t cycle = phase_close(unswept_pages);
  release_round();
  threads_unlock();
  r->end_ns = r->stop_begin_ns = cycle_now_ns(); // no pause: the trace line's "STW end" is 0
  r->concurrent_ns = r->end_ns - marking.start_ns;
  r->assist_ns = load_relaxed(&marking.assist_ns) - marking.cycle_assist_base;
  r->worker_ns = load_relaxed(&marking.worker_ns) - marking.cycle_worker_base;
  marking.cycle_assist_base = load_relaxed(&marking.assist_ns);
  marking.cycle_worker_base = load_relaxed(&marking.worker_ns);
  cycle_report(r, cycle);
}

// The stop-the-world termination after all; counted when handshakes alone were asked for.
static enum termination stop_after_all(void) {
  if (shade_options_in_force.termination == 2)
    atomic_fetch_add(&stop_counts.termination_stops, 1);
  return TERMINATION_STOP_THE_WORLD;
}

enum termination marking_try_finish_running(unsigned round) {
  if (worklist_bailout_pending() || round > RAGGED_ROUNDS_MAX)
    return stop_after_all();
  threads_lock();
  bool grey = false;
  for (struct shade_thread *t = threads_first(); t; t = t->next)
    grey |= !t->stack_scanned;
  if (grey) { // registered since the stacks were scanned
    struct marker m;
    marker_begin(&m, false);
    bool all_black = marking_scan_grey_stacks(&m);
    marking_marker_end(&m);
    threads_unlock();
    return all_black ? TERMINATION_NOT_YET : stop_after_all();
  }
  uint64_t before = load_acquire(&marking.marked_bytes);
  if (!marking_out_of_work()) {
    threads_unlock();
    return TERMINATION_NOT_YET;
  }
  struct cycle_record *r = &marking.record;
  r->begin_ns = cycle_now_ns();
  struct marker m;
  marker_begin(&m, false);
  uint64_t greyed = flush_round(&m);
  marking_marker_end(&m);
  bool clean = greyed == 0 && marking_out_of_work() &&
               load_acquire(&marking.marked_bytes) == before;
  if (!clean) {
    threads_unlock();
    return TERMINATION_NOT_YET;
  }
  if (shade_options_in_force.termination != 2 || finalization_in_use()) { // (top of this file)
    threads_unlock();
    return stop_after_all();
  }
  events_phase_end(SHADE_PHASE_MARK_CONCURRENT, r->begin_ns);
  r->threads = threads_count();
  r->heap_before = heap_account_in_use();
  end(r, before);
  return TERMINATION_DONE;
}
