// pacer.c: the heap goal (pacer.h). Go's rule, goal = live heap x (1 + GOGC/100), where the
// growth counts pointer-free live bytes at noscan_weight percent (bdwgc's pace; 100, Go's, by
// default), plus (not Go's) the bytes the last marking allocated black, up to the growth (see (*)
// below); with a floor so small heaps do not collect constantly; with retain_goal, never below
// the largest goal set so far (bdwgc's heap: it grows when collections come too often, never
// shrinks, and is used up before each collection); then the soft memory limit may lower it
// (memory_limits_goal, which reads atomics only: set_goal runs with the world stopped).
// The roots are not in the goal. Go 1.18 adds (stacks + globals) x GOGC/100; tried here, it gave
// Guile's weak table (0.9 MB of roots over a 3.4 MB live heap) more room between collections,
// in which its dead entries, kept one extra cycle, held more of the heap: live 3.4 -> 5.6 MB, peak
// RSS 20.5 -> 28 MB. The bytes scanned are reported (shade_stats.root_bytes).
#include "gc/pacer.h"

#include "gc/mark.h"
#include "gc/memory_limits.h"
#include "gc/sweep_pacer.h"

struct pacer pacer;

// The marked bytes the goal grows from: pointer-free ones weighted (pacer.h).
static uint64_t counted_bytes(uint64_t marked) {
  uint64_t noscan = load_relaxed(&pacer.heap_noscan);
  if (pacer.noscan_weight >= 100 || noscan == 0)
    return marked;
  if (noscan > marked)
    noscan = marked;
  return marked - noscan + noscan / 100 * pacer.noscan_weight;
}

// The pointer-free bytes the markers marked since the last call (the cycle that just ended).
static uint64_t take_noscan_marked(void) {
  uint64_t total = load_relaxed(&mark_noscan_bytes_total);
  uint64_t noscan = total - pacer.noscan_total_seen;
  pacer.noscan_total_seen = total;
  return noscan;
}

static void set_goal(uint64_t heap_in_use_now) {
  int percent = load_relaxed(&pacer.gc_percent);
  uint64_t marked = load_relaxed(&pacer.heap_marked);
  uint64_t floating = load_relaxed(&pacer.heap_floating);
  uint64_t runway = 0, goal = UINT64_MAX; // saturating: any int percent is accepted
  if (percent >= 0 &&
      !__builtin_mul_overflow(counted_bytes(marked) / 100, (uint64_t)percent, &runway)) {
    uint64_t counted = floating < runway ? floating : runway; // (*)
    if (__builtin_add_overflow(marked, runway, &goal) ||
        __builtin_add_overflow(goal, counted, &goal))
      goal = UINT64_MAX;
  }
  if (goal < pacer.min_goal)
    goal = pacer.min_goal;
  if (pacer.retain_goal && percent >= 0) {
    uint64_t largest = load_relaxed(&pacer.largest_goal);
    if (goal < largest)
      goal = largest;
    else
      store_relaxed(&pacer.largest_goal, goal);
  }
  goal = memory_limits_goal(goal, marked, heap_in_use_now);
  if (goal <= marked) // percent 0: still let a little allocation happen between cycles
    goal = marked + (uint64_t)64 * PAGE_SIZE;
  store_relaxed(&pacer.heap_goal, goal);
  uint64_t trigger = goal;
  if (pacer.early_trigger && goal != UINT64_MAX) {
    uint64_t start = marked + floating; // the heap in use when the sweep is done
    uint64_t base = start < goal ? start : marked < goal ? marked : 0, way = goal - base;
    double needed = pacer.cons_mark * (double)(marked > pacer.min_goal / 2 ? marked
                                                                            : pacer.min_goal / 2);
    uint64_t earliest = base + way / 2, latest = base + way - way / 20;
    trigger = needed >= (double)goal ? earliest : goal - (uint64_t)needed;
    trigger = trigger < earliest ? earliest : trigger > latest ? latest : trigger;
  }
  store_relaxed(&pacer.trigger, trigger);
}

void pacer_use_early_trigger(void) {
  pacer.early_trigger = true;
  pacer.cons_mark = 0.5;
  set_goal(load_relaxed(&heap_account.in_use));
}

