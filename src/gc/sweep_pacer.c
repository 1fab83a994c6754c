// sweep_pacer.c: proportional sweeping (Go's sweep pacing, deductSweepCredit in mgcsweep.go).
//
// At the end of each cycle every small span becomes unswept. Lazy sweeping only sweeps the
// classes that threads allocate from, and the background sweeper runs only in concurrent mode;
// whatever they leave, the next cycle's sweep termination sweeps in one go on the thread that
// starts the cycle (6-15 ms on churn in incremental mode, where there is no background sweeper).
// So each span a thread takes also pays for sweeping, of any class, until
//   pages swept since the cycle's end >= unswept pages x (heap_in_use - heap at the end)
//                                                      / (trigger - heap at the end - margin)
// and by the time the heap reaches the trigger every span is swept. The trigger is the earlier of
// the pacer's and the next young collection's (generations_next_trigger; not a trial's): with
// generations a young collection comes long before the heap goal, and its sweep termination
// would otherwise sweep, at its start, most of what the full collection before it left (47 ms on
// churn's 1.4 GB heap). The margin is an eighth of the way, 1 MiB at most; a trigger that moves,
// with the percent or a limit, re-paces what is left over the new way (sweep_pacer_retarget). A step sweeps at most
// SWEEP_PACE_MAX_SPANS spans: it runs inside the allocation critical section, which a stop
// waits for. A program that allocates only large objects never steps; sweep termination still
// finishes the job.
//
// Invariants: the pace is reset with the world stopped, when no span is half swept (sweeping
// happens inside critical sections or under the collector lock); pages swept are counted by
// sweep_small_span whoever sweeps, so lazy and background sweeping count towards the pace.
#include "gc/sweep_pacer.h"

#include "alloc/central.h"
#include "gc/pacer.h"
#include "alloc/sweep.h"

#define SWEEP_PACE_MAX_SPANS 32
#define SWEEP_PACE_MARGIN ((uint64_t)1 << 20) // finish up to this much before the trigger (Go)

static struct {
  _Atomic uint64_t unswept_pages; // at the cycle's end
  _Atomic uint64_t swept_basis;   // sweep_swept_pages() at the cycle's end
  _Atomic uint64_t heap_basis;    // heap_in_use at the cycle's end
  _Atomic uint64_t distance;      // heap growth by which every span must be swept
  _Atomic uint64_t early_trigger; // a young collection's trigger, or UINT64_MAX
  _Atomic uint64_t paced_pages;       // swept by sweep_pacer_step (statistics)
  _Atomic uint64_t termination_pages; // left for sweep termination (statistics)
  _Atomic uint64_t termination_max_ns; // the longest sweep termination (statistics)
} pace;

uint64_t sweep_pacer_paced_pages(void) { return load_relaxed(&pace.paced_pages); }
uint64_t sweep_pacer_termination_pages(void) { return load_relaxed(&pace.termination_pages); }

uint64_t sweep_pacer_termination_max_ns(void) { return load_relaxed(&pace.termination_max_ns); }

void sweep_pacer_note_termination(uint64_t pages, uint64_t ns) {
  atomic_fetch_add_explicit(&pace.termination_pages, pages, memory_order_relaxed);
  if (ns > load_relaxed(&pace.termination_max_ns)) // (collector lock held: one writer)
    store_relaxed(&pace.termination_max_ns, ns);
}

// The heap growth by which the pace sweeps everything: up to the trigger less a margin, an
// eighth of the way, at most SWEEP_PACE_MARGIN (Go's 1 MB: a fixed one would be most of the way
// on a small heap), and at least a page (a trigger at hand sweeps at once).
static uint64_t pace_distance(uint64_t heap_now, uint64_t trigger) {
  uint64_t way = trigger > heap_now ? trigger - heap_now : 0;
  uint64_t margin = way / 8 < SWEEP_PACE_MARGIN ? way / 8 : SWEEP_PACE_MARGIN;
  return way - margin > PAGE_SIZE ? way - margin : PAGE_SIZE;
}

static void set_pace(uint64_t unswept_pages) {
  uint64_t heap_now = load_relaxed(&heap_account.in_use), trigger = load_relaxed(&pacer.trigger);
  uint64_t early = load_relaxed(&pace.early_trigger);
  if (early < trigger)
    trigger = early;
  store_relaxed(&pace.unswept_pages, unswept_pages);
  store_relaxed(&pace.swept_basis, sweep_swept_pages());
  store_relaxed(&pace.heap_basis, heap_now);
  store_relaxed(&pace.distance, pace_distance(heap_now, trigger));
}

void sweep_pacer_reset(uint64_t unswept_pages, uint64_t early_trigger) {
  store_relaxed(&pace.early_trigger, early_trigger);
  set_pace(unswept_pages);
  central_sweep_cursor_reset();
}

// What is left, spread over the way to the new trigger. Threads may step meanwhile and read a
// mix of old and new fields: at worst a step sweeps too little or up to its cap too much.
void sweep_pacer_retarget(void) {
  uint64_t swept = sweep_swept_pages() - load_relaxed(&pace.swept_basis);
  uint64_t unswept = load_relaxed(&pace.unswept_pages);
  set_pace(unswept > swept ? unswept - swept : 0);
}

void sweep_pacer_step(void) {
  uint64_t unswept = load_relaxed(&pace.unswept_pages);
  uint64_t basis = load_relaxed(&pace.swept_basis);
  uint64_t heap_basis = load_relaxed(&pace.heap_basis);
  uint64_t heap = load_relaxed(&heap_account.in_use);
  uint64_t grown = heap > heap_basis ? heap - heap_basis : 0;
  uint64_t distance = load_relaxed(&pace.distance);
  uint64_t target = grown >= distance
                        ? unswept
                        : (uint64_t)((double)unswept * (double)grown / (double)distance);
  uint64_t paced = 0;
  for (unsigned spans = 0; spans < SWEEP_PACE_MAX_SPANS; spans++) {
    uint64_t swept = sweep_swept_pages() - basis;
    if (swept >= target || swept >= unswept)
      break;
    size_t pages = central_sweep_one();
    if (pages == 0)
      break;
    paced += pages;
  }
  if (paced)
    atomic_fetch_add_explicit(&pace.paced_pages, paced, memory_order_relaxed);
}
