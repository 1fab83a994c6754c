// marking.h: concurrent and incremental marking (issue 3), the state they share, and the calls
// the allocator and the cycle make into them.
//
//   stw          every cycle is cycle.c's stop-the-world collection (the default)
//   incremental  mark start (STW: roots greyed) -> marking in slices on allocating threads, sized
//                by what they allocate (assist.c) -> mark termination (STW)
//   concurrent   mark start (STW: barrier on) -> the controller thread scans globals, then each
//                stack with a one-thread stop -> background workers (about 25% of the CPUs, a
//                fractional worker where that is not a whole CPU) and mark assists drain the
//                worklists -> ragged flushes of the barrier buffers -> mark termination (STW)
//                -> background sweeping (concurrent.c)
// Mark start and mark termination are mark_phase.c. Invariants while marking: the barrier is on;
// allocation is black; every thread whose stack_scanned is set holds only pointers to marked
// objects or to objects still reachable from a grey or white heap object (hybrid barrier).
#ifndef SHADE_GC_MARKING_H
#define SHADE_GC_MARKING_H
#include "gc/mark.h"
#include "gc/threads.h"

enum marking_mode { MODE_STW = 1, MODE_INCREMENTAL = 2, MODE_CONCURRENT = 3 };

struct marking_state {
  int mode;                        // enum marking_mode, fixed at start-up
  double worker_share;             // CPUs the background workers use (concurrent)
  unsigned cpus;
  bool idle_marking;               // the fractional worker also uses CPUs the program leaves idle
  _Atomic bool ranges_scanned;     // data segments and user ranges greyed this cycle
  _Atomic uint64_t scanned_bytes;  // scan work done this cycle (all markers)
  _Atomic uint64_t marked_bytes;   // bytes greyed this cycle by markers that have finished
  _Atomic uint64_t assist_credit;  // scan work the background workers did ahead of assists
  _Atomic int active_markers;      // markers holding local work right now
  _Atomic bool workers_allowed;    // cleared before mark termination stops the world
  uint64_t start_ns, start_heap_in_use, stw1_ns, sweep_termination_ns;
  uint64_t cycle_assist_base, cycle_worker_base; // the counters at the last cycle's end
  // statistics
  _Atomic uint64_t assist_ns, worker_ns, concurrent_ns, cycles;
  _Atomic uint64_t bailouts; // objects deferred to mark termination (SHADE_TYPE_SCAN_STOPPED)
};

extern struct marking_state marking;

void marking_init(int mode, int cpu_percent, unsigned cpus, bool idle_marking);
bool marking_active(void); // the barrier is on

// Allocation slow paths, outside critical sections: `bytes` were just taken (a span's free
// slots, or a large object). Starts a cycle at the trigger; while marking, assists.
void marking_pace(struct shade_thread *t, uint64_t bytes);

// mark_phase.c. Both with the collector lock held; self is the calling registered thread (or
// NULL), stack_pointer where its roots start.
void marking_start(struct shade_thread *self, uintptr_t stack_pointer);
void marking_finish(struct shade_thread *self, uintptr_t stack_pointer);
// A marker is done for now: publish its remaining work, add its counts to the cycle's.
void marking_marker_end(struct marker *m);
// Collector lock held: if a marking is under way, finish it now, the caller's roots starting at
// its frame (assist.c).
void marking_finish_here(struct shade_thread *self);
// No work anywhere: nothing shared, no marker holding local work.
bool marking_out_of_work(void);

// concurrent.c
void concurrent_init(void);
void concurrent_request_cycle(void);
// A concurrent cycle now, whatever the pacer says (unless collection is disabled), and wait for
// its marking to end; one under way at the call does not count. The caller is not a registered
// thread (the scavenger). false when there is no controller thread: collect another way.
bool concurrent_collect(void);
void concurrent_pause_workers(void);   // before mark termination (collector lock held)
void concurrent_after_fork_child(void);

// The collector lock (cycle.c).
void cycle_lock(void);
void cycle_unlock(void);

#endif
