// generations.c: .NET's generations 0, 1 and 2 on a heap that never moves an object.
//
// Age lives in each object's state byte (span.h), and marks are sticky: an object that survives
// a collection keeps OBJECT_MARKED, so it is "old", and a later young collection neither traces
// it nor frees it (Lua 5.4 and Whippet's mmc do the same). New objects are unmarked, age 0.
//
//   gen0 collection  marks from the roots and from the old objects written since the last
//                    collection; survivors of age 0 become age 1
//   gen1 collection  unmarks gen0 and gen1 objects first, marks from the roots, from the gen2
//                    objects written since the last collection and from the gen2 objects on
//                    set cards (below); survivors age by one (gen0 -> gen1, gen1 -> gen2); gen2
//                    objects are neither traced wholesale nor freed
//   gen2 collection  a full one: every mark is cleared first, everything is traced, survivors of
//                    age 0 and 1 age by one (gen0 -> gen1 -> gen2, as .NET promotes), or all
//                    become gen2 when much was allocated since the last collection
//                    (promote_all_when_full)
// Sweeping keeps the marks of survivors and clears dead objects' states (sweep.c). After a gen0
// collection only the spans a cache allocated from need sweeping: the others hold old objects
// and free slots, which it leaves as they are (central_mark_allocated_unswept), so a gen0
// collection costs what is young, not what is old.
//
// The remembered set has two parts.
// - Written pages, from the kernel (arena_peek_written: userfaultfd asynchronous
//   write-protection + PAGEMAP_SCAN): the heap pages written since the last collection, whoever
//   wrote them (plain stores, memcpy, read(2), any thread), and the pages it left unprotected.
//   Every marked object overlapping such a page is scanned by a young collection. A gen0 object
//   can be reached from an old one only through a store made after it was allocated, so after
//   the last collection: for a gen0 collection these pages are the whole remembered set. If the
//   kernel cannot answer, the young collection scans every old object instead (always correct)
//   and the next is full. At the end of every collection, with the world stopped, the written
//   pages holding an old (marked) object are protected again; the others, where young objects
//   are allocated, stay unprotected (protect_old_pages), so that allocating there costs no fault.
//   An unprotected page is reported by every collection: that is never wrong, only walked.
// - Cards (cards.h): a byte per 512 bytes of heap. A gen1 collection also needs the gen2 objects
//   that point into gen1, whenever that pointer was stored (before the last gen0 collection, or
//   before the gen1 or full collection that promoted its target). The markers keep them: every
//   collection has a line (mark_card_line, mark.h) between what will be gen2 after it and what
//   will not (age >= 2 in a gen0 collection; age >= 1 in gen1 and gen2 ones, whose gen1 survivors
//   are promoted; age >= 0 in a full one that makes every survivor gen2), and a marker scanning
//   an object above the line notes the card of each slot in it that points to an object below
//   the line. The objects above the line that a collection
//   scans are all the gen2 objects it traces, the ones it promotes to gen2, and the remembered
//   gen2 objects (written pages, cards). A full collection clears every card before it marks;
//   a gen1 collection clears the cards it scans (their objects note again what is still young);
//   a gen0 collection only adds cards.
//
// The invariant (between collections): for every gen2 object O and every slot of O that points
// to a gen0 or gen1 object Y, the slot's card is set or its page was written since the last
// collection. Why it holds at the end of each collection C (world stopped, no page written yet):
// if the slot was written since the collection before C, C scanned O (the page was reported),
// above the line, and noted the card (Y is below it). Otherwise the slot held Y's address
// before C already. If O was above the line and traced or remembered in C, it noted the card.
// If O was gen2 and not remembered in C (a gen0 or gen1 collection: no set card, no written
// page), the invariant before C says the slot pointed to no gen0 or gen1 object then, so Y was
// gen2 and still is (gen2 objects only leave by a full collection, which traces and
// re-notes everything). Stores after C make their pages written. (A slot naming a free slot, a
// dangling pointer, does not keep what is allocated there later: no correct program reads it.) So a gen1 collection that scans
// the written pages and the set cards reaches every gen0 and gen1 object a gen2 object points to.
// The verifier (SHADE_VERIFY=1, verify.c) checks the invariant after every collection: its
// marker reports a slot of an object above the line pointing to a marked object below it with a
// clean card.
//
// Young collections run whatever the number of registered threads: every thread's stack and
// registers are roots, the kernel reports every thread's stores, and every span a cache took
// since the last collection (a cache an exiting thread flushed included) is on its class's list
// of spans allocated from. They need of the allocator that no collection ever sees an object
// holding a dead object's words: small objects are zeroed inside the critical section that takes
// their slot, large ones before their span is published (allocate.c). (Otherwise an object
// marked while a thread was still zeroing it, or born old, is old with stale words on pages that
// are not "written": the collection does not scan them, the verifier does, and follows them into
// young objects.) Built with -DSHADE_YOUNG_ONE_THREAD_ONLY, every collection is full while two or
// more program threads are registered: a way to rule generations out when a multi-threaded
// program goes wrong.
//
// When collections run (.NET's budgets): a gen0 collection when the bytes allocated since the
// last collection reach gen0's budget, which grows with the survival rate between a floor (the
// L3 cache, at least 8 MiB) and 4 x that; a gen1 one instead when, besides, what gen0
// collections promoted into gen1 since the last gen1 or full collection reached gen1's budget
// (between the same floor and 4 x that, growing with the survival rate of gen1 collections; the
// first gen1 collection after a full one runs on a sixteenth of the floor, a trial, and if it finds
// most of gen1 alive, gen1 collections by allocation pause until the next full one: a gen1
// collection costs what gen1 holds, and the cache workload's gen1, its new entries, all lives on;
// its gen1 collections of 32 MB took 23 to 30 ms); a full
// collection when what the last collection left (the old generations) plus gen0's budget
// reaches the pacer's goal (SHADE_GC_PERCENT of the live heap the last full collection found), so
// that the heap in use peaks at the goal, as without generations. gen0's budget is capped at a
// quarter of the goal (gen1's too). Objects of SHADE_LOH_THRESHOLD bytes and more (85,000) are
// born in gen2, marked (the Large Object Heap): only gen2 collections free them. A young
// collection triggered by allocation that finds most of gen0 alive pauses young collections for
// a few full ones (pause_young_collections), all of them but the last plain (plain_full).
//
// Generations are asked for (SHADE_GENERATIONAL=on; off by default) and need the stop-the-world
// mode (black allocation and the concurrent barrier are not combined with sticky marks yet) and
// the kernel's write tracking; elsewhere Shade is not generational, says why once in the trace,
// and every collection is full.
//
// Invariants: between collections every allocated object that survived one (or was born old) is
// marked, and no other is (new objects are unmarked), except after a plain full collection
// (plain_full: then only the large objects born old are marked, and the next collection is full
// whatever was asked); every heap page written since the last collection is either reported by
// the kernel or the next collection is full; the card invariant above; no collection sees an
// object before it is zeroed. All fields below are read and written
// under the collector lock (mostly with the world stopped), except the atomics.
#define _GNU_SOURCE
#include "gc/generations.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc/allocate.h"
#include "alloc/arena.h"
#include "alloc/central.h"
#include "alloc/heap_account.h"
#include "alloc/metadata.h"
#include "base/message.h"
#include "gc/barrier.h"
#include "gc/cards.h"
#include "gc/pacer.h"
#include "gc/phases.h"
#include "gc/threads.h"
#include "os/write_tracking.h"

