// memory_limits.h: the memory policy above the page heap: the soft memory limit (it lowers the
// heap goal) and its CPU limiter, the hard heap limit, and when idle and periodic collections run.
// The scavenger thread (scavenger.h) carries the policy out.
#ifndef SHADE_GC_MEMORY_LIMITS_H
#define SHADE_GC_MEMORY_LIMITS_H
#include "base/base.h"
#include "shade.h"

struct memory_config {
  bool scavenge;              // the background scavenger runs
  bool trace;                 // "scav" trace lines
  uint64_t idle_return_ns;    // free pages unused this long go back to the OS
  uint64_t idle_gc_ns;        // quiet time before an idle collection (0: never)
  _Atomic uint64_t periodic_gc_ns; // a collection at least this often (0: never)
};

struct memory_stats {
  _Atomic uint64_t idle_collections, periodic_collections, limiter_cycles;
  _Atomic uint64_t last_cycle_end_ns;
};

extern struct memory_config memory_config;
extern struct memory_stats memory_stats;

// From shade_init, after the pacer: applies the options and starts the scavenger if it is on.
void memory_limits_init(const struct shade_options *options);

// The heap goal after the soft limit and the CPU limiter: at most `goal`, lowered so that the
// memory Shade holds stays under the soft limit, unless collection would then take more than
// about half the CPU. heap_in_use_now is the pacer's heap_in_use before the cycle reset it. Reads
// atomics only (it runs with the world stopped).
uint64_t memory_limits_goal(uint64_t goal, uint64_t marked, uint64_t heap_in_use_now);
bool memory_soft_limit_set(void);

size_t memory_set_soft_limit(size_t bytes); // 0: none; returns the old limit
size_t memory_set_hard_limit(size_t bytes); // 0: none; returns the old limit
size_t memory_soft_limit(void);
size_t memory_hard_limit(void);

// After a cycle (cycle_report), the world restarted, the collector lock still held: records the
// cycle's time for the CPU limiter, sweeps and scavenges at once when a limit is near, wakes the
// scavenger, and prints the "scav" trace line.
void memory_after_cycle(uint64_t begin_ns, uint64_t end_ns);

// A full collection, every span swept, and every free page returned to the OS now.
// Returns the bytes released.
size_t memory_free_os_memory(void);

// Fill the memory fields of shade_stats (shade_get_stats).
void memory_get_stats(struct shade_stats *out);

#endif
