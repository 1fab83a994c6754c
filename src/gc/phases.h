// phases.h: where the collector stands (the one phase variable), and the steps every collection
// is made of, shared by the three drivers: the stop-the-world cycle (stw_cycle.c) and the mark
// start and mark termination of incremental and concurrent marking (mark_phase.c).
//
//   sweep termination  world running: finish sweeping the last cycle's spans
//   stop               list the data segments, lock the registry and the roots (a stopped
//                      thread may hold either), stop every registered thread (the stw driver
//                      starts the marker pool first: a whole marking is worth the helpers; the
//                      short drain of a mark termination is not worth waking them)
//   flush caches       world stopped: every span comes back from the thread caches
//   drain              world stopped: drain the worklists with every marker
//   end marking        world stopped: verify if asked, free unmarked large objects, make every
//                      small span unswept (sweepgen += 2)
//   restart            release the world and the locks; the pause ends here
//   report             statistics, the trace line, what the memory policy does after a cycle
//
// Invariants: the collector lock (collector.h) is held from sweep termination to report; the
// phase moves into and out of PHASE_MARK_CONCURRENT and PHASE_MARK_TERMINATION with the world
// stopped, or (a concurrent cycle, mark_handshakes.c) after the barrier and black allocation
// changed, with release ordering, followed by a grace period; so a thread that sees
// phase_is_marking() inside a critical section also sees the barrier on and allocation black.
#ifndef SHADE_GC_PHASES_H
#define SHADE_GC_PHASES_H
#include "alloc/sweep.h"
#include "gc/mark.h"
#include "gc/threads.h"

enum gc_phase {
  PHASE_OFF,               // no collection: spans are swept lazily and in the background
  PHASE_SWEEP_TERMINATION, // finishing the last cycle's sweeping before a marking starts
  PHASE_MARK,              // stop-the-world marking
  PHASE_MARK_CONCURRENT,   // incremental or concurrent marking: the barrier is on
  PHASE_MARK_TERMINATION,  // the final pause of an incremental or concurrent marking
};

// Written by the collecting thread (collector lock held); read by anyone, relaxed.
extern _Atomic int gc_phase;

static inline enum gc_phase phase_now(void) { return (enum gc_phase)load_relaxed(&gc_phase); }
// An incremental or concurrent marking is under way: stores must be shaded, allocation is black.
static inline bool phase_is_marking(void) {
  enum gc_phase phase = phase_now();
  return phase == PHASE_MARK_CONCURRENT || phase == PHASE_MARK_TERMINATION;
}
// Threads blocked in phase_wait_while (the allocating threads that wait for a marking to begin
// or to end): each phase change wakes them. Waiting on the phase word itself, not in naps: 256
// threads napping 200 us at a time spent the CPUs on context switches.
extern _Atomic uint32_t phase_waiters;
void phase_wake_waiters(void);
// Sleeps while the phase is `phase`, at most timeout_ns (a signal, a stop's, ends it early too).
void phase_wait_while(enum gc_phase phase, uint64_t timeout_ns);
static inline void phase_changed(void) {
  // The count is read with a read-modify-write (a full barrier), after the phase store: a waiter
  // either counted itself first (and is woken) or its own increment, later, orders our store
  // before the kernel's comparison of the word (phase_wait_while).
  if (SHADE_UNLIKELY(atomic_fetch_add(&phase_waiters, 0) != 0))
    phase_wake_waiters();
}
static inline void phase_set(enum gc_phase phase) {
  store_relaxed(&gc_phase, (int)phase);
  phase_changed();
}
// The same, after stores every thread that sees the new phase must see too (mark_handshakes.c).
static inline void phase_set_release(enum gc_phase phase) {
  store_release(&gc_phase, (int)phase);
  phase_changed();
}

// Who ran a collection (the trace line's form).
enum cycle_driver { DRIVER_STW, DRIVER_INCREMENTAL, DRIVER_CONCURRENT };

// One collection's figures, filled by the steps and the driver, read by cycle_report.
struct cycle_record {
  enum cycle_driver driver;
  unsigned generation;      // the oldest generation collected (2: a full collection)
  uint64_t begin_ns;        // sweep termination began
  uint64_t stop_begin_ns;   // the stop was requested
  uint64_t stopped_ns;      // every thread parked
  uint64_t marked_ns;       // the drain ended
  uint64_t end_ns;          // the world was released
  uint64_t heap_before;     // heap in use when the world stopped
  uint64_t marked;          // bytes marked (black allocation included)
  uint64_t black;           // of those, the bytes allocated black while marking ran
  unsigned threads;         // registered threads
  // incremental and concurrent: the first pause, the marking between the pauses, mark work
  uint64_t start_pause_ns, start_sweep_ns, concurrent_ns, assist_ns, worker_ns;
};

struct cycle_stats {
  _Atomic uint64_t cycles;
  _Atomic uint64_t pause_total_ns, pause_max_ns, last_pause_ns, mark_total_ns;
};

struct cycle_config {
  unsigned markers; // marking threads including the collector
  bool trace;       // one line per cycle
  bool verify;      // the checkmark after every marking
};

extern struct cycle_stats cycle_stats;
extern struct cycle_config cycle_config;

uint64_t cycle_now_ns(void);
uint64_t cycle_start_ns(void);  // when Shade started
void cycle_clock_init(void);

void phase_sweep_termination(struct cycle_record *r);
// self: the calling registered thread, or NULL (Shade's own threads).
void phase_stop(struct shade_thread *self, struct cycle_record *r);
void phase_flush_caches(void);
// Drain what m and the shared worklists hold with every marker; returns the bytes the drain
// marked (m's included).
uint64_t phase_drain(struct marker *m);
// kind: how the spans will be swept (sweep.h). Returns the pages of small spans made unswept.
uint64_t phase_end_marking(struct shade_thread *self, uintptr_t stack_pointer,
                           enum sweep_kind kind);
// After the pacer set the next goal (world stopped): pace the sweeping of `unswept_pages`,
// count the cycle, phase off. Returns the cycle's number.
uint64_t phase_close(uint64_t unswept_pages);
// Release the world and the locks; records the pause (mark_ns: marking done in it).
void phase_restart(struct cycle_record *r, uint64_t mark_ns);
// After a pause that ended a cycle: gc time, trace line, memory policy.
void cycle_report(const struct cycle_record *r, uint64_t cycle);

#endif
