// rc_cycle.c: finding and freeing unreachable cycles: CPython's gc_refs algorithm.
//
// Collecting generation g looks at the objects of generations 0..g (young) only:
//   1. update_refs: gc_refs = count, for every object in young, and mark it COLLECTING.
//   2. subtract_refs: for every reference from one young object to another, gc_refs -= 1. What is
//      left in gc_refs is the number of references from outside young (older generations, C
//      variables, untracked or atomic objects): an object with gc_refs > 0 is certainly reachable.
//   (A full collection while nothing is frozen does 1 and 2 in one walk: update_and_subtract_refs.)
//   3. move_unreachable: one pass over young. An object with gc_refs > 0 is reachable; everything
//      it references is then reachable too (gc_refs set to 1, or moved back from the unreachable
//      list to the end of young, where the pass will reach it again). An object with gc_refs == 0
//      when the pass reaches it moves, tentatively, to the unreachable list.
//   When 3 ends, young holds the reachable objects (promoted to generation g + 1) and unreachable
//   the garbage. Then, in this order:
//   4. finalize_garbage: each finalizer that has not run yet runs, once (RC_FLAG_FINALIZED).
//   5. If a finalizer ran, steps 1-3 again over the unreachable set: objects a finalizer made
//      reachable again (resurrected), and what they reference, go to the older generation.
//   6. Weak references to what is still unreachable are cleared; their callbacks run.
//   7. delete_garbage: clear() on each object breaks its cycles; the counts fall to zero and the
//      objects are freed by the ordinary path (rc_object.c). An object alive after this (its
//      cycle had no clear) is uncollectable and goes to the older generation.
//
// No extra word per object: during 1-3, an object's gc prev word holds gc_refs << 2 |
// COLLECTING and young is singly linked through next (only young's head keeps its prev, the
// tail); the unreachable list marks its next words with RC_NEXT_UNREACHABLE so that
// visit_reachable can tell "not scanned yet" (in young, gc_refs 0) from "tentatively unreachable".
// Step 3 restores every prev word of young as it goes. COLLECTING stays set on the objects of the
// unreachable list until they are freed or moved back to a generation. No user code runs during
// 1-3 except traverse, which must only call visit.
#include "rc/rc_internal.h"

static inline uintptr_t gc_refs(struct rc_gc *g) { return g->prev >> RC_REFS_SHIFT; }
static inline void gc_set_refs(struct rc_gc *g, uintptr_t refs) {
  g->prev = (g->prev & RC_PREV_FLAGS) | (refs << RC_REFS_SHIFT);
}
static inline bool gc_is_collecting(struct rc_gc *g) { return g->prev & RC_PREV_COLLECTING; }

static bool count_too_small_reported;

size_t gc_list_size(struct rc_gc *list) {
  size_t n = 0;
  for (struct rc_gc *g = gc_next(list); g != list; g = gc_next(g))
    n++;
  return n;
}

// Returns the number of objects in young.
static size_t update_refs(struct rc_gc *young) {
  size_t n = 0;
  for (struct rc_gc *g = gc_next(young); g != young; g = gc_next(g)) {
    g->prev = (rc_head(rc_object_of(g))->shade_count << RC_REFS_SHIFT) | RC_PREV_COLLECTING;
    n++;
  }
  return n;
}

// One reference from inside the generation: take it off the copy of the count. A count that
// would go below zero means traverse lists more references than the object's count holds.
static inline void subtract_one_ref(struct rc_gc *g, void *child) {
  if (RC_LIKELY(gc_refs(g) > 0)) {
    g->prev -= (uintptr_t)1 << RC_REFS_SHIFT;
  } else if (!count_too_small_reported) {
    count_too_small_reported = true;
    rc_report("shade_rc_collect", child,
              "count too small: traverse lists more references than the count holds",
              rc_type_name(rc_type(child)));
  }
}

static void visit_decref(void *child, void *arg) {
  (void)arg;
  if (child == NULL || !rc_is_container(child))
    return;
  struct rc_gc *g = rc_gc_of(child);
  if (!gc_is_collecting(g))
    return;
  subtract_one_ref(g, child);
}

