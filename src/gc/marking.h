// marking.h: incremental and concurrent marking, the state they share, and the calls the
// collector's controller (collector.c) makes into them.
//
//   incremental  mark start (STW: every root greyed) -> marking in slices on allocating threads,
//                sized by what they allocate (assist.c), and by an idle worker while the program
//                leaves a CPU idle (concurrent.c) -> mark termination (STW)
//   concurrent   mark start (barrier on, no thread stopped) -> the controller thread scans
//                globals, then each stack with a one-thread stop -> background workers (about 25%
//                of the CPUs, a fractional worker where that is not a whole CPU) and mark assists
//                drain the worklists -> rounds of one-thread handshakes until one finds nothing
//                -> mark termination (STW) -> background sweeping (concurrent.c)
// The stop-the-world mark start and mark termination are mark_phase.c (incremental marking, and
// the concurrent termination's fallbacks); the concurrent ones are mark_handshakes.c; which one
// runs when is the controller's decision. A marking knows its own driver (marking.record.driver) and behaves accordingly.
// Invariants while marking (phase_is_marking()): the barrier is on; allocation is black; every
// thread whose stack_scanned is set holds only pointers to marked objects or to objects still
// reachable from a grey or white heap object (hybrid barrier).
#ifndef SHADE_GC_MARKING_H
#define SHADE_GC_MARKING_H
#include "gc/mark.h"
#include "gc/phases.h"
#include "gc/threads.h"

// Every field is written by markers and the collecting thread while a marking is under way;
// atomics are read racily by anyone, the plain fields only under the collector lock.
struct marking_state {
  struct cycle_record record;      // the marking under way, or the last one (collector lock)
  _Atomic int driver;              // record.driver, for assists (read without the lock)
  _Atomic bool ranges_scanned;     // data segments and user ranges greyed this cycle
  _Atomic uint64_t scanned_bytes;  // scan work done this cycle (all markers)
  _Atomic uint64_t marked_bytes;   // bytes greyed this cycle by markers that have finished
  _Atomic uint64_t assist_credit;  // scan work the background workers did ahead of assists
  _Atomic int active_markers;      // markers holding local work right now
  _Atomic bool workers_allowed;    // cleared before mark termination stops the world
  _Atomic unsigned assist_pollers; // assists waiting for work in short naps (assist.c)
  unsigned assist_poller_limit;    // at most this many: the online CPUs
  _Atomic uint64_t assist_naps, assist_pollers_max; // statistics
  uint64_t start_ns, start_heap_in_use;
  uint64_t cycle_assist_base, cycle_worker_base; // the counters at the last cycle's end
  // statistics
  _Atomic uint64_t assist_ns, worker_ns, concurrent_ns, cycles;
  _Atomic uint64_t bailouts; // objects deferred to mark termination (SHADE_TYPE_SCAN_STOPPED)
};

extern struct marking_state marking;

// assist.c. An allocating thread (outside critical sections) just took `bytes` while a marking
// is under way: it pays for them in scan work; a slice of an incremental marking that finds no
// work left anywhere ends the marking.
void marking_assist(struct shade_thread *t, uint64_t bytes);

// mark_phase.c. Both with the collector lock held; self is the calling registered thread (or
// NULL), stack_pointer where its roots start. driver: DRIVER_INCREMENTAL (every root is greyed
// in the start pause) or DRIVER_CONCURRENT (the controller thread scans them).
void marking_start(struct shade_thread *self, uintptr_t stack_pointer, enum cycle_driver driver);
void marking_finish(struct shade_thread *self, uintptr_t stack_pointer);

// mark_handshakes.c: the concurrent controller's mark start and mark termination, which stop no
// more than one thread at a time. Collector lock held, caller unregistered.
void marking_start_running(void);
// Thread t is stopped (a handshake): scan its stack and thread-locals, grey its cached
// uncollectable objects, mark its barrier buffer, take its cached spans back; its stack is black.
void marking_scan_thread(struct marker *m, struct shade_thread *t);
// Every grey stack, one handshake each (registry locked); then, if every stack is black, the
// barrier's flag 2. false if some thread could not be signalled.
bool marking_scan_grey_stacks(struct marker *m);
#define RAGGED_ROUNDS_MAX 8 // rounds of handshakes before a termination stops the world instead
enum termination {
  TERMINATION_DONE,           // the marking ended
  TERMINATION_NOT_YET,        // work turned up (or some marker was busy): mark on
  TERMINATION_STOP_THE_WORLD, // this marking must end with marking_finish
};
// Round number `round` (1, 2, ...) of trying to end the marking once no work is left.
enum termination marking_try_finish_running(unsigned round);
// A marker is done for now: publish its remaining work, add its counts to the cycle's.
void marking_marker_end(struct marker *m);
// At mark start (registry locked): every thread's stack grey, the cycle's counters at 0, the
// shared worklist empty.
void marking_reset(void);
// No work anywhere: nothing shared, no marker holding local work.
bool marking_out_of_work(void);

// concurrent.c. worker_share: CPUs the background workers use; idle_marking: the fractional
// worker also marks on CPUs the program leaves idle.
void concurrent_init(double worker_share, unsigned cpus, bool idle_marking);
// Incremental mode: the idle worker alone (marks while the program leaves a CPU idle).
void concurrent_init_idle_worker(unsigned cpus);
void concurrent_request_cycle(void);
// A concurrent cycle now, whatever the pacer says (unless collection is disabled), and wait for
// its marking to end; one under way at the call does not count. The caller is not a registered
// thread (the scavenger). false when there is no controller thread: collect another way.
bool concurrent_collect(void);
// The same, without waiting: a concurrent cycle starts soon (shade_collect_generation's
// SHADE_COLLECT_NONBLOCKING). false when there is no controller thread.
bool concurrent_start_cycle(void);
void concurrent_pause_workers(void);   // before mark termination (collector lock held)
void concurrent_after_fork_child(void);

#endif
