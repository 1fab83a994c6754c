// mark.h: the tri-color marking engine shared by every driver (stop-the-world, incremental,
// concurrent). White = not OBJECT_MARKED; grey = marked and the object's range is on a worklist;
// black = marked and scanned. Worklists are explicit, so marking depth never grows the C stack.
#ifndef SHADE_GC_MARK_H
#define SHADE_GC_MARK_H
#include "alloc/span.h"
#include <signal.h>

#include "gc/worklist.h"

struct marker {
  struct worklist work;
  bool checking;         // the verifier: use check_bits instead of the OBJECT_MARKED state
  bool wake_keys;        // the weak pass: report objects flagged OBJECT_EPHEMERON_KEY as marked
  uint64_t marked_bytes; // bytes of objects this marker turned grey
  uint64_t marked_objects;
  uint64_t scanned_objects; // objects (and remembered ranges) this marker pushed to be scanned
  uint64_t marked_gen0_bytes; // of marked_bytes: collectable objects of generation 0
  uint64_t marked_explicit_bytes; // of marked_bytes: uncollectable and manual objects (no age:
                                  // marked afresh by every collection, young ones included)
  uint64_t marked_noscan_bytes; // of marked_bytes: pointer-free (atomic) objects
  uint64_t scanned_bytes; // bytes of grey ranges this marker scanned (the pacer's scan work)
};

// Cards (generations.c): 0 without generations. Else, during a collection, the line between old
// and young: an object whose generation is at least the line will be gen2 after the collection
// (line 2 for a gen0 collection, 1 for gen1 and gen2 ones). A marker (not the verifier's)
// scanning such an object notes the card (cards.h) of every slot in it that points to an object
// below the line. Set by generations_begin, with the world stopped.
extern unsigned mark_card_line;
// Young collections (generations.c): 1 in a gen0 collection, 2 in a gen1 one, else 0. Then the
// markers (not the verifier's) pass over a word of a scanned object that points into a page of no
// young map (alloc/arena.h): in a gen0 collection, a page not allocated from since the last
// collection holds no gen0 object, so whatever the word names is marked already or no object
// (a free slot), and it needs no card unless it is gen1 (a word of an object above the card
// line: such words are passed over only outside YOUNG_SINCE_GEN1, where nothing is gen1 or
// gen0); in a gen1 collection, a page outside YOUNG_SINCE_GEN1 holds gen2 objects only. Set by
// generations_begin and cleared by generations_end, with the world stopped.
extern unsigned mark_young_filter;
// Objects and bytes scanned, and bytes of gen0 and explicit objects marked, by every marker but
// the verifier's, since start (markers add theirs at their end).
extern _Atomic uint64_t mark_scanned_objects_total, mark_gen0_bytes_total,
    mark_explicit_bytes_total, mark_scanned_bytes_total;
// Bytes of pointer-free objects marked by every marker but the verifier's, since start (the
// pacer's noscan weight, pacer.h).
extern _Atomic uint64_t mark_noscan_bytes_total;

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
// The same for the part of a marked large object inside [lo, hi) (the whole object if its type
// has a trace function).
void mark_scan_marked_range(struct marker *m, struct span *s, uintptr_t lo, uintptr_t hi);
// Scan grey objects until this marker and all its peers run out of work.
void mark_drain(struct marker *m);
// Concurrent and incremental marking: scan until `budget` bytes are scanned or no work is left
// (local, then the shared list; never waits for work). Returns false when the work ran out, or,
// for an allocating thread (stop given), when the shared list's lock was taken. Stops early
// when *stop becomes nonzero (stop may be NULL: a background worker).
bool mark_drain_budget(struct marker *m, uint64_t budget, volatile sig_atomic_t *stop);
// Mark the objects `count` words point into, if any (the write barrier's buffered values),
// through the edge pipeline (mark.c): the cache misses of several overlap.
void mark_pointers(struct marker *m, const uintptr_t *words, size_t count);
// Drain with `helpers` extra threads (a pool kept between cycles). m is the caller's marker.
void mark_drain_parallel(struct marker *m, unsigned helpers, uint64_t *marked_bytes);
// Run job(share, shares, context) for every share in 0..shares-1, each once, on the calling
// thread and up to `helpers` pool threads at once (they claim shares one at a time); returns
// when all are done. For work other than marking done with the world stopped.
void mark_pool_run(void (*job)(unsigned share, unsigned shares, void *context), void *context,
                   unsigned helpers, unsigned shares);
// Start the helper threads before the world stops (thread creation may call malloc).
void mark_pool_prepare(unsigned helpers);
void mark_pool_after_fork_child(void);

#endif
