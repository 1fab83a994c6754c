// mark.h: the tri-color marking engine shared by every driver (stop-the-world, incremental,
// concurrent). White = not OBJECT_MARKED; grey = marked and the object's range is on a worklist;
// black = marked and scanned. Worklists are explicit, so marking depth never grows the C stack.
#ifndef SHADE_GC_MARK_H
#define SHADE_GC_MARK_H
#include "alloc/span.h"
#include <signal.h>

#include "gc/worklist.h"

// Pointers found by scanning an object wait here a little before they are marked, so that the
// memory they lead to (the span record, then the allocation and mark bits) is prefetched while
// other pointers are handled (mark.c). Every drain empties it before it returns.
#define EDGE_PIPE_DEPTH 16
struct edge_pipe {
  uintptr_t word[EDGE_PIPE_DEPTH];
  struct span *span[EDGE_PIPE_DEPTH];
  uint32_t index[EDGE_PIPE_DEPTH];
  unsigned added, marked; // counts of edges that entered and left (added - marked in flight)
};

struct marker {
  struct worklist work;
  struct edge_pipe edges;
  bool checking;         // the verifier: use check_bits instead of the OBJECT_MARKED state
  bool wake_keys;        // the weak pass: report objects flagged OBJECT_EPHEMERON_KEY as marked
  uint64_t marked_bytes; // bytes of objects this marker turned grey
  uint64_t marked_objects;
  uint64_t scanned_bytes; // bytes of grey ranges this marker scanned (the pacer's scan work)
};

void marker_begin(struct marker *m, bool checking);
// The weak pass's hook (weak_resolution.c): object i of s, flagged as an ephemeron key, was just
// marked by a marker with wake_keys set.
void ephemeron_key_marked(struct span *s, uint32_t i);
void marker_end(struct marker *m);

// Roots: every aligned word of [lo, hi) that points into an object marks it. (One-past-the-end
// pointers land inside their object: allocation pads requests by a byte.)
void mark_root_range(struct marker *m, uintptr_t lo, uintptr_t hi);
// Mark an object and its contents as reachable (uncollectable objects).
void mark_object_and_scan(struct marker *m, struct span *s, uint32_t index);
// Scan an object that is marked already (an old object written since the last collection, for
// a young collection): what it points to is marked; the object itself is left as it is.
void mark_scan_marked_object(struct marker *m, struct span *s, uint32_t index);
// Scan grey objects until this marker and all its peers run out of work.
void mark_drain(struct marker *m);
// Concurrent and incremental marking: scan until `budget` bytes are scanned or no work is left
// (local, then the shared list; never waits). Returns false when the work ran out. Stops early
// when *stop becomes nonzero (stop may be NULL).
bool mark_drain_budget(struct marker *m, uint64_t budget, volatile sig_atomic_t *stop);
// Mark the objects `count` words point into, if any (the write barrier's buffered values),
// through the edge pipeline (mark.c): the cache misses of several overlap.
void mark_pointers(struct marker *m, const uintptr_t *words, size_t count);
// Drain with `helpers` extra threads (a pool kept between cycles). m is the caller's marker.
void mark_drain_parallel(struct marker *m, unsigned helpers, uint64_t *marked_bytes);
// Start the helper threads before the world stops (thread creation may call malloc).
void mark_pool_prepare(unsigned helpers);
void mark_pool_after_fork_child(void);

#endif