struct generation_stats generation_stats;

static struct {
  bool on;
  uint64_t gen0_floor, gen0_ceiling;     // the range of gen0's budget
  uint64_t gen1_floor, gen1_ceiling;     // the range of gen1's budget
  _Atomic uint64_t gen0_budget, gen1_budget;
  _Atomic uint64_t in_use_after_last;    // heap in use when the last collection ended
  _Atomic uint64_t gen1_size;            // estimate: gen0 survivors since the last gen1 or gen2
                                         // collection, and those of that collection
  _Atomic uint64_t promoted_since_gen1;  // survivors of gen0 collections since the last gen1 or
                                         // gen2 one (gen1's budget is spent on these)
  _Atomic bool must_be_full;             // what was written is unknown: the next one is full
  _Atomic unsigned full_only;            // full collections to run before the next young one
  unsigned pause_length;                 // full_only the last pause set (it doubles while young
                                         // collections keep finding most of gen0 alive)
  _Atomic bool trial;                    // the next young collection is the first after a pause:
                                         // its budget is a sixteenth of gen0's floor
  _Atomic bool gen1_trial;               // no gen1 collection by allocation since the last full
                                         // one: gen1's budget is a sixteenth of its floor
  _Atomic bool gen1_paused;              // a gen1 collection found most of gen1 alive: none by
                                         // allocation until the next full collection
  bool promote_all;                      // the full collection under way makes every survivor
                                         // gen2 (promote_all_when_full, or plain)
  bool plain;                            // ... and is plain (plain_full)
  _Atomic bool old_unmarked;             // the last collection was plain: old objects are not
                                         // marked, so the next one is full
  bool by_allocation;                    // the collection under way was triggered by allocation
  uint64_t full_live[2];                 // what the last full collection and the one before
                                         // marked
  uint64_t scanned_at_begin;             // mark_scanned_objects_total when marking began
  uint64_t gen0_marked_at_begin;         // mark_gen0_bytes_total then
  uint64_t explicit_marked_at_begin;     // mark_explicit_bytes_total then
  uint64_t scanned_bytes_at_begin;       // mark_scanned_bytes_total then
  uint64_t full_scanned_bytes;           // heap bytes the last full collection scanned
  bool budget_fixed;                     // SHADE_GEN0_BUDGET set: no pause for cost
  bool by_cards;                         // the barrier's written cards, not the kernel's pages
} gen;

// The written pages are sorted at the end of a collection into runs of pages holding no old
// object (young), which stay unprotected, and runs of pages holding an old object (old), which
// are protected again, a system call each, as long as there are at most OLD_RUNS of them. Past
// that, every written page but the first YOUNG_RUNS young runs is protected, a call per gap
// between two of them (the pages of the other young runs too: only a cost, never a mistake).
// GCBench's young collections: 5 to 120 old runs against 70 to 270 young ones. The written runs a
// young collection's marking was given are kept (WRITTEN_RUNS at most), so that its end sorts
// them without asking the kernel again.
enum { YOUNG_RUNS = 4096, OLD_RUNS = 1024, WRITTEN_RUNS = 4096 };

