// pacer.h: when to collect. The heap in use (heap_account.h, counted by the allocator) is reset
// to the marked bytes at the end of each cycle. A cycle starts when it reaches the goal =
// max(min_goal, marked + counted * percent/100 + min(floating, counted * percent/100)), where
// counted = marked - noscan + noscan * noscan_weight/100 (noscan: the marked bytes of pointer-free
// objects; weight 100 by default, 12 for bdwgc's pace), floating
// is what the last incremental/concurrent marking allocated black, lowered under a soft memory
// limit (memory_limits.h). With retain_goal (bdwgc's pace), the goal before the limit is never
// below the largest one set so far. With automatic collection off (percent < 0), a soft limit
// alone still triggers cycles.
//
// Incremental and concurrent marking start a cycle earlier, at the trigger, so that the
// marking, done while the program keeps allocating, ends near the goal: trigger = goal - runway,
// runway = cons/mark x expected scan work, where cons/mark is the bytes the program allocated per
// byte of scan work during the last markings (Go 1.18's pacer, smoothed over cycles), and the
// trigger stays between 50% and 95% of the way from the live heap to the goal. While marking,
// allocation pays scan work in proportion (pacer_assist_ratio): what is left to scan over what is
// left of the runway, as Go's assist ratio.
#ifndef SHADE_GC_PACER_H
#define SHADE_GC_PACER_H
#include "alloc/heap_account.h"
#include "base/base.h"

struct pacer {
  _Atomic uint64_t heap_goal;
  _Atomic uint64_t trigger;   // a cycle starts when heap_in_use reaches it (goal in stw mode)
  double cons_mark;           // bytes allocated per byte scanned while marking (smoothed)
  bool early_trigger;         // incremental/concurrent: trigger before the goal
  _Atomic uint64_t heap_marked;
  _Atomic uint64_t heap_floating; // allocated black by the last marking (0 after a STW cycle)
  _Atomic uint64_t root_bytes;    // root bytes the last full cycle scanned (roots.h; reported)
  _Atomic int gc_percent;   // negative: automatic collection off (unless soft_limit_on)
  _Atomic int disable_depth;
  _Atomic bool soft_limit_on; // a soft memory limit lowers the goal
  uint64_t min_goal;
  bool retain_goal;              // the goal never falls below largest_goal
  unsigned noscan_weight;        // percent: how much pointer-free marked bytes count (1-100)
  _Atomic uint64_t heap_noscan;  // of heap_marked: pointer-free objects (mark.h's total, per cycle)
  uint64_t noscan_total_seen;    // mark_noscan_bytes_total at the last cycle's end (young too)
  _Atomic uint64_t largest_goal; // with retain_goal: the largest goal set so far
};

extern struct pacer pacer;

void pacer_init(int gc_percent, uint64_t min_goal, bool retain_goal, int noscan_weight);
void pacer_end_cycle(uint64_t marked_bytes, uint64_t root_bytes);
// A young collection ended: what it marked is not the live heap the goal grows from.
void pacer_skip_young_cycle(void);
int pacer_set_percent(int percent);
void pacer_update_goal(void); // after a limit changed
void pacer_use_early_trigger(void);
// End of an incremental/concurrent marking: marked bytes (black allocation included: the heap in
// use now), traced bytes (reached from the roots: the live heap the goal grows from), bytes
// allocated while marking, scan work done, root bytes scanned.
void pacer_end_marking(uint64_t marked, uint64_t traced, uint64_t allocated_during,
                       uint64_t scanned, uint64_t root_bytes);
// Scan work owed per byte allocated now (expected scan work = the last live heap).
double pacer_assist_ratio(uint64_t scanned_so_far);

static inline bool pacer_should_collect(void) {
  return load_relaxed(&heap_account.in_use) >= load_relaxed(&pacer.trigger) &&
         (load_relaxed(&pacer.gc_percent) >= 0 || load_relaxed(&pacer.soft_limit_on)) &&
         load_relaxed(&pacer.disable_depth) == 0;
}

#endif
