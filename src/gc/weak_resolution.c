// weak_resolution.c: what the collector does with finalizers, weak links and ephemerons once
// marking from the roots has drained, with the world stopped (finalization_resolve).
//
//   1. Ephemerons to a fixpoint: the value of a marked ephemeron whose key is marked is marked,
//      and what it reaches, until nothing more is (values can make keys and ephemerons
//      reachable): a few rounds over the ephemerons not yet ready, then, if rounds keep finding
//      some, a table in which each waits until what it waits for is marked.
//   2. Short weak links whose target is unmarked are cleared (set to 0) and forgotten; a link
//      lying in an unmarked object is kept until step 4 (a finalizer may revive that object).
//   3. Finalizers (bdwgc's and Go's ordered finalization). Note which finalizable objects are
//      unmarked: those are unreachable from the roots. Then, one unmarked object F at a time,
//      mark what F reaches, but not F (an IGNORE_SELF object's words that point into itself are
//      skipped); if F is marked afterwards, F reaches itself through other objects: a cycle,
//      which is never finalized (counted, and reported once). Unordered and Java-style
//      (unreachable) objects take no part in the ordering as targets: they are ready when they
//      were unreachable from the roots. An ordered object is ready when nothing marked it: no
//      other finalizable object reaches it. Ready ones leave the table for the queue, and are
//      marked with all they reach: they live until their finalizer has run (the queue is a root).
//   4. Ephemerons to a fixpoint again if step 3 marked anything (finalizers revive objects: a
//      revived object may be a key, or reach one), long weak links whose target
//      is still unmarked are cleared, and ephemerons whose key is unmarked lose key and value.
//      Links that lie in an unmarked object, and unmarked ephemerons, are forgotten.
//
// "Marked" is the object state the sweep reads: with generations, an old object keeps its mark
// through a young collection, so a young collection never finalizes or clears for old objects.
// Everything here runs on one thread. Nothing is allocated with the C library
// (finalization_state.h's invariants); the ephemeron pass takes metadata memory for its waiting
// table and gives it back.
#include "alloc/arena.h"
#include "alloc/black_allocation.h"
#include "alloc/metadata.h"
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

// ---- ephemerons ----------------------------------------------------------------------------
// Resolving ephemerons by rounds alone (mark the values whose keys are marked, drain, repeat)
// costs a round per link of a chain of ephemerons whose values hold the next keys: quadratic.
// So after a few rounds (ephemerons_resolve) the ephemerons still waiting go to a table, where
// each is looked at once, and then again only when what it waits for gets marked:
// its key, or the ephemeron itself if nothing marked it yet. Both are flagged in their state byte
// (OBJECT_EPHEMERON_KEY) and entered in a table of waiting objects; the pass's marker
// (wake_keys) reports a flagged object it marks, and the ephemerons waiting for it are looked at
// again. The table lives for one resolution, in metadata memory sized by a first count (no C
// library allocation with the world stopped); an object waits at most once per resolution, and
// each ephemeron adds at most two (itself, its key).

struct waiting_object {
  uintptr_t object;   // 0: an empty slot
  uint32_t first;     // 1 + the index of the first ephemeron waiting for it as a key, or 0
  uint32_t self;      // 1 + the index of the ephemeron it is, if it waits to be found, or 0
};

static struct {
  struct waiting_object *table;
  size_t capacity;     // a power of two, at least twice the objects that can wait
  uint32_t *next;      // next[k]: 1 + the next ephemeron waiting for the same key, or 0
  uintptr_t *woken;    // flagged objects the pass's marker marked (a stack)
  size_t woken_count;
  size_t table_bytes, next_bytes, woken_bytes;
} pass;

// Metadata memory for one resolution, mapped apart and unmapped after (metadata.c maps blocks
// over a quarter MiB directly).
#define PASS_MIN_BYTES ((size_t)(1 << 18) + 16)
static void *pass_alloc(size_t *bytes) {
  if (*bytes < PASS_MIN_BYTES)
    *bytes = PASS_MIN_BYTES;
  return metadata_alloc(*bytes);
}