static void subtract_refs(struct rc_gc *young) {
  for (struct rc_gc *g = gc_next(young); g != young; g = gc_next(g)) {
    void *obj = rc_object_of(g);
    rc_type(obj)->traverse(obj, visit_decref, NULL);
  }
}

static void visit_reachable(void *child, void *arg) {
  if (child == NULL || !rc_is_container(child))
    return;
  struct rc_gc *g = rc_gc_of(child);
  // Objects of other generations, and young objects already scanned, are not COLLECTING.
  if (!gc_is_collecting(g))
    return;
  struct rc_gc *young = arg;
  if (g->next & RC_NEXT_UNREACHABLE) {
    // Tentatively unreachable after all: unlink it by hand (the flags are in the way of the list
    // functions) and append it to young, where move_unreachable will scan it.
    struct rc_gc *prev = gc_prev(g);
    struct rc_gc *next = (struct rc_gc *)(g->next & ~RC_NEXT_UNREACHABLE);
    prev->next = g->next; // keeps the flag
    gc_set_prev(next, prev);
    gc_list_append(g, young);
    gc_set_refs(g, 1);
  } else if (gc_refs(g) == 0) {
    gc_set_refs(g, 1); // in young, not scanned yet: now known to be reachable
  }
}

// Steps 1 and 2 in one pass, for a full collection while nothing is frozen: then every tracked
// object is in young, so "tracked" tells a young child from another, and its gc_refs can be
// copied from its count the first time it is met, whether as a child or in the list walk.
// Saves a whole walk of the list, which is what a collection of a large heap waits on.
static inline void gc_init_refs_once(struct rc_gc *g) {
  if (!gc_is_collecting(g))
    g->prev = (rc_head(rc_object_of(g))->shade_count << RC_REFS_SHIFT) | RC_PREV_COLLECTING;
}

static void visit_decref_full(void *child, void *arg) {
  (void)arg;
  if (child == NULL || !rc_is_container(child))
    return;
  struct rc_gc *g = rc_gc_of(child);
  if (!gc_is_tracked(g))
    return;
  gc_init_refs_once(g);
  subtract_one_ref(g, child);
}

static size_t update_and_subtract_refs(struct rc_gc *young) {
  size_t n = 0;
  for (struct rc_gc *g = gc_next(young); g != young; g = gc_next(g)) {
    gc_init_refs_once(g);
    void *obj = rc_object_of(g);
    rc_type(obj)->traverse(obj, visit_decref_full, NULL);
    n++;
  }
  return n;
}

// Returns the number of reachable objects left in young.
static size_t move_unreachable(struct rc_gc *young, struct rc_gc *unreachable) {
  struct rc_gc *prev = young;
  struct rc_gc *g = gc_next(young);
  size_t reachable = 0;
  while (g != young) {
    if (gc_refs(g)) {
      void *obj = rc_object_of(g);
      // visit_reachable may append to young, changing g->next when g is the tail: read it after.
      rc_type(obj)->traverse(obj, visit_reachable, young);
      g->prev = (uintptr_t)prev; // a list pointer again, COLLECTING cleared
      prev = g;
      reachable++;
    } else {
      prev->next = g->next;
      struct rc_gc *last = gc_prev(unreachable);
      last->next = RC_NEXT_UNREACHABLE | (uintptr_t)g; // also taints the head's next: fixed below
      g->prev = (uintptr_t)last | RC_PREV_COLLECTING;
      g->next = RC_NEXT_UNREACHABLE | (uintptr_t)unreachable;
      unreachable->prev = (uintptr_t)g;
    }
    g = gc_next(prev);
  }
  young->prev = (uintptr_t)prev;
  unreachable->next &= ~RC_NEXT_UNREACHABLE;
  for (struct rc_gc *u = gc_next(unreachable); u != unreachable;) {
    u->next &= ~RC_NEXT_UNREACHABLE;
    u = gc_next(u);
  }
  return reachable;
}