// The collector's, used with the world stopped. In metadata memory, which is not scanned: heap
// addresses in the data segment would be taken for roots.
struct young_pages {
  struct arena_range runs[YOUNG_RUNS];
  size_t count;
  uintptr_t young_from; // the start of the pending run of young pages, or 0
  struct arena_range old[OLD_RUNS];
  size_t old_count;     // OLD_RUNS + 1: too many to list
  uintptr_t old_from;   // the start of the pending run of old pages, or 0
  struct arena_range written[WRITTEN_RUNS];
  size_t written_count; // WRITTEN_RUNS + 1: too many to keep; SIZE_MAX: none kept this time
};
static struct young_pages *young_pages;

bool generations_on(void) { return gen.on; }
static uint64_t young_budget(void);
static uint64_t gen1_budget(void);
uint64_t generations_gen0_budget(void) { return gen.on ? young_budget() : 0; }
uint64_t generations_gen1_budget(void) { return gen.on ? gen1_budget() : 0; }

static uint64_t l3_cache_bytes(void) {
  FILE *f = fopen("/sys/devices/system/cpu/cpu0/cache/index3/size", "r");
  unsigned long kib = 0;
  if (f) {
    if (fscanf(f, "%luK", &kib) != 1)
      kib = 0;
    fclose(f);
  }
  return (uint64_t)kib << 10;
}

// .NET's server flavour gives each core a heap and each heap a budget; Shade's thread caches
// are its per-core heaps, and the budgets are multiplied by the online CPUs (at most 64): fewer
// young collections when many threads allocate, at the cost of a larger gen0. A fixed
// SHADE_GEN0_BUDGET stays as given.
static uint64_t server_heaps(const struct shade_options *o) {
  if (o->server <= 0)
    return 1;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  return cpus < 1 ? 1 : cpus > 64 ? 64 : (uint64_t)cpus;
}

void generations_init(const struct shade_options *o, bool mode_allows) {
  if (o->generational <= 0) // off: the default, or SHADE_GENERATIONAL=off
    return;
  const char *why = NULL;
  if (!mode_allows)
    why = "incremental and concurrent mode are not generational yet";
  gen.by_cards = o->remembered_set == SHADE_REMEMBERED_CARDS;
  bool tracking = why == NULL && (gen.by_cards || arena_track_writes(&why)); // else why says
                                                                               // what was refused
  if (!tracking) { // asked for and not possible: say so, once
    shade_message("shade: SHADE_GENERATIONAL: generations are not possible here (%s); every "
                  "collection is full", why);
    return;
  }
  uint64_t l3 = l3_cache_bytes();
  gen.gen0_floor = o->gen0_budget ? o->gen0_budget
                                  : (l3 > ((uint64_t)8 << 20) ? l3 : (uint64_t)8 << 20) *
                                        server_heaps(o);
  gen.gen0_ceiling = o->gen0_budget ? o->gen0_budget : gen.gen0_floor * 4;
  gen.budget_fixed = o->gen0_budget != 0;
  store_relaxed(&gen.gen0_budget, gen.gen0_floor);
  gen.gen1_floor = gen.gen0_floor;
  gen.gen1_ceiling = gen.gen1_floor * 4;
  store_relaxed(&gen.gen1_budget, gen.gen1_floor);
  store_relaxed(&gen.gen1_trial, true);
  cards_enable(gen.by_cards);
  if (gen.by_cards) {
    barrier_set_cards();
  } else {
    young_pages = metadata_alloc(sizeof *young_pages);
    young_pages->written_count = SIZE_MAX;
  }
  allocate_set_born_old_size(o->loh_threshold);
  central_track_allocated_spans();
  gen.on = true;
}

static bool collection_allowed(void) {
  return (load_relaxed(&pacer.gc_percent) >= 0 || load_relaxed(&pacer.soft_limit_on)) &&
         load_relaxed(&pacer.disable_depth) == 0;
}

// A budget is at most a quarter of the heap goal: a small heap is not made to grow by a budget
// sized for the cache.
static uint64_t capped(uint64_t budget) {
  uint64_t quarter = load_relaxed(&pacer.heap_goal) / 4, least = (uint64_t)1 << 20;
  if (quarter < least)
    quarter = least;
  return budget < quarter ? budget : quarter;
}

static uint64_t young_budget(void) {
  uint64_t budget = capped(load_relaxed(&gen.gen0_budget));
  uint64_t trial = gen.gen0_floor / 16;
  return load_relaxed(&gen.trial) && trial < budget ? trial : budget;
}
static uint64_t gen1_budget(void) {
  uint64_t budget = capped(load_relaxed(&gen.gen1_budget));
  uint64_t trial = gen.gen1_floor / 16;
  return load_relaxed(&gen.gen1_trial) && trial < budget ? trial : budget;
}

// A budget between floor and ceiling, the larger the more of what was collected survived (.NET:
// a collection costs what survives; a larger budget lets more of it die first).
static uint64_t adapted(uint64_t floor, uint64_t ceiling, uint64_t survived, uint64_t collected) {
  double survival = collected ? (double)survived / (double)collected : 0.0;
  if (survival > 1.0)
    survival = 1.0;
  return floor + (uint64_t)((double)(ceiling - floor) * survival);
}