static void mark_value(struct marker *m, const uintptr_t *e) {
  uintptr_t value = (uintptr_t)weak_reveal(e[1]);
  if (value && !survives(value))
    mark_address(m, value);
}

// The waiting entry of the object that contains p, flagged, created if need be (NULL if p is in
// no object: nothing to wait for).
static struct waiting_object *waiting_entry(uintptr_t p) {
  uint32_t i;
  struct span *s = arena_object_of(p, &i);
  if (s == NULL)
    return NULL;
  uintptr_t object = span_object_address(s, i);
  size_t mask = pass.capacity - 1;
  for (size_t k = (size_t)((object * 0x9E3779B97F4A7C15ull) >> 20) & mask;; k = (k + 1) & mask) {
    struct waiting_object *w = &pass.table[k];
    if (w->object == object)
      return w;
    if (w->object == 0) {
      w->object = object;
      span_object_flag_key(s, i);
      return w;
    }
  }
}

static struct waiting_object *waiting_find(uintptr_t object) {
  size_t mask = pass.capacity - 1;
  for (size_t k = (size_t)((object * 0x9E3779B97F4A7C15ull) >> 20) & mask;; k = (k + 1) & mask)
    if (pass.table[k].object == object || pass.table[k].object == 0)
      return &pass.table[k];
}

// Ephemeron k: mark its value if it and its key are marked, else wait for what is missing.
static void ephemeron_consider(struct marker *m, size_t k) {
  const uintptr_t *e = (const uintptr_t *)finalization.ephemerons[k];
  if (e[0] == 0)
    return; // cleared by an earlier collection
  if (!survives((uintptr_t)e)) {
    struct waiting_object *w = waiting_entry((uintptr_t)e);
    if (w)
      w->self = (uint32_t)(k + 1);
    return;
  }
  uintptr_t key = (uintptr_t)weak_reveal(e[0]);
  if (survives(key)) {
    mark_value(m, e);
    return;
  }
  struct waiting_object *w = waiting_entry(key);
  if (w) {
    pass.next[k] = w->first;
    w->first = (uint32_t)(k + 1);
  }
}

void ephemeron_key_marked(struct span *s, uint32_t i) {
  if (SHADE_UNLIKELY(load_relaxed(&s->object_states[i]) & OBJECT_EPHEMERON_KEY)) {
    span_object_take_key_flag(s, i);
    pass.woken[pass.woken_count++] = span_object_address(s, i);
  }
}

// The waiting table for the `count` ephemerons listed in pending[] (indices into
// finalization.ephemerons), each waiting for its key or for itself: every ephemeron is looked at
// once more, and then only when what it waits for is marked.
static void ephemerons_wait(struct marker *m, const uint32_t *pending, size_t count) {
  size_t objects = 2 * count; // each waiting ephemeron: itself, then perhaps its key
  pass.capacity = 64;
  while (pass.capacity < 2 * objects)
    pass.capacity *= 2;
  pass.table_bytes = pass.capacity * sizeof *pass.table;
  pass.next_bytes = finalization.ephemeron_count * sizeof *pass.next;
  pass.woken_bytes = objects * sizeof *pass.woken;
  pass.table = pass_alloc(&pass.table_bytes);
  pass.next = pass_alloc(&pass.next_bytes);
  pass.woken = pass_alloc(&pass.woken_bytes);
  pass.woken_count = 0;

  m->wake_keys = true;
  for (size_t i = 0; i < count; i++)
    ephemeron_consider(m, pending[i]);
  mark_drain(m);
  while (pass.woken_count) {
    struct waiting_object *w = waiting_find(pass.woken[--pass.woken_count]);
    uint32_t self = w->self, first = w->first;
    w->self = w->first = 0;
    if (self) // the ephemeron itself is reachable after all
      ephemeron_consider(m, self - 1);
    for (uint32_t k = first; k; k = pass.next[k - 1]) // its key is
      mark_value(m, (const uintptr_t *)finalization.ephemerons[k - 1]);
    mark_drain(m);
  }
  m->wake_keys = false;
  for (size_t k = 0; k < pass.capacity; k++) { // what still waits stays unmarked: unflag it
    uint32_t i;
    struct span *s = pass.table[k].object ? arena_object_of(pass.table[k].object, &i) : NULL;
    if (s)
      span_object_take_key_flag(s, i);
  }
  metadata_free(pass.table, pass.table_bytes);
  metadata_free(pass.next, pass.next_bytes);
  metadata_free(pass.woken, pass.woken_bytes);
}

