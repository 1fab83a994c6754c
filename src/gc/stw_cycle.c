// stw_cycle.c: the stop-the-world collection, one driver of the collector (DESIGN.md section 6):
//
//   sweep termination -> stop -> flush caches -> (generations: unmark the collected ones)
//   -> mark: grey the remembered set (young collections), the roots, drain with every marker
//   -> finalizers, weak references and ephemerons (weak_resolution.c)
//   -> end marking -> pacer (full) or generation budgets (young) -> close -> restart -> report
//
// The caller (collector.c) holds the collector lock and has finished any incremental or
// concurrent marking under way. No C library allocation happens while the world is stopped (the
// collector uses metadata memory only); no thread is stopped inside an allocator critical section.
#include "gc/stw_cycle.h"

#include "gc/events.h"
#include "gc/finalization.h"
#include "gc/generations.h"
#include "gc/pacer.h"
#include "gc/phases.h"
#include "gc/roots.h"

void stw_cycle_run(struct shade_thread *self, uintptr_t stack_pointer, unsigned generation) {
  stw_cycle_run_inspecting(self, stack_pointer, generation, NULL, NULL);
}

void stw_cycle_run_inspecting(struct shade_thread *self, uintptr_t stack_pointer,
                              unsigned generation, stw_inspect_fn inspect, void *context) {
  bool generational = generations_on();
  struct cycle_record r = {.driver = DRIVER_STW, .generation = generational ? generation : 2};
  phase_sweep_termination(&r);
  if (cycle_config.markers > 1) // the helpers drain beside this thread (started before the stop)
    mark_pool_prepare(cycle_config.markers - 1);
  phase_stop(self, &r);
  phase_flush_caches();
  if (generational)
    r.generation = generations_begin(generation);

  phase_set(PHASE_MARK);
  events_phase_begin(SHADE_PHASE_MARK_STW, 0);
  struct marker m;
  marker_begin(&m, false);
  if (r.generation < 2) // old objects written since the last collection: before the roots, so
    generations_mark_remembered(&m, r.generation); // that no young object marked meanwhile is
  roots_mark(&m, self, stack_pointer);              // scanned twice
  r.marked = phase_drain(&m);
  marker_end(&m);
  r.marked += finalization_resolve(); // finalizers, weak references, ephemerons
  r.marked_ns = cycle_now_ns();
  events_phase_end(SHADE_PHASE_MARK_STW, r.marked_ns);
  if (inspect)
    inspect(self, stack_pointer, context);

  enum sweep_kind kind = generational ? generations_end(r.generation, r.marked) : SWEEP_FULL;
  uint64_t unswept_pages = phase_end_marking(self, stack_pointer, kind);
  uint64_t root_bytes = roots_take_scanned_bytes(); // (a young collection's are dropped)
  if (r.generation >= 2)
    pacer_end_cycle(r.marked, root_bytes);
  else
    pacer_skip_young_cycle();
  uint64_t cycle = phase_close(unswept_pages);
  phase_restart(&r, r.marked_ns - r.stopped_ns);
  if (generational)
    generations_record_pause(r.generation, r.end_ns - r.stop_begin_ns);
  cycle_report(&r, cycle);
}
