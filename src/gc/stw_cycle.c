// stw_cycle.c: the stop-the-world collection, one driver of the collector (DESIGN.md section 6):
//
//   sweep termination -> stop -> flush caches -> mark: grey the roots, drain with every marker
//   -> end marking -> pacer: next goal -> close -> restart -> report
//
// The caller (collector.c) holds the collector lock and has finished any incremental or
// concurrent marking under way. No C library allocation happens while the world is stopped (the
// collector uses metadata memory only); no thread is stopped inside an allocator critical section.
#include "gc/stw_cycle.h"

#include "gc/pacer.h"
#include "gc/phases.h"
#include "gc/roots.h"

void stw_cycle_run(struct shade_thread *self, uintptr_t stack_pointer) {
  stw_cycle_run_inspecting(self, stack_pointer, NULL, NULL);
}

void stw_cycle_run_inspecting(struct shade_thread *self, uintptr_t stack_pointer,
                              stw_inspect_fn inspect, void *context) {
  struct cycle_record r = {.driver = DRIVER_STW};
  phase_sweep_termination(&r);
  phase_stop(self, &r);
  phase_flush_caches();

  phase_set(PHASE_MARK);
  struct marker m;
  marker_begin(&m, false);
  roots_mark(&m, self, stack_pointer);
  r.marked = phase_drain(&m);
  marker_end(&m);
  r.marked_ns = cycle_now_ns();
  if (inspect)
    inspect(self, stack_pointer, context);

  uint64_t unswept_pages = phase_end_marking(self, stack_pointer);
  pacer_end_cycle(r.marked);
  uint64_t cycle = phase_close(unswept_pages);
  phase_restart(&r, r.marked_ns - r.stopped_ns);
  cycle_report(&r, cycle);
}