// Steps 1-3: splits base into base (reachable) and unreachable. Returns the unreachable count.
static size_t deduce_unreachable(struct rc_gc *base, struct rc_gc *unreachable, size_t *reachable,
                                 bool everything_tracked) {
  size_t n;
  if (everything_tracked) {
    n = update_and_subtract_refs(base);
  } else {
    n = update_refs(base);
    subtract_refs(base);
  }
  gc_list_init(unreachable);
  *reachable = move_unreachable(base, unreachable);
  return n - *reachable;
}

// Step 4. Returns whether any finalizer ran.
static bool finalize_garbage(struct rc_gc *unreachable) {
  bool ran = false;
  struct rc_gc seen;
  gc_list_init(&seen);
  // A finalizer may free or untrack objects of the list: take them one at a time from its head.
  while (!gc_list_is_empty(unreachable)) {
    struct rc_gc *g = gc_next(unreachable);
    void *obj = rc_object_of(g);
    gc_list_move(g, &seen);
    struct shade_rc_type *type = rc_type(obj);
    if (type->finalize && !(rc_flags(obj) & RC_FLAG_FINALIZED)) {
      rc_set_flag(obj, RC_FLAG_FINALIZED);
      ran = true;
      rc_head(obj)->shade_count++;
      type->finalize(obj);
      shade_decref(obj);
    }
  }
  gc_list_merge(&seen, unreachable);
  return ran;
}

// Step 6.
static void clear_weakrefs(struct rc_gc *unreachable) {
  struct shade_rc_weakref *callbacks = NULL;
  for (struct rc_gc *g = gc_next(unreachable); g != unreachable; g = gc_next(g)) {
    void *obj = rc_object_of(g);
    if (rc_flags(obj) & RC_FLAG_WEAKREFS)
      rc_weakref_clear(obj, &callbacks);
  }
  rc_weakref_run_callbacks(&callbacks);
}

// Step 7. Returns the number of uncollectable objects (moved to old).
static size_t delete_garbage(struct rc_gc *unreachable, struct rc_gc *old) {
  struct rc_gc survivors;
  gc_list_init(&survivors);
  while (!gc_list_is_empty(unreachable)) {
    struct rc_gc *g = gc_next(unreachable);
    void *obj = rc_object_of(g);
    struct shade_rc_type *type = rc_type(obj);
    if (type->clear) {
      rc_head(obj)->shade_count++; // keep it while its own clear runs
      type->clear(obj);
      shade_decref(obj);
    }
    if (gc_next(unreachable) == g) { // still alive (freed objects leave the list)
      g->prev &= ~RC_PREV_COLLECTING;
      gc_list_move(g, &survivors);
    }
  }
  size_t uncollectable = gc_list_size(&survivors);
  gc_list_merge(&survivors, old);
  return uncollectable;
}

size_t rc_collect_generation(int generation, size_t *uncollectable) {
  struct rc_state *s = &rc_state;
  struct rc_gc *young = &s->generations[generation].head;
  struct rc_gc *old =
      generation + 1 < SHADE_RC_GENERATIONS ? &s->generations[generation + 1].head : young;
  for (int i = 0; i < generation; i++)
    gc_list_merge(&s->generations[i].head, young);

  struct rc_gc unreachable;
  size_t reachable;
  bool everything_tracked = young == old && gc_list_is_empty(&s->permanent);
  size_t found = deduce_unreachable(young, &unreachable, &reachable, everything_tracked);
  if (young != old) {
    if (generation == SHADE_RC_GENERATIONS - 2)
      s->long_lived_pending += reachable;
    gc_list_merge(young, old);
  } else {
    s->long_lived_pending = 0;
    s->long_lived_total = reachable;
  }
  *uncollectable = 0;
  if (found == 0)
    return 0;

  struct rc_gc final_unreachable;
  if (finalize_garbage(&unreachable)) {
    // Step 5: objects reachable again keep their place; the rest is still garbage.
    size_t resurrected;
    deduce_unreachable(&unreachable, &final_unreachable, &resurrected, false);
    gc_list_merge(&unreachable, old);
  } else {
    gc_list_init(&final_unreachable);
    gc_list_merge(&unreachable, &final_unreachable);
  }
  clear_weakrefs(&final_unreachable);
  *uncollectable = delete_garbage(&final_unreachable, old);
  return found;
}
