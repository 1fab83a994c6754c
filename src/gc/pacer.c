// pacer.c: the heap goal (pacer.h). Go's rule: goal = live heap x (1 + GOGC/100), with a floor so
// small heaps do not collect constantly.
#include "gc/pacer.h"

struct pacer pacer;

static void set_goal(void) {
  int percent = load_relaxed(&pacer.gc_percent);
  uint64_t marked = load_relaxed(&pacer.heap_marked);
  uint64_t goal = percent < 0 ? UINT64_MAX : marked + marked / 100 * (uint64_t)percent;
  if (goal < pacer.min_goal)
    goal = pacer.min_goal;
  if (goal <= marked) // percent 0: still let a little allocation happen between cycles
    goal = marked + (uint64_t)64 * PAGE_SIZE;
  store_relaxed(&pacer.heap_goal, goal);
}

void pacer_init(int gc_percent, uint64_t min_goal) {
  store_relaxed(&pacer.gc_percent, gc_percent);
  pacer.min_goal = min_goal;
  set_goal();
}

void pacer_end_cycle(uint64_t marked_bytes) {
  store_relaxed(&pacer.heap_marked, marked_bytes);
  store_relaxed(&pacer.heap_in_use, marked_bytes);
  set_goal();
}

int pacer_set_percent(int percent) {
  int old = atomic_exchange(&pacer.gc_percent, percent < 0 ? -1 : percent);
  set_goal();
  return old;
}
