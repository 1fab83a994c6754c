// phases.c: the steps of a collection (phases.h) and the statistics of pauses. The trace line
// is a listener of the cycle-end event (trace_line.c).
#define _GNU_SOURCE
#include "gc/phases.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "alloc/arena.h"
#include "alloc/central.h"
#include "alloc/sweep.h"
#include "base/message.h"
#include "gc/events.h"
#include "gc/finalization.h"
#include "gc/generations.h"
#include "gc/marking.h"
#include "gc/memory_limits.h"
#include "gc/pacer.h"
#include "gc/roots.h"
#include "gc/stop_world.h"
#include "gc/sweep_pacer.h"
#include "gc/verify.h"

_Atomic int gc_phase;
_Atomic uint32_t phase_waiters;

void phase_wake_waiters(void) {
  syscall(SYS_futex, (uint32_t *)&gc_phase, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
}

void phase_wait_while(enum gc_phase phase, uint64_t timeout_ns) {
  struct timespec timeout = {(time_t)(timeout_ns / 1000000000u), (long)(timeout_ns % 1000000000u)};
  atomic_fetch_add(&phase_waiters, 1); // (seq_cst: counted before the kernel compares the word)
  syscall(SYS_futex, (uint32_t *)&gc_phase, FUTEX_WAIT_PRIVATE, (uint32_t)phase, &timeout, NULL, 0);
  atomic_fetch_sub(&phase_waiters, 1);
}
struct cycle_stats cycle_stats;
struct cycle_config cycle_config;
static uint64_t start_time_ns;
static uint64_t gc_time_total_ns; // collector lock held

uint64_t cycle_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void cycle_clock_init(void) { start_time_ns = cycle_now_ns(); }
uint64_t cycle_start_ns(void) { return start_time_ns; }

void phase_sweep_termination(struct cycle_record *r) {
  r->begin_ns = cycle_now_ns();
  events_cycle_begin(r->begin_ns, heap_account_in_use(), r->generation);
  events_phase_begin(SHADE_PHASE_SWEEP_TERMINATION, r->begin_ns);
  phase_set(PHASE_SWEEP_TERMINATION);
  uint64_t pages = central_sweep_all();
  sweep_pacer_note_termination(pages, cycle_now_ns() - r->begin_ns);
  events_phase_end(SHADE_PHASE_SWEEP_TERMINATION, 0);
}

void phase_stop(struct shade_thread *self, struct cycle_record *r) {
  roots_prepare();
  threads_lock();
  roots_lock(); // before the stop: a stopped thread may hold it (shade_add_roots)
  finalization_lock(); // the same (shade_set_finalizer, shade_weak_link, ...)
  r->stop_begin_ns = cycle_now_ns();
  events_pause_begin(r->stop_begin_ns);
  events_phase_begin(SHADE_PHASE_STOP_REQUESTED, r->stop_begin_ns);
  stop_world(self);
  r->stopped_ns = cycle_now_ns();
  events_phase_end(SHADE_PHASE_STOP_REQUESTED, r->stopped_ns);
  events_phase_begin(SHADE_PHASE_WORLD_STOPPED, r->stopped_ns);
  r->threads = threads_count();
  r->heap_before = heap_account_in_use();
}

void phase_flush_caches(void) {
  for (struct shade_thread *t = threads_first(); t; t = t->next)
    thread_cache_flush(&t->cache);
}

// Helpers join a drain only once the first SERIAL_DRAIN_BYTES did not finish it: a young
// collection that finds little alive is over before a helper would be awake (GCBench's: 0.07 ms
// of marking with one marker, 0.10 to 0.15 ms waking the other and waiting for it).
#define SERIAL_DRAIN_BYTES ((uint64_t)128 << 10)

uint64_t phase_drain(struct marker *m) {
  unsigned helpers = cycle_config.markers > 1 ? cycle_config.markers - 1 : 0;
  uint64_t drained = 0;
  if (helpers && !mark_drain_budget(m, SERIAL_DRAIN_BYTES, NULL)) {
    drained = m->marked_bytes;
  } else if (helpers) {
    mark_drain_parallel(m, helpers, &drained);
  } else {
    worklist_begin(1);
    mark_drain(m);
    drained = m->marked_bytes;
  }
  return drained;
}

uint64_t phase_end_marking(struct shade_thread *self, uintptr_t stack_pointer,
                           enum sweep_kind kind) {
  if (cycle_config.verify)
    verify_marking(self, stack_pointer, false);
  store_relaxed(&heap_sweep_kind, kind);
  sweep_large_objects(kind);
  if (kind == SWEEP_GEN0) // only the spans allocated from need sweeping (central.h)
    return central_mark_allocated_unswept();
  uint64_t unswept_pages = central_mark_all_unswept();
  atomic_fetch_add(&heap_sweepgen, 2);
  return unswept_pages;
}

uint64_t phase_close(uint64_t unswept_pages) {
  // after the pacer and the generations' budgets set the next triggers
  sweep_pacer_reset(unswept_pages, generations_next_trigger());
  uint64_t cycle = atomic_fetch_add(&cycle_stats.cycles, 1) + 1;
  phase_set(PHASE_OFF);
  return cycle;
}

static void record_pause(uint64_t pause_ns, uint64_t mark_ns) {
  atomic_fetch_add(&cycle_stats.pause_total_ns, pause_ns);
  atomic_fetch_add(&cycle_stats.mark_total_ns, mark_ns);
  store_relaxed(&cycle_stats.last_pause_ns, pause_ns);
  if (pause_ns > load_relaxed(&cycle_stats.pause_max_ns))
    store_relaxed(&cycle_stats.pause_max_ns, pause_ns);
}

void phase_restart(struct cycle_record *r, uint64_t mark_ns) {
  r->end_ns = cycle_now_ns(); // the pause ends here: see start_world
  events_phase_end(SHADE_PHASE_WORLD_STOPPED, r->end_ns);
  start_world();
  finalization_unlock();
  roots_unlock();
  threads_unlock();
  record_pause(r->end_ns - r->stop_begin_ns, mark_ns);
  events_pause_end(r->end_ns, r->end_ns - r->stop_begin_ns);
}

void cycle_report(const struct cycle_record *r, uint64_t cycle) {
  (void)cycle; // (the events number cycles themselves)
  if (r->driver == DRIVER_STW)
    gc_time_total_ns += r->end_ns - r->begin_ns;
  else // the mark-start pause and its sweep termination, and the final step
    gc_time_total_ns += r->start_pause_ns + r->start_sweep_ns + (r->end_ns - r->begin_ns);
  events_cycle_end(r, r->end_ns - start_time_ns, gc_time_total_ns); // the trace line listens
  memory_after_cycle(r->begin_ns, r->end_ns);
}
