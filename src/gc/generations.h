// generations.h: .NET's generations 0, 1 and 2 on Shade's non-moving heap (generations.c).
#ifndef SHADE_GC_GENERATIONS_H
#define SHADE_GC_GENERATIONS_H
#include "alloc/sweep.h"
#include "gc/mark.h"
#include "shade.h"

struct generation_stats {
  _Atomic uint64_t collections[3];  // collections that collected generation g (.NET's counts)
  _Atomic uint64_t promoted_bytes;  // survivors of young collections, since start
  _Atomic uint64_t young_pause_max_ns, full_pause_max_ns;
  _Atomic uint64_t size_before[3], size_after[3]; // the last collection's estimates
  _Atomic uint64_t remembered_bytes; // written old pages and cards the last young collection
                                     // scanned
  _Atomic uint64_t scanned_objects[3]; // objects the last collection of each generation scanned
};

extern struct generation_stats generation_stats;

// From collector_init. on: the options allow generations and the mode is stw; then the kernel
// must track the heap's writes, or Shade stays non-generational and says why once.
void generations_init(const struct shade_options *options, bool mode_allows);
bool generations_on(void);
// Young collections found most of gen0 alive: the collections allocation triggers are full ones,
// paced as without generations, for a while (generations.c).
bool generations_paused(void);
// Under the collector lock, before a collection: whether allocation triggered it (only those tell
// whether young collections pay).
void generations_set_trigger(bool by_allocation);
// gen0's allocation budget is spent: a young collection is due.
bool generations_young_due(void);
// The old generations (what the last collection left) reached the pacer's trigger: a full
// collection is due at the next collection.
bool generations_full_due(void);
// The heap in use at which allocation triggers the next collection, young or full, when the
// generations decide it; UINT64_MAX when they do not (off, or young collections paused: the
// pacer's trigger) or when the next is a trial (see generations.c).
uint64_t generations_next_trigger(void);
// Which generation an allocation-triggered young collection takes: 1 when gen1's budget is
// spent (or tracking was lost and a full one is needed: 2), else 0.
unsigned generations_young_choice(void);
uint64_t generations_gen0_budget(void);
uint64_t generations_gen1_budget(void);

// World stopped, caches flushed, every span swept, before marking generations 0..g: objects of
// those generations lose their marks. Returns g, raised to 2 if what was written since the last
// collection cannot be known (then the collection must be full).
unsigned generations_begin(unsigned g);
// World stopped, after generations_begin: greys what the old objects that may point into
// generations 0..g point to (the remembered set: written pages, and for gen1 the cards).
void generations_mark_remembered(struct marker *m, unsigned g);
// World stopped, marking done; marked: bytes the marking marked. Updates the budgets and the
// heap in use (young collections; a full one goes through the pacer), returns the sweep kind.
enum sweep_kind generations_end(unsigned g, uint64_t marked);
// After the world restarted: the pause, for the statistics.
void generations_record_pause(unsigned g, uint64_t pause_ns);
// In a forked child: tracking starts again; the next collection is full.
void generations_after_fork_child(void);
// shade_collect_generation's SHADE_COLLECT_OPTIMIZED: at least half of generation g's budget is
// used (gen2: half the way from the live heap to the goal).
bool generations_worthwhile(unsigned g);
uint64_t generations_collection_count(unsigned g);
void generations_get_stats(struct shade_stats *out);

#endif