// An ephemeron whose value must be marked: it and its key are.
static bool ephemeron_ready(const uintptr_t *e) {
  return survives((uintptr_t)e) && survives((uintptr_t)weak_reveal(e[0]));
}

// Rounds first: mark the values of the ready ephemerons, drain, and look again at those that were
// not ready, while a round finds some. Most tables settle in two rounds (a weak table's values
// rarely make other keys reachable); each round reads each pending ephemeron, its key and the
// mark bytes, in order, with no table. A round that finds none ready is the fixpoint. After
// EPHEMERON_ROUNDS rounds that each found some (chains of ephemerons whose values hold the next
// keys would take one round per link: quadratic), the rest go to the waiting table.
#define EPHEMERON_ROUNDS 4
#define EPHEMERON_LOCAL 256 // pending lists up to this many (1 KiB) stay on the collector's stack

static void ephemerons_resolve(struct marker *m) {
  size_t count = finalization.ephemeron_count;
  if (count == 0)
    return;
  uint32_t local[EPHEMERON_LOCAL], *pending = local;
  size_t pending_bytes = count * sizeof *pending;
  if (count > EPHEMERON_LOCAL)
    pending = pass_alloc(&pending_bytes);
  size_t waiting = 0;
  for (size_t k = 0; k < count; k++) {
    const uintptr_t *e = (const uintptr_t *)finalization.ephemerons[k];
    if (e[0] == 0)
      continue; // cleared by an earlier collection
    if (ephemeron_ready(e))
      mark_value(m, e);
    else
      pending[waiting++] = (uint32_t)k;
  }
  mark_drain(m);
  for (unsigned round = 0; waiting > 0; round++) {
    if (round == EPHEMERON_ROUNDS) {
      ephemerons_wait(m, pending, waiting);
      break;
    }
    size_t still = 0;
    for (size_t i = 0; i < waiting; i++) {
      const uintptr_t *e = (const uintptr_t *)finalization.ephemerons[pending[i]];
      if (ephemeron_ready(e))
        mark_value(m, e);
      else
        pending[still++] = pending[i];
    }
    if (still == waiting)
      break; // none became ready: what they wait for stays unmarked
    waiting = still;
    mark_drain(m);
  }
  if (pending != local)
    metadata_free(pending, pending_bytes);
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

// Whether the word at `link` still belongs to an allocated object (or lies outside the heap):
// one that may be unmarked now and revived by a finalizer, so its links are not forgotten yet.
static bool link_in_allocated_memory(uintptr_t link) {
  if (!arena_is_heap_address(link))
    return true;
  uint32_t i;
  struct span *s = arena_object_of(link, &i);
  return s != NULL && span_object_is_allocated(s, i);
}

// Links whose target is dead are cleared and forgotten. A link lying in an unmarked object is
// cleared too (the word is still that object's), not forgotten: finalization may revive it.
static void links_clear(unsigned kind) {
  struct address_map *links = &finalization.links[kind];
  address_map_for_each(links, e) {
    if (!link_in_allocated_memory(e->key)) {
      address_map_remove(links, e);
    } else if (!survives(e->first)) {
      __atomic_store_n((uintptr_t *)e->key, 0, __ATOMIC_RELAXED);
      address_map_remove(links, e);
    }
  }
}

// Once finalization has revived what it revives: links lying in objects that stay garbage.
static void links_forget_dangling(unsigned kind) {
  struct address_map *links = &finalization.links[kind];
  address_map_for_each(links, e) if (arena_is_heap_address(e->key) && !survives(e->key))
      address_map_remove(links, e);
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
  size_t unreachable = 0;
  address_map_for_each(table, e) {
    e->flags &= ~UNREACHABLE_FROM_ROOTS;
    if (!survives(e->key)) {
      e->flags |= UNREACHABLE_FROM_ROOTS;
      unreachable++;
    }
  }
  if (unreachable == 0)
    return; // (what the roots reach stays reachable: nothing below could change)
  uint64_t cycles = 0;
  address_map_for_each(table, e) {
    unsigned flags = e->flags & 0xffu;
    if (!(e->flags & UNREACHABLE_FROM_ROOTS) || flags == SHADE_FINALIZE_UNORDERED ||
        survives(e->key))
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
  uintptr_t batch[64];
  size_t batched = 0;
  address_map_for_each(table, e) {
    if (!(e->flags & UNREACHABLE_FROM_ROOTS))
      continue;
    if (ordered(e->flags & 0xffu) && survives(e->key))
      continue; // another finalizable object reaches it: it waits for that one
    SHADE_ASSERT(finalization.queue_count < finalization.queue_capacity);
    *queue_slot(finalization.queue_count++) = (struct ready_finalizer){
        .object = e->key, .fn = (shade_finalizer_fn)e->first, .data = (void *)e->second};
    batch[batched++] = e->key;
    if (batched == sizeof batch / sizeof batch[0]) {
      mark_pointers(m, batch, batched); // marked now: later entries see them marked
      batched = 0;
    }
    address_map_remove(table, e);
    queued++;
  }
  if (queued) {
    mark_pointers(m, batch, batched);
    mark_drain(m);
    store_relaxed(&finalization.news, true);
    if (events_on(SHADE_EVENT_FINALIZER_QUEUE))
      events_emit_finalizers(finalization.queue_count);
  }
}

bool finalization_in_use(void) { return load_relaxed(&finalization.registered); }

uint64_t finalization_resolve(void) {
  if (!load_relaxed(&finalization.registered))
    return 0;
  struct marker m;
  marker_begin(&m, false);
  worklist_begin(1);
  ephemerons_resolve(&m);
  links_clear(SHADE_WEAK_SHORT);
  uint64_t before_finalizers = m.marked_bytes;
  finalizers_choose(&m);
  if (m.marked_bytes != before_finalizers) // finalization revived objects: they may be keys
    ephemerons_resolve(&m);
  links_clear(SHADE_WEAK_LONG);
  links_forget_dangling(SHADE_WEAK_SHORT);
  links_forget_dangling(SHADE_WEAK_LONG);
  ephemerons_clear();
  marker_end(&m);
  return m.marked_bytes;
}

void finalization_mark_roots(struct marker *m) {
  uintptr_t batch[64];
  size_t batched = 0;
  for (size_t k = 0; k < finalization.queue_count; k++) {
    batch[batched++] = queue_slot(k)->object;
    batch[batched++] = (uintptr_t)queue_slot(k)->data;
    if (batched == sizeof batch / sizeof batch[0]) {
      mark_pointers(m, batch, batched);
      batched = 0;
    }
  }
  address_map_for_each(&finalization.finalizers, e) {
    batch[batched++] = e->second; // the data (mark_pointers skips what is not in the heap)
    if (batched == sizeof batch / sizeof batch[0]) {
      mark_pointers(m, batch, batched);
      batched = 0;
    }
  }
  mark_pointers(m, batch, batched);
}
