// pacer.h: when to collect. heap_in_use grows as threads take spans (by the free bytes of each
// span they take) and large objects, and is reset to the marked bytes at the end of each cycle.
// A cycle starts when heap_in_use reaches the goal = max(min_goal, marked * (1 + percent/100)),
// lowered under a soft memory limit (memory_limits.h). With automatic collection off
// (percent < 0), a soft limit alone still triggers cycles.
#ifndef SHADE_GC_PACER_H
#define SHADE_GC_PACER_H
#include "base.h"

struct pacer {
  _Atomic uint64_t heap_in_use;
  _Atomic uint64_t heap_goal;
  _Atomic uint64_t heap_marked;
  _Atomic uint64_t total_allocated;
  _Atomic int gc_percent;   // negative: automatic collection off (unless soft_limit_on)
  _Atomic int disable_depth;
  _Atomic bool soft_limit_on; // a soft memory limit lowers the goal
  uint64_t min_goal;
};

extern struct pacer pacer;

void pacer_init(int gc_percent, uint64_t min_goal);
void pacer_end_cycle(uint64_t marked_bytes);
int pacer_set_percent(int percent);
void pacer_update_goal(void); // after a limit changed

static inline void pacer_note_allocation(uint64_t bytes) {
  atomic_fetch_add_explicit(&pacer.heap_in_use, bytes, memory_order_relaxed);
  atomic_fetch_add_explicit(&pacer.total_allocated, bytes, memory_order_relaxed);
}

static inline void pacer_note_unused(uint64_t bytes) {
  atomic_fetch_sub_explicit(&pacer.heap_in_use, bytes, memory_order_relaxed);
  atomic_fetch_sub_explicit(&pacer.total_allocated, bytes, memory_order_relaxed);
}

static inline bool pacer_should_collect(void) {
  return load_relaxed(&pacer.heap_in_use) >= load_relaxed(&pacer.heap_goal) &&
         (load_relaxed(&pacer.gc_percent) >= 0 || load_relaxed(&pacer.soft_limit_on)) &&
         load_relaxed(&pacer.disable_depth) == 0;
}

#endif
