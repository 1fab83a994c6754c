// pacer.c: the heap goal (pacer.h). Go's rule: goal = live heap x (1 + GOGC/100), with a floor so
// small heaps do not collect constantly; then the soft memory limit may lower it
// (memory_limits_goal, which reads atomics only: set_goal runs with the world stopped).
#include "gc/pacer.h"

#include "gc/memory_limits.h"

struct pacer pacer;

static void set_goal(uint64_t heap_in_use_now) {
  int percent = load_relaxed(&pacer.gc_percent);
  uint64_t marked = load_relaxed(&pacer.heap_marked);
  uint64_t goal = percent < 0 ? UINT64_MAX : marked + marked / 100 * (uint64_t)percent;
  if (goal < pacer.min_goal)
    goal = pacer.min_goal;
  goal = memory_limits_goal(goal, marked, heap_in_use_now);
  if (goal <= marked) // percent 0: still let a little allocation happen between cycles
    goal = marked + (uint64_t)64 * PAGE_SIZE;
  store_relaxed(&pacer.heap_goal, goal);
}

void pacer_init(int gc_percent, uint64_t min_goal) {
  store_relaxed(&pacer.gc_percent, gc_percent);
  pacer.min_goal = min_goal;
  set_goal(0);
}

void pacer_end_cycle(uint64_t marked_bytes) {
  uint64_t heap_in_use_before = load_relaxed(&pacer.heap_in_use);
  store_relaxed(&pacer.heap_marked, marked_bytes);
  store_relaxed(&pacer.heap_in_use, marked_bytes);
  set_goal(heap_in_use_before);
}

int pacer_set_percent(int percent) {
  int old = atomic_exchange(&pacer.gc_percent, percent < 0 ? -1 : percent);
  set_goal(load_relaxed(&pacer.heap_in_use));
  return old;
}

void pacer_update_goal(void) { set_goal(load_relaxed(&pacer.heap_in_use)); }