bool generations_paused(void) { return gen.on && load_relaxed(&gen.full_only) > 0; }

bool generations_young_due(void) {
  if (!gen.on)
    return false;
  uint64_t in_use = heap_account_in_use(), last = load_relaxed(&gen.in_use_after_last);
  return in_use > last && in_use - last >= young_budget() && collection_allowed();
}

// The heap reaches the goal before the next young collection would: the peak heap in use is the
// goal, as without generations.
bool generations_full_due(void) {
  return gen.on &&
         load_relaxed(&gen.in_use_after_last) + young_budget() >= load_relaxed(&pacer.trigger) &&
         collection_allowed();
}

// Not a trial's: aimed at its small budget, the sweep pace would sweep the whole heap in the
// trial's first megabytes (the cache workload's trial then scanned four times the old bytes, was
// judged to cost more than a full collection and paused young collections: 0.65 x the
// requests/s); the trial's start sweeps what the pace has not.
uint64_t generations_next_trigger(void) {
  if (!gen.on || generations_paused() || load_relaxed(&gen.trial))
    return UINT64_MAX;
  return load_relaxed(&gen.in_use_after_last) + young_budget();
}

unsigned generations_young_choice(void) {
  if (load_relaxed(&gen.must_be_full) || load_relaxed(&gen.old_unmarked))
    return 2;
  if (load_relaxed(&gen.gen1_paused))
    return 0;
  return load_relaxed(&gen.promoted_since_gen1) >= gen1_budget() ? 1 : 0;
}

// ---- the remembered set ---------------------------------------------------------------------

static void unmark_share(unsigned share, unsigned shares, void *generation) {
  sweep_unmark_generations_share(*(unsigned *)generation, share, shares);
}

// The collected generations lose their marks, on every marker, each taking shares of the heap's
// pages (sweep.c). Walking the page tables instead of the class lists took churn's full
// collections (1.4 GB heap) from 48 ms to 14-30 ms of unmarking; two markers instead of one
// gained nothing measurable on this 2-vCPU machine (memory-bound), more cores should.
static void unmark_in_parallel(unsigned g) {
  if (g == 0)
    return;
  unsigned helpers = cycle_config.markers > 1 ? cycle_config.markers - 1 : 0;
  if (helpers == 0)
    sweep_unmark_generations(g);
  else
    mark_pool_run(unmark_share, &g, helpers, 8 * (helpers + 1));
}

// A full collection makes gen0's survivors gen1 (.NET's promotion), unless more was allocated
// since the last collection than gen1's budget (not a trial's: that one is kept small on
// purpose): then they are made gen2, as every other survivor. Else a program that allocated its
// data while young collections were paused (full ones only: the cache workload's build phase)
// has all it allocated since the last full collection in gen1, and the first gen1 collection
// traces it (the cache's: 428 MB, 40 ms).
static bool promote_all_when_full(void) {
  uint64_t in_use = heap_account_in_use(), last = load_relaxed(&gen.in_use_after_last);
  return in_use > last && in_use - last > capped(load_relaxed(&gen.gen1_budget));
}

// A full collection that another full one follows, young collections being paused
// (pause_young_collections), is plain: no young collection needs its sticky marks, cards or
// ages, so it notes no card and its sweep leaves every survivor gen2 and unmarked
// (SWEEP_GEN2_PLAIN). The collection after it must be full, and has no small object to unmark;
// the last full one of the pause is generational again. Churn, whose young collections pause,
// ran its full collections 8% slower in marking with cards noted, plus 14 ms of unmarking each.
static bool plain_full(void) { return load_relaxed(&gen.full_only) > 1; }

unsigned generations_begin(unsigned g) {
  if (load_relaxed(&gen.must_be_full) || load_relaxed(&gen.old_unmarked))
    g = 2;
#ifdef SHADE_YOUNG_ONE_THREAD_ONLY // (see the top of this file)
  if (threads_count() > 1)
    g = 2;
#endif
  if (g == 2) // start afresh: every card clean (the pages are protected afresh at the end)
    cards_clear_all();
  if (young_pages) // no written runs kept from an earlier collection (protect_old_pages)
    young_pages->written_count = SIZE_MAX;
  gen.plain = g == 2 && plain_full();
  gen.promote_all = g == 2 && (gen.plain || promote_all_when_full());
  // what will be gen2 after this collection, and what not (0: everything will)
  mark_card_line = g == 0 ? 2 : gen.promote_all ? 0 : 1;
  mark_young_filter = g < 2 ? g + 1 : 0;
  gen.scanned_at_begin = load_relaxed(&mark_scanned_objects_total);
  gen.gen0_marked_at_begin = load_relaxed(&mark_gen0_bytes_total);
  gen.explicit_marked_at_begin = load_relaxed(&mark_explicit_bytes_total);
  gen.scanned_bytes_at_begin = load_relaxed(&mark_scanned_bytes_total);
  if (load_relaxed(&gen.old_unmarked)) // (g == 2) only the large objects born old are marked
    sweep_unmark_large();
  else
    unmark_in_parallel(g);
  store_relaxed(&gen.old_unmarked, false);
  return g;
}

