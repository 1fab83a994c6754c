// cycle.h: one collection, start to finish, and the counters it keeps.
#ifndef SHADE_GC_CYCLE_H
#define SHADE_GC_CYCLE_H
#include "base/base.h"

enum collect_reason { COLLECT_TRIGGERED, COLLECT_EXPLICIT };

// The phases a cycle goes through (concurrent and incremental drivers will stop in more of them).
enum gc_phase {
  PHASE_OFF,
  PHASE_SWEEP_TERMINATION,
  PHASE_MARK,            // stop-the-world marking
  PHASE_MARK_CONCURRENT, // incremental or concurrent marking, the barrier on (marking.h)
  PHASE_MARK_TERMINATION
};

struct cycle_stats {
  _Atomic uint64_t cycles;
  _Atomic uint64_t pause_total_ns, pause_max_ns, last_pause_ns, mark_total_ns;
  _Atomic int phase;
};

struct cycle_config {
  unsigned markers; // marking threads including the collector
  bool trace;
  bool verify;
};

extern struct cycle_stats cycle_stats;
extern struct cycle_config cycle_config;

void cycle_init(void);
void cycle_collect(enum collect_reason reason);
void cycle_lock(void);
void cycle_unlock(void);
void cycle_after_fork_child(void);
uint64_t cycle_now_ns(void);
uint64_t cycle_start_ns(void);                             // when Shade started
void cycle_record_pause(uint64_t pause_ns, uint64_t mark_ns); // statistics of one STW pause
void cycle_add_gc_time(uint64_t ns);                       // the trace line's GC share

#endif