// (*) The goal grows from the traced bytes plus the bytes allocated black, counted once. Objects
// allocated while marking are mostly floating garbage by the next cycle, yet no cycle before the
// next one ends can free them, so the next cycle starts with them in the heap:
//   - not counting them leaves the next cycle a runway of percent x live minus them, and the
//     program pays the difference in assists, cycle after cycle (churn: 0.83 x the stop-the-world
//     throughput, 1.66 GB peak RSS);
//   - counting them once gives the runway a stop-the-world collection has, percent x live, so
//     every mode collects as often for the same percent (churn: 1.04-1.13 x, 2.1-2.3 GB);
//   - Go counts them as live and doubles them with the rest: on a workload that replaces its
//     heap steadily the goal ratchets up to twice what is really live.
// At most the runway's worth is counted: more comes from a marking that fell far behind (the heap
// may pass the goal by half before assists stop it), and a goal raised for all of it lets the
// next marking fall further behind (4 threads allocating on 2 CPUs: 3 x live, not 2 x).
// Half weight was the default for a while (1.0 x at 1.93 GB, but 0.86 x in a full benchmark
// run on a busy machine): it missed the throughput target whenever marking ran slow.
void pacer_end_marking(uint64_t marked, uint64_t traced, uint64_t allocated_during,
                       uint64_t scanned, uint64_t root_bytes) {
  if (scanned > 0) {
    double observed = (double)allocated_during / (double)scanned;
    pacer.cons_mark = 0.5 * pacer.cons_mark + 0.5 * observed;
  }
  uint64_t heap_in_use_before = load_relaxed(&heap_account.in_use);
  store_relaxed(&pacer.root_bytes, root_bytes);
  store_relaxed(&pacer.heap_marked, traced);
  store_relaxed(&pacer.heap_noscan, take_noscan_marked());
  store_relaxed(&pacer.heap_floating, marked > traced ? marked - traced : 0);
  store_relaxed(&heap_account.in_use, marked);
  set_goal(heap_in_use_before);
}

double pacer_assist_ratio(uint64_t scanned_so_far) {
  uint64_t expected = load_relaxed(&pacer.heap_marked);
  if (expected < pacer.min_goal / 2)
    expected = pacer.min_goal / 2;
  uint64_t remaining = scanned_so_far < expected ? expected - scanned_so_far : expected / 10;
  uint64_t goal = load_relaxed(&pacer.heap_goal), in_use = load_relaxed(&heap_account.in_use);
  uint64_t hard_goal = goal + goal / 10; // past the goal, Go aims at 1.1 x goal
  uint64_t runway = hard_goal > in_use ? hard_goal - in_use : 0;
  if (runway < goal / 20)
    runway = goal / 20 + 1;
  return (double)remaining / (double)runway;
}

void pacer_init(int gc_percent, uint64_t min_goal, bool retain_goal, int noscan_weight) {
  store_relaxed(&pacer.gc_percent, gc_percent);
  pacer.min_goal = min_goal;
  pacer.retain_goal = retain_goal;
  pacer.noscan_weight = noscan_weight > 0 && noscan_weight < 100 ? (unsigned)noscan_weight : 100;
  set_goal(0);
}

void pacer_skip_young_cycle(void) { take_noscan_marked(); }

void pacer_end_cycle(uint64_t marked_bytes, uint64_t root_bytes) {
  uint64_t heap_in_use_before = load_relaxed(&heap_account.in_use);
  store_relaxed(&pacer.root_bytes, root_bytes);
  store_relaxed(&pacer.heap_marked, marked_bytes);
  store_relaxed(&pacer.heap_noscan, take_noscan_marked());
  store_relaxed(&pacer.heap_floating, 0);
  store_relaxed(&heap_account.in_use, marked_bytes);
  set_goal(heap_in_use_before);
}

int pacer_set_percent(int percent) {
  int old = atomic_exchange(&pacer.gc_percent, percent < 0 ? -1 : percent);
  set_goal(load_relaxed(&heap_account.in_use));
  sweep_pacer_retarget();
  return old;
}

void pacer_update_goal(void) {
  set_goal(load_relaxed(&heap_account.in_use));
  sweep_pacer_retarget();
}