// Every marked object overlapping [start, end) is scanned (large objects with a pointer bitmap or
// none: only the part inside the range). Marked means gen2 in a gen1 collection, gen1 or gen2 in a
// gen0 one; the gen2 ones note cards as they are scanned (mark.c).
static void scan_old_objects(struct marker *m, uintptr_t start, uintptr_t end) {
  uintptr_t address = start;
  while (address < end) {
    struct span *s = arena_span_of(address);
    enum span_state state = s ? span_state_acquire(s) : SPAN_FREE;
    if (state != SPAN_SMALL && state != SPAN_LARGE) {
      address = (address & ~(PAGE_SIZE - 1)) + PAGE_SIZE;
      continue;
    }
    uintptr_t span_end = s->base + s->pages * PAGE_SIZE;
    uintptr_t stop = end < span_end ? end : span_end;
    if (s->kind == KIND_ATOMIC || s->kind == KIND_MANUAL || s->kind == KIND_UNCOLLECTABLE) {
      address = stop; // never scanned, or scanned as roots every time
      continue;
    }
    if (state == SPAN_LARGE) {
      if (span_object_is_marked(s, 0))
        mark_scan_marked_range(m, s, address, stop);
      address = stop;
      continue;
    }
    if (s->allocated_at_sweep == 0) { // empty when last swept: everything in it is young
      address = stop;
      continue;
    }
    uint32_t first = span_object_index(s, address > s->base ? address : s->base);
    uint32_t last = span_object_index(s, stop - 1);
    for (uint32_t i = first; i <= last && i < s->object_count; i++)
      if (span_object_is_marked(s, i) && span_object_is_allocated(s, i))
        mark_scan_marked_object(m, s, i);
    address = stop;
  }
}

struct remembered_walk {
  struct marker *m;
  uint64_t bytes;
};

static void scan_written(uintptr_t start, size_t bytes, void *context) {
  struct remembered_walk *walk = context;
  scan_old_objects(walk->m, start, start + bytes);
  walk->bytes += bytes;
}

// The same, keeping the run for the collection's end (protect_old_pages).
static void scan_written_and_keep(uintptr_t start, size_t bytes, void *context) {
  scan_written(start, bytes, context);
  struct young_pages *young = young_pages;
  if (young->written_count < WRITTEN_RUNS)
    young->written[young->written_count] = (struct arena_range){start, start + bytes};
  if (young->written_count <= WRITTEN_RUNS)
    young->written_count++;
}

static void scan_cards(uintptr_t start, size_t bytes, void *context) {
  scan_old_objects(context, start, start + bytes);
}

// Without the kernel's answer: every old object is scanned (the remembered set is the whole old
// generation), which is always correct.
static void scan_every_old_object(struct span *s, void *marker) {
  scan_old_objects(marker, s->base, s->base + s->pages * PAGE_SIZE);
}

static void scan_all_old(struct marker *m) { arena_for_each_span(scan_every_old_object, m); }

void generations_mark_remembered(struct marker *m, unsigned g) {
  if (g >= 2)
    return;
  struct remembered_walk walk = {m, 0};
  if (g == 1) // the cards are cleared here; the scans note again those still needed
    walk.bytes += cards_take(scan_cards, m);
  if (gen.by_cards) { // the barrier's cards are the written pages' counterpart, 512 bytes each
    cards_take_written(scan_written, &walk);
  } else {
    young_pages->written_count = 0;
    if (!arena_peek_written(scan_written_and_keep, &walk)) { // (protected again at the end:
      scan_all_old(m);                                       // protect_old_pages)
      store_relaxed(&gen.must_be_full, true);
      young_pages->written_count = SIZE_MAX;
    }
  }
  store_relaxed(&generation_stats.remembered_bytes, walk.bytes);
}

// Whether any of the states [first, last] has OBJECT_MARKED, eight states at a time. (The world
// is stopped and marking is over: nothing writes them.)
static bool any_marked(const _Atomic(uint8_t) *states, uint32_t first, uint32_t last) {
  const uint64_t ones = 0x0101010101010101ull;
  uint32_t i = first;
  for (; i <= last && i % 8; i++)
    if (load_relaxed(&states[i]) & OBJECT_MARKED)
      return true;
  for (; i + 7 <= last; i += 8) {
    uint64_t eight;
    memcpy(&eight, (const void *)&states[i], sizeof eight);
    if (eight & ones)
      return true;
  }
  for (; i <= last; i++)
    if (load_relaxed(&states[i]) & OBJECT_MARKED)
      return true;
  return false;
}

static void young_page_run_ends(struct young_pages *young, uintptr_t end) {
  uintptr_t from = young->young_from;
  if (from && young->count < YOUNG_RUNS)
    young->runs[young->count++] = (struct arena_range){from, end};
  young->young_from = 0;
}

static void old_page_run_ends(struct young_pages *young, uintptr_t end) {
  uintptr_t from = young->old_from;
  if (from && young->old_count < OLD_RUNS)
    young->old[young->old_count] = (struct arena_range){from, end};
  if (from && young->old_count <= OLD_RUNS)
    young->old_count++;
  young->old_from = 0;
}

