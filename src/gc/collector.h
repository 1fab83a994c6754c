// collector.h: the collection controller, the one place that decides which collection runs now
// and how (collector.c). Every request comes here with a reason and a kind; the allocation slow
// path reports to it; nothing else in Shade asks which mode is in force.
#ifndef SHADE_GC_COLLECTOR_H
#define SHADE_GC_COLLECTOR_H
#include "gc/stw_cycle.h"
#include "gc/threads.h"
#include "shade.h"

enum collect_reason {
  REASON_ALLOCATION,     // the heap reached the pacer's trigger
  REASON_EXPLICIT,       // shade_collect
  REASON_OUT_OF_MEMORY,  // the OS refused memory: collect, then try once more
  REASON_FREE_OS_MEMORY, // shade_free_os_memory
  REASON_IDLE,           // the program went quiet (scavenger.c)
  REASON_PERIODIC,       // SHADE_PERIODIC_GC_MS (scavenger.c)
  REASON_EXPLICIT_BACKGROUND, // shade_collect_generation(2, SHADE_COLLECT_NONBLOCKING)
};

enum collection_kind {
  COLLECTION_GEN0 = 0, // generation 0 (with generations on; else a full collection)
  COLLECTION_GEN1 = 1, // generations 0 and 1
  COLLECTION_FULL = 2, // every object is traced and every unmarked one freed (gen2)
};

// From shade_init, after the allocator and the threads: every collector module gets its
// settings from `options` here.
void collector_init(const struct shade_options *options);
int collector_mode(void); // enum shade_mode in force

// The one entry for a collection. Returns once the collection asked for has finished, except for
// REASON_ALLOCATION in incremental and concurrent mode, which starts a marking and returns.
// The caller may be a registered thread or one of Shade's own; it holds no Shade lock.
void collector_request(enum collect_reason reason, enum collection_kind kind);

// What an allocation at the trigger would collect now: COLLECTION_FULL when the heap reached the
// pacer's trigger, a young kind when gen0's budget is spent, -1 when nothing is due.
int collector_due_kind(void);

// The allocation slow path (allocate_slow.c), outside critical sections.
// Before the heap grows by a span or a large object: a stop-the-world policy collects here at
// the trigger. Returns true if it collected (the caller tries its cache again).
bool collector_collect_if_due(void);
// The heap just grew by `bytes` (a new span's free slots; a large object, just before): in
// incremental and concurrent mode this starts a marking at the trigger, or assists the one
// under way.
void collector_pace_allocation(struct shade_thread *t, uint64_t bytes);

// The collector lock: one collection step at a time. Shade's own threads (scavenger, concurrent
// controller) take it around every step that must not overlap a marking.
void collector_lock(void);
void collector_unlock(void);
// fork: before it, the lock and no marking half done (collector_lock held on return); after it,
// in the parent, collector_unlock; in the child, collector_after_fork_child.
void collector_prepare_fork(void);
void collector_after_fork_child(void);

// A full collection now (finishing a marking under way first, in every mode) with inspect called
// in its pause after marking (stw_cycle.h: the world stopped, live = marked). Takes the collector
// lock; the caller holds no Shade lock. For the heap snapshot.
void collector_collect_inspecting(stw_inspect_fn inspect, void *context);

// Run fn with the calling thread's roots starting at this frame: its registers are spilled into
// the frame first, and the deeper frames of the collector itself are not roots (scanning from
// deeper down would read dead stack the collector reuses, full of stale pointers).
typedef void (*collector_step_fn)(struct shade_thread *self, uintptr_t stack_pointer);
void collector_run_here(collector_step_fn fn, struct shade_thread *self);

#endif
