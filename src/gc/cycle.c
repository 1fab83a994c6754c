// cycle.c: the collection cycle, as a sequence of phases (DESIGN.md section 6):
//
//   off --trigger--> sweep termination: finish sweeping the last cycle's spans (mutators run),
//                    list the data segments, lock the registry and roots, stop the world,
//                    take every span back from the thread caches
//       --> mark: grey the roots, drain the worklists on the collecting thread and the helper
//                 pool in parallel (world stopped), verify if asked
//       --> mark termination: free unmarked large objects, make every small span unswept
//                 (sweepgen += 2), set the next heap goal, start the world
//       --> off: spans are swept lazily as threads need them, or at the next sweep termination.
//
// Invariants: only one cycle runs at a time (gc_mutex); every span is swept before marking
// starts; no thread is stopped inside an allocator critical section; no C library allocation
// happens while the world is stopped (the collector uses metadata memory only).
#define _GNU_SOURCE
#include "gc/cycle.h"

#include <pthread.h>
#include "gc/registers.h"
#include <stdio.h>
#include <time.h>

#include "alloc/arena.h"
#include "alloc/pageheap.h"
#include "base/message.h"
#include "gc/mark.h"
#include "gc/marking.h"
#include "gc/memory_limits.h" // memory limits (issue 5)
#include "gc/pacer.h"
#include "gc/roots.h"
#include "gc/stop_world.h"
#include "gc/sweep.h"
#include "gc/sweep_pacer.h"
#include "gc/verify.h"
#include "alloc/large.h"

struct cycle_stats cycle_stats;
struct cycle_config cycle_config;
static pthread_mutex_t gc_mutex = PTHREAD_MUTEX_INITIALIZER;
static uint64_t start_time_ns;
static uint64_t gc_time_total_ns;

uint64_t cycle_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void cycle_init(void) { start_time_ns = cycle_now_ns(); }
void cycle_lock(void) { lock_stoppable(&gc_mutex); }
void cycle_unlock(void) { pthread_mutex_unlock(&gc_mutex); }
void cycle_after_fork_child(void) { pthread_mutex_init(&gc_mutex, NULL); }

uint64_t cycle_start_ns(void) { return start_time_ns; }
void cycle_add_gc_time(uint64_t ns) { gc_time_total_ns += ns; }

void cycle_record_pause(uint64_t pause_ns, uint64_t mark_ns) {
  atomic_fetch_add(&cycle_stats.pause_total_ns, pause_ns);
  atomic_fetch_add(&cycle_stats.mark_total_ns, mark_ns);
  store_relaxed(&cycle_stats.last_pause_ns, pause_ns);
  if (pause_ns > load_relaxed(&cycle_stats.pause_max_ns))
    store_relaxed(&cycle_stats.pause_max_ns, pause_ns);
}

static void trace_line(uint64_t cycle, uint64_t begin, uint64_t stopped, uint64_t marked_at,
                       uint64_t end, uint64_t heap_before, uint64_t marked, unsigned threads) {
  const double ms = 1e6, mb = 1048576.0;
  double elapsed = (double)(end - start_time_ns);
  shade_message("gc %llu @%.3fs %.0f%%: %.3f+%.3f+%.3f ms clock, %.1f->%.1f->%.1f MB, "
                "%.1f MB goal, %.1f MB mapped, %u threads, %u markers",
                (unsigned long long)cycle, elapsed / 1e9,
                elapsed > 0 ? 100.0 * (double)gc_time_total_ns / elapsed : 0.0,
                (double)(stopped - begin) / ms, (double)(marked_at - stopped) / ms,
                (double)(end - marked_at) / ms, (double)heap_before / mb, (double)marked / mb,
                (double)marked / mb, (double)load_relaxed(&pacer.heap_goal) / mb,
                (double)arena_mapped_bytes() / mb, threads, cycle_config.markers);
}

static SHADE_NOINLINE void mark_world(struct shade_thread *self, uintptr_t stack_pointer,
                                      uint64_t *marked) {
  struct marker m;
  marker_begin(&m, false);
  roots_mark(&m, self, stack_pointer);
  unsigned helpers = cycle_config.markers > 1 ? cycle_config.markers - 1 : 0;
  if (helpers)
    mark_drain_parallel(&m, helpers, marked);
  else {
    worklist_begin(1);
    mark_drain(&m);
    *marked = m.marked_bytes;
  }
  marker_end(&m);
  if (cycle_config.verify)
    verify_marking(self, stack_pointer);
}

static SHADE_NOINLINE void collect(enum collect_reason reason, uintptr_t stack_pointer);

// The collecting thread's own roots start here, at the entry to the collector: its registers are
// spilled into this frame, and the deeper frames of the collector itself are not roots. (Scanning
// from deeper down would read dead stack the collector reuses, full of stale pointers.)
SHADE_NOINLINE void cycle_collect(enum collect_reason reason) {
  volatile uintptr_t registers[REGISTER_SPILL_WORDS];
  SPILL_REGISTERS(registers);
  collect(reason, (uintptr_t)registers);
  __asm__ volatile("" : : "r"(registers) : "memory");
}

static SHADE_NOINLINE void collect(enum collect_reason reason, uintptr_t stack_pointer) {
  struct shade_thread *self = current_thread;
  lock_stoppable(&gc_mutex);
  if (reason == COLLECT_TRIGGERED && !pacer_should_collect()) {
    pthread_mutex_unlock(&gc_mutex); // another thread collected while we waited
    return;
  }
  if (marking_active()) // an incremental or concurrent marking is under way: finish it first
    marking_finish(self, stack_pointer);
  uint64_t begin = cycle_now_ns();
  uint64_t heap_before = load_relaxed(&pacer.heap_in_use);
  store_relaxed(&cycle_stats.phase, PHASE_SWEEP_TERMINATION);
  sweep_pacer_note_termination(central_sweep_all());
  roots_prepare();
  if (cycle_config.markers > 1)
    mark_pool_prepare(cycle_config.markers - 1);
  threads_lock();
  roots_lock();
  uint64_t stop_begin = cycle_now_ns();
  stop_world(self);
  unsigned threads = threads_count();
  for (struct shade_thread *t = threads_first(); t; t = t->next)
    thread_cache_flush(t);
  uint64_t stopped = cycle_now_ns();

  store_relaxed(&cycle_stats.phase, PHASE_MARK);
  uint64_t marked = 0;
  mark_world(self, stack_pointer, &marked);
  uint64_t marked_at = cycle_now_ns();

  store_relaxed(&cycle_stats.phase, PHASE_MARK_TERMINATION);
  sweep_large_objects();
  uint64_t unswept_pages = central_mark_all_unswept();
  atomic_fetch_add(&heap_sweepgen, 2);
  pacer_end_cycle(marked);
  sweep_pacer_reset(unswept_pages); // after the pacer set the next trigger
  uint64_t cycle = atomic_fetch_add(&cycle_stats.cycles, 1) + 1;
  uint64_t end = cycle_now_ns(); // the pause ends here: see start_world
  start_world();
  roots_unlock();
  threads_unlock();
  store_relaxed(&cycle_stats.phase, PHASE_OFF);

  cycle_record_pause(end - stop_begin, marked_at - stopped);
  gc_time_total_ns += end - begin;
  if (cycle_config.trace)
    trace_line(cycle, begin, stopped, marked_at, end, heap_before, marked, threads);
  memory_after_cycle(begin, end); // memory limits (issue 5): limiter, eager sweep, scav trace
  pthread_mutex_unlock(&gc_mutex);
}