// Whether the kernel page at page holds (part of) an old object: a marked one.
static bool page_holds_old(struct span *s, enum span_state state, uintptr_t page) {
  if (state == SPAN_LARGE)
    return span_object_is_marked(s, 0);
  if (state != SPAN_SMALL)
    return false;
  uint32_t first = span_object_index(s, page > s->base ? page : s->base);
  uint32_t last = span_object_index(s, page + WRITE_TRACKING_PAGE_SIZE - 1);
  if (last >= s->object_count)
    last = s->object_count - 1;
  return first < s->object_count && any_marked(s->object_states, first, last);
}

// A run of pages written since the last collection (or left unprotected by it): the runs of pages
// holding no old object are noted, to stay unprotected. Young objects are allocated there (new
// spans, the free slots of young spans), and a fault on the first write to each page after every
// collection cost more than the collection itself (binary-trees: 3.7 million faults, 4.9 s of
// system time in a 16 s run). Unprotected, they are reported by every collection, which finds no
// old object on them to scan, until one survives there; then they are protected again. Each run
// kept costs a system call (the protection resumes after it), about 1 us, as much as one fault;
// short runs are kept too: between old objects sparse in their spans, binary-trees' young pages
// are in runs of a few pages (keeping only runs of 16 pages or more left 2.8 million faults).
// Old objects of every kind count, those holding no pointer (atomic) too: their writes do not
// matter, but old pages left unprotected would be reported and walked by every collection.
static void note_young_pages(uintptr_t start, size_t bytes, void *context) {
  struct young_pages *young = context;
  uintptr_t end = start + bytes, page = start;
  while (page < end) {
    struct span *s = arena_span_of(page);
    enum span_state state = s ? span_state_acquire(s) : SPAN_FREE;
    bool objects = state == SPAN_SMALL || state == SPAN_LARGE;
    uintptr_t span_end = objects ? s->base + s->pages * PAGE_SIZE
                                 : (page & ~(PAGE_SIZE - 1)) + PAGE_SIZE;
    uintptr_t stop = end < span_end ? end : span_end;
    for (; page < stop; page += WRITE_TRACKING_PAGE_SIZE) {
      if (page_holds_old(s, state, page)) {
        young_page_run_ends(young, page);
        if (!young->old_from)
          young->old_from = page;
      } else {
        old_page_run_ends(young, page);
        if (!young->young_from)
          young->young_from = page;
      }
    }
  }
  young_page_run_ends(young, end);
  old_page_run_ends(young, end);
}

// World stopped, marking over: from now on every write to a page holding an old object is seen
// (the other pages may stay written). False when the kernel failed.
static bool protect_old_pages(void) {
  struct young_pages *young = young_pages;
  young->count = young->old_count = 0;
  young->young_from = young->old_from = 0;
  size_t written = young->written_count;
  young->written_count = SIZE_MAX; // (used once)
  if (written <= WRITTEN_RUNS) { // this collection's marking was given them: no page written since
    for (size_t i = 0; i < written; i++)
      note_young_pages(young->written[i].start,
                       young->written[i].end - young->written[i].start, young);
  } else if (!arena_peek_written(note_young_pages, young)) {
    return false;
  }
  if (young->old_count <= OLD_RUNS)
    return arena_protect_runs(young->old, young->old_count);
  return arena_protect_written_except(young->runs, young->count);
}

// ---- budgets --------------------------------------------------------------------------------

static void set_sizes(const uint64_t before[3], const uint64_t after[3]) {
  for (int i = 0; i < 3; i++) {
    store_relaxed(&generation_stats.size_before[i], before[i]);
    store_relaxed(&generation_stats.size_after[i], after[i]);
  }
}

// After a young collection: what it did not collect plus what it marked is in use.
static void set_in_use(uint64_t after) {
  store_relaxed(&heap_account.in_use, after);
  store_relaxed(&gen.in_use_after_last, after);
}

// Most of gen0 survived a young collection that allocation triggered (more than half): the
// generational hypothesis does not hold for the program now (a cache replacing random entries keeps
// what it allocates for longer than gen0's budget lasts), and a young collection costs nearly what
// a full one does while promoting what only full collections free (churn: 92% of gen0 survived;
// young collections of 120 to 340 ms against full ones of 520 ms). Young collections then pause:
// allocation triggers full collections only, paced as without generations, for pause_length of
// them; then a young collection tries again, on a trial budget of a sixteenth of gen0's floor, so
// that a try that finds most of gen0 alive again is short (the cache workload's build phase, where
// everything survives: young collections of 128 MB, 22 ms each, before the trial budget). The pause
// doubles each time the try fails (at most SURVIVAL_PAUSE_MAX; not while the live heap grows by
// more than a quarter from one full collection to the next: a program building its data keeps what
// it allocates whatever its habits later), and starts again from 1 once a young collection finds
// most of gen0 dead. Explicit collections neither start nor end a pause (a gen0 collection of
// objects the program just made and holds says nothing of their lifetimes), and run as asked. Under
// a memory limit (SHADE_MEMORY_LIMIT) young collections never pause: they keep the heap lower than
// full collections paced to the goal (memory_soft_limit's table churn: a resident peak of 27.6 MB
// with them, 31.8 to 35.0 MB with pauses, under a 32 MB limit).
enum { SURVIVAL_PAUSE_MAX = 8 };

