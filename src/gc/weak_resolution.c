// weak_resolution.c: what the collector does with finalizers, weak links and ephemerons once
// marking from the roots has drained, with the world stopped (finalization_resolve).
//
//   1. Ephemerons to a fixpoint: the value of a marked ephemeron whose key is marked is marked,
//      and what it reaches; repeat until a round marks nothing (values can make keys reachable).
//   2. Short weak links whose target is unmarked are cleared (set to 0) and forgotten.
//   3. Finalizers (bdwgc's and Go's ordered finalization). Note which finalizable objects are
//      unmarked: those are unreachable from the roots. Then, one unmarked object F at a time,
//      mark what F reaches, but not F (an IGNORE_SELF object's words that point into itself are
//      skipped); if F is marked afterwards, F reaches itself through other objects: a cycle,
//      which is never finalized (counted, and reported once). Unordered and Java-style
//      (unreachable) objects take no part in the ordering as targets: they are ready when they
//      were unreachable from the roots. An ordered object is ready when nothing marked it: no
//      other finalizable object reaches it. Ready ones leave the table for the queue, and are
//      marked with all they reach: they live until their finalizer has run (the queue is a root).
//   4. Ephemerons to a fixpoint again (finalizers revive objects), long weak links whose target
//      is still unmarked are cleared, and ephemerons whose key is unmarked lose key and value.
//      Links that lie in an unmarked object, and unmarked ephemerons, are forgotten.
//
// "Marked" is the object state the sweep reads: with generations, an old object keeps its mark
// through a young collection, so a young collection never finalizes or clears for old objects.
// Everything here runs on one thread and allocates nothing (finalization_state.h's invariants).
#include "alloc/arena.h"
#include "alloc/black_allocation.h"
#include "base/message.h"
#include "gc/events.h"
#include "gc/finalization_state.h"

// Whether the object at p survives this collection. Addresses outside the heap never die;
// uncollectable and reference-counted objects live while allocated.
static bool survives(uintptr_t p) {
  uint32_t i;
  struct span *s = arena_object_of(p, &i);
  if (s == NULL)
    return !arena_is_heap_address(p); // a freed large object's pages, or no object at all
  if (!span_object_is_allocated(s, i))
    return false;
  if (s->kind == KIND_MANUAL || s->kind == KIND_UNCOLLECTABLE)
    return true;
  return span_object_is_marked(s, i) || black_allocation_pending(s, i);
}

static void mark_address(struct marker *m, uintptr_t p) { mark_pointers(m, &p, 1); }

static bool ephemerons_mark_values(struct marker *m) {
  bool progress = false;
  for (size_t k = 0; k < finalization.ephemeron_count; k++) {
    const uintptr_t *e = (const uintptr_t *)finalization.ephemerons[k];
    if (!survives((uintptr_t)e) || e[0] == 0)
      continue;
    uintptr_t value = (uintptr_t)weak_reveal(e[1]);
    if (survives((uintptr_t)weak_reveal(e[0])) && value && !survives(value)) {
      mark_address(m, value);
      progress = true;
    }
  }
  if (progress)
    mark_drain(m);
  return progress;
}

static void ephemerons_fixpoint(struct marker *m) {
  while (ephemerons_mark_values(m)) {
  }
}

static void ephemerons_clear(void) {
  size_t kept = 0;
  for (size_t k = 0; k < finalization.ephemeron_count; k++) {
    uintptr_t *e = (uintptr_t *)finalization.ephemerons[k];
    if (!survives((uintptr_t)e))
      continue; // the ephemeron itself is garbage
    if (e[0] && !survives((uintptr_t)weak_reveal(e[0]))) {
      __atomic_store_n(&e[0], 0, __ATOMIC_RELAXED);
      __atomic_store_n(&e[1], 0, __ATOMIC_RELAXED);
    }
    finalization.ephemerons[kept++] = (uintptr_t)e;
  }
  finalization.ephemeron_count = kept;
}

