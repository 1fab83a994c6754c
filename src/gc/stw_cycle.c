// stw_cycle.c: the stop-the-world collection, one driver of the collector (DESIGN.md section 6):
//
//   sweep termination -> stop -> flush caches -> mark: grey the roots, drain with every marker
//   -> end marking -> pacer: next goal -> close -> restart -> report
//
// The caller (collector.c) holds the collector lock and has finished any incremental or
// concurrent marking under way. No C library allocation happens while the world is stopped (the
// collector uses metadata memory only); no thread is stopped inside an allocator critical section.
#include "gc/stw_cycle.h"

#include "gc/events.h"
#include "gc/pacer.h"
#include "gc/phases.h"
#include "gc/roots.h"

void stw_cycle_run(struct shade_thread *self, uintptr_t stack_pointer) {
  struct cycle_record r = {.driver = DRIVER_STW};
  phase_sweep_termination(&r);
  phase_stop(self, &r);
  phase_flush_caches();

  phase_set(PHASE_MARK);
  events_phase_begin(SHADE_PHASE_MARK_STW, 0);
  struct marker m;
  marker_begin(&m, false);
  roots_mark(&m, self, stack_pointer);
  r.marked = phase_drain(&m);
  marker_end(&m);
  r.marked_ns = cycle_now_ns();
  events_phase_end(SHADE_PHASE_MARK_STW, r.marked_ns);

  uint64_t unswept_pages = phase_end_marking(self, stack_pointer);
  pacer_end_cycle(r.marked);
  uint64_t cycle = phase_close(unswept_pages);
  phase_restart(&r, r.marked_ns - r.stopped_ns);
  cycle_report(&r, cycle);
}