static void pause_young_collections(void) {
  bool growing = gen.full_live[0] > gen.full_live[1] + gen.full_live[1] / 4;
  unsigned length = gen.pause_length && !growing ? gen.pause_length * 2 : 1;
  gen.pause_length = length < SURVIVAL_PAUSE_MAX ? length : SURVIVAL_PAUSE_MAX;
  store_relaxed(&gen.full_only, gen.pause_length);
}

// Whether the young collection ending scanned more heap per byte allocated since the last
// collection (young) than the last full one scanned per byte of the runway it left (the goal less
// the live heap): young objects placed among old ones all over the heap make most of its pages
// written, and a young collection then scans nearly what a full one does (the demo: 40% of gen0
// survives, below the survival rule, and young collections took 20 to 30 ms against 31 ms for a
// full one, four times as often). Work, not time, so that it does not depend on the machine's
// load. Roots are left out: both kinds scan them. Not with a fixed gen0 budget
// (SHADE_GEN0_BUDGET): the program asked for young collections at that rate.
static bool costs_more_than_full(uint64_t young) {
  if (gen.budget_fixed)
    return false;
  uint64_t scanned = load_relaxed(&mark_scanned_bytes_total) - gen.scanned_bytes_at_begin;
  uint64_t live = load_relaxed(&pacer.heap_marked), goal = load_relaxed(&pacer.heap_goal);
  uint64_t runway = goal > live ? goal - live : 0;
  if (gen.full_scanned_bytes == 0 || runway == 0)
    return false; // no full collection to compare with yet
  return (unsigned __int128)scanned * runway > (unsigned __int128)gen.full_scanned_bytes * young;
}

void generations_set_trigger(bool by_allocation) { gen.by_allocation = by_allocation; }

// The budgets and sizes after collecting generations 0..g; returns the sweep kind.
static enum sweep_kind end_budgets(unsigned g, uint64_t marked) {
  if (g < 2) { // uncollectable and manual objects are marked by every collection; what the last
               // one left counts them already
    uint64_t explicit_bytes = load_relaxed(&mark_explicit_bytes_total) -
                              gen.explicit_marked_at_begin;
    marked = marked > explicit_bytes ? marked - explicit_bytes : 0;
  }
  uint64_t in_use = heap_account_in_use(), last = load_relaxed(&gen.in_use_after_last);
  uint64_t promoted = load_relaxed(&gen.promoted_since_gen1), size1 = load_relaxed(&gen.gen1_size);
  uint64_t young = in_use > last ? in_use - last : 0;
  uint64_t gen1 = size1 < last ? size1 : last, gen2 = last - gen1;
  // Of what was marked, the gen0 survivors: gen1 from now on (the rest is gen2, after a gen1 or
  // full collection).
  uint64_t to_gen1 = load_relaxed(&mark_gen0_bytes_total) - gen.gen0_marked_at_begin;
  if (to_gen1 > marked)
    to_gen1 = marked;
  if (g >= 2 && gen.promote_all)
    to_gen1 = 0; // every survivor is gen2
  for (unsigned i = 0; i <= g; i++)
    atomic_fetch_add(&generation_stats.collections[i], 1);
  store_relaxed(&generation_stats.scanned_objects[g],
                load_relaxed(&mark_scanned_objects_total) - gen.scanned_at_begin);
  store_relaxed(&gen.promoted_since_gen1, g == 0 ? promoted + marked : 0);
  store_relaxed(&gen.gen1_size, g == 0 ? gen1 + marked : to_gen1);
  if (g >= 2) { // full; the pacer resets the heap in use to what was marked
    gen.full_live[1] = gen.full_live[0];
    gen.full_live[0] = marked;
    gen.full_scanned_bytes = load_relaxed(&mark_scanned_bytes_total) - gen.scanned_bytes_at_begin;
    unsigned paused = load_relaxed(&gen.full_only);
    if (paused > 0)
      store_relaxed(&gen.full_only, paused - 1);
    if (paused == 1)
      store_relaxed(&gen.trial, true);
    store_relaxed(&gen.gen1_paused, false); // gen1 is what this collection promoted, if anything
    store_relaxed(&gen.gen1_trial, true);
    set_sizes((uint64_t[3]){young, gen1, gen2}, (uint64_t[3]){0, to_gen1, marked - to_gen1});
    store_relaxed(&gen.in_use_after_last, marked);
    if (gen.plain) {
      store_relaxed(&gen.old_unmarked, true);
      return SWEEP_GEN2_PLAIN;
    }
    return gen.promote_all ? SWEEP_GEN2_ALL : SWEEP_GEN2;
  }
  atomic_fetch_add(&generation_stats.promoted_bytes, marked);
  if (g == 1) { // gen0 and gen1 collected: their survivors are gen1 and gen2 now
    set_sizes((uint64_t[3]){young, gen1, gen2},
              (uint64_t[3]){0, to_gen1, gen2 + (marked - to_gen1)});
    if (gen.by_allocation) { // (gen1's survivors are what was marked less gen0's)
      store_relaxed(&gen.gen1_trial, false);
      if ((marked - to_gen1) * 2 > gen1 && !load_relaxed(&pacer.soft_limit_on))
        store_relaxed(&gen.gen1_paused, true);
    }
    set_in_use(gen2 + marked);
    store_relaxed(&gen.gen1_budget, adapted(gen.gen1_floor, gen.gen1_ceiling, marked, young + gen1));
    return SWEEP_GEN1;
  }
  set_sizes((uint64_t[3]){young, gen1, gen2}, (uint64_t[3]){0, gen1 + marked, gen2});
  set_in_use(last + marked);
  if (gen.by_allocation)
    store_relaxed(&gen.trial, false);
  if (gen.by_allocation && young > 0 && !load_relaxed(&pacer.soft_limit_on) &&
      (marked * 2 > young || costs_more_than_full(young)))
    pause_young_collections();
  else if (gen.by_allocation)
    gen.pause_length = 0;
  store_relaxed(&gen.gen0_budget, adapted(gen.gen0_floor, gen.gen0_ceiling, marked, young));
  return SWEEP_GEN0;
}