static void links_clear(unsigned kind) {
  struct address_map *links = &finalization.links[kind];
  address_map_for_each(links, e) {
    if (arena_is_heap_address(e->key) && !survives(e->key)) {
      address_map_remove(links, e); // the link lies in an object that is garbage
    } else if (!survives(e->first)) {
      __atomic_store_n((uintptr_t *)e->key, 0, __ATOMIC_RELAXED);
      address_map_remove(links, e);
    }
  }
}

// Mark what the object at p reaches, but not p itself.
static SHADE_NO_SANITIZE void mark_reached_from(struct marker *m, uintptr_t p, bool ignore_self) {
  uint32_t i;
  struct span *s = arena_object_of(p, &i);
  if (s == NULL || s->kind == KIND_ATOMIC)
    return;
  uintptr_t base = span_object_address(s, i);
  if (ignore_self && s->kind == KIND_CONSERVATIVE) {
    size_t size = s->state == SPAN_LARGE ? align_up(s->large_requested, WORD_SIZE) : s->object_size;
    const uintptr_t *words = (const uintptr_t *)base;
    for (size_t w = 0; w < size / WORD_SIZE; w++)
      if (words[w] - base >= size) // a pointer into the object itself does not count
        mark_address(m, words[w]);
  } else {
    mark_scan_marked_object(m, s, i);
  }
  mark_drain(m);
}

static bool ordered(unsigned flags) {
  return flags == SHADE_FINALIZE_ORDERED || flags == SHADE_FINALIZE_IGNORE_SELF;
}

// Flags of the finalizer table's entries, above the SHADE_FINALIZE_* values (this pass only).
#define UNREACHABLE_FROM_ROOTS 0x100u

static void finalizers_choose(struct marker *m) {
  struct address_map *table = &finalization.finalizers;
  address_map_for_each(table, e) {
    e->flags &= ~UNREACHABLE_FROM_ROOTS;
    if (!survives(e->key))
      e->flags |= UNREACHABLE_FROM_ROOTS;
  }
  uint64_t cycles = 0;
  address_map_for_each(table, e) {
    unsigned flags = e->flags & 0xffu;
    if (flags == SHADE_FINALIZE_UNORDERED || survives(e->key))
      continue;
    mark_reached_from(m, e->key, flags == SHADE_FINALIZE_IGNORE_SELF);
    if (ordered(flags) && survives(e->key))
      cycles++; // F reaches itself
  }
  if (cycles && atomic_fetch_add(&finalization.cycles_found, cycles) == 0)
    shade_message("shade: finalization: %llu finalizable object(s) reach themselves through a "
                  "chain of objects; objects in such a cycle are never finalized (reported once; "
                  "see SHADE_FINALIZE_UNORDERED and SHADE_FINALIZE_IGNORE_SELF)",
                  (unsigned long long)cycles);
  size_t queued = 0;
  address_map_for_each(table, e) {
    unsigned flags = e->flags & 0xffu;
    bool ready = ordered(flags) ? !survives(e->key) : (e->flags & UNREACHABLE_FROM_ROOTS) != 0;
    if (!ready)
      continue;
    SHADE_ASSERT(finalization.queue_count < finalization.queue_capacity);
    *queue_slot(finalization.queue_count++) = (struct ready_finalizer){
        .object = e->key, .fn = (shade_finalizer_fn)e->first, .data = (void *)e->second};
    mark_address(m, e->key);
    address_map_remove(table, e);
    queued++;
  }
  if (queued) {
    mark_drain(m);
    store_relaxed(&finalization.news, true);
    if (events_on(SHADE_EVENT_FINALIZER_QUEUE))
      events_emit_finalizers(finalization.queue_count);
  }
}

uint64_t finalization_resolve(void) {
  if (!load_relaxed(&finalization.registered))
    return 0;
  struct marker m;
  marker_begin(&m, false);
  worklist_begin(1);
  ephemerons_fixpoint(&m);
  links_clear(SHADE_WEAK_SHORT);
  finalizers_choose(&m);
  ephemerons_fixpoint(&m);
  links_clear(SHADE_WEAK_LONG);
  ephemerons_clear();
  marker_end(&m);
  return m.marked_bytes;
}

void finalization_mark_queue(struct marker *m) {
  for (size_t k = 0; k < finalization.queue_count; k++)
    mark_address(m, queue_slot(k)->object);
}