enum sweep_kind generations_end(unsigned g, uint64_t marked) {
  mark_young_filter = 0;
  enum sweep_kind kind = end_budgets(g, marked);
  // The sweep that follows may set spans aside (central.c): at most gen0's budget or a
  // sixteenth of the heap goal of free space, whichever is more, until the next full collection;
  // none under a memory limit, where every free slot counts, nor after the collections by
  // allocation of a pause of young ones (the young one that starts it, its full ones, the last
  // included, whose trial may start another), when no young collection would scan what the new
  // objects share cards with (churn's full collections set aside the free slots its replaced
  // trees left in old spans: 6 to 11% more resident memory). Explicit collections set spans
  // aside: the next may be an explicit young one.
  uint64_t sixteenth = load_relaxed(&pacer.heap_goal) / 16, budget = young_budget();
  uint64_t limit = budget > sixteenth ? budget : sixteenth;
  bool paused = gen.by_allocation &&
                (load_relaxed(&gen.full_only) > 0 || (g >= 2 && load_relaxed(&gen.trial)));
  bool none = load_relaxed(&pacer.soft_limit_on) || paused;
  central_set_aside_limit(none ? 0 : limit);
  // While young collections are paused, the full collections leave the written pages written:
  // protecting the old ones would cost a fault on each page the program writes again, for
  // nothing. That is never wrong: a page left written is reported by the next young collection's
  // peek (explicit ones run meanwhile too, scanning more), and the last full collection of the
  // pause protects them again.
  if (!gen.by_cards && load_relaxed(&gen.full_only) == 0)
    store_relaxed(&gen.must_be_full, !protect_old_pages());
  return kind;
}

void generations_record_pause(unsigned g, uint64_t pause_ns) {
  _Atomic uint64_t *max = g >= 2 ? &generation_stats.full_pause_max_ns
                                 : &generation_stats.young_pause_max_ns;
  if (pause_ns > load_relaxed(max))
    store_relaxed(max, pause_ns);
}

void generations_after_fork_child(void) {
  if (!gen.on || gen.by_cards) // (the child has the parent's cards, and its barrier sets them)
    return;
  store_relaxed(&gen.must_be_full, true); // the child knows nothing of what was written
  if (!arena_after_fork_child())
    store_relaxed(&gen.must_be_full, true);
}

bool generations_worthwhile(unsigned g) {
  uint64_t in_use = heap_account_in_use();
  if (g == 1 && gen.on)
    return load_relaxed(&gen.promoted_since_gen1) >= gen1_budget() / 2;
  if (g >= 1 || !gen.on) {
    uint64_t live = load_relaxed(&pacer.heap_marked), goal = load_relaxed(&pacer.heap_goal);
    return in_use >= live + (goal > live ? goal - live : 0) / 2;
  }
  uint64_t last = load_relaxed(&gen.in_use_after_last);
  return in_use > last && in_use - last >= young_budget() / 2;
}

uint64_t generations_collection_count(unsigned g) {
  if (!gen.on)
    return load_relaxed(&cycle_stats.cycles); // every collection is full
  return load_relaxed(&generation_stats.collections[g]);
}

void generations_get_stats(struct shade_stats *out) {
  out->generational = gen.on;
  out->remembered_set = !gen.on ? 0 : gen.by_cards ? SHADE_REMEMBERED_CARDS : SHADE_REMEMBERED_PAGES;
  for (unsigned g = 0; g < 3; g++) {
    out->collections[g] = generations_collection_count(g);
    out->generation_size_before[g] = load_relaxed(&generation_stats.size_before[g]);
    out->generation_size_after[g] = load_relaxed(&generation_stats.size_after[g]);
  }
  out->promoted_bytes = load_relaxed(&generation_stats.promoted_bytes);
  out->young_pause_max_ns = load_relaxed(&generation_stats.young_pause_max_ns);
  out->full_pause_max_ns = load_relaxed(&generation_stats.full_pause_max_ns);
  out->gen0_budget = generations_gen0_budget();
  out->gen1_budget = generations_gen1_budget();
  out->remembered_bytes = load_relaxed(&generation_stats.remembered_bytes);
  for (unsigned g = 0; g < 3; g++)
    out->scanned_objects[g] = load_relaxed(&generation_stats.scanned_objects[g]);
}
