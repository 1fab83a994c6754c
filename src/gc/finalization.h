// finalization.h: finalizers, weak links, weak references and ephemerons on the traced heap
// (shade.h, "Finalizers, weak references and ephemerons"; docs/finalization.md).
//
// Three side tables, all behind one lock (finalization_lock):
//   - finalizers: object -> (function, data, flags); weak: it never keeps its object alive;
//   - weak links, short and long: link address -> target (a weak reference is a Shade atomic
//     object whose first word is such a link, holding its target hidden);
//   - ephemerons: the list of ephemeron objects (atomic: key and value hidden from every scan).
// And the queue of finalizers ready to run, which is a root: what it holds stays alive.
//
// The collector resolves them with the world stopped, once marking from the roots has drained
// (finalization_resolve; weak_resolution.c gives the order). The collector takes the lock before
// it stops the world (phase_stop), so no stopped thread holds it; the program's calls take it
// with lock_stoppable and never allocate Shade memory while holding it.
#ifndef SHADE_GC_FINALIZATION_H
#define SHADE_GC_FINALIZATION_H
#include "gc/mark.h"
#include "gc/threads.h"
#include "shade.h"

void finalization_lock(void);
void finalization_unlock(void);
void finalization_after_fork_child(void);

// ---- the program's side (the caller validated the pointers; each call takes the lock) -------
// -1 (ENOMEM) if the table cannot grow.
int finalizers_set(uintptr_t object, shade_finalizer_fn fn, void *data, unsigned flags);
bool finalizers_get(uintptr_t object, shade_finalizer_fn *fn, void **data);
// Forget whatever is registered for an object being freed explicitly ([lo, hi): the object):
// its finalizer, and the weak links that lie inside it.
void finalization_forget_object(uintptr_t lo, uintptr_t hi);

// kind: SHADE_WEAK_SHORT or SHADE_WEAK_LONG. 0 added, 1 registered already, -1 ENOMEM.
int weak_links_add(uintptr_t link, uintptr_t target, unsigned kind);
bool weak_links_remove(uintptr_t link, unsigned kind);
// 0 moved, 1 new_link registered already, -1 link unknown, -2 ENOMEM.
int weak_links_move(uintptr_t link, uintptr_t new_link, unsigned kind);
// Registers an ephemeron object (its two hidden words written already). -1 (ENOMEM) on failure.
int ephemerons_add(uintptr_t ephemeron);

// Hidden pointers: the bitwise complement, as bdwgc's GC_HIDE_POINTER. 0 stays 0 (cleared).
static inline uintptr_t weak_hide(const void *p) { return p ? ~(uintptr_t)p : 0; }
static inline void *weak_reveal(uintptr_t hidden) { return hidden ? (void *)~hidden : NULL; }
// Reads a hidden word of a weak reference or ephemeron as its target, so that no collection can
// decide the target is dead between the read and the caller's use: the read is a critical section
// (no stop in between), and while marking runs, the target is shaded grey.
void *weak_read(struct shade_thread *t, const uintptr_t *hidden);

// ---- the collector's side (world stopped, lock held) -----------------------------------------
// After marking from the roots has drained: ephemerons to a fixpoint, short links cleared,
// finalizers chosen and queued (what they reach marked), long links and dead ephemerons cleared.
// Returns the bytes it marked. Does nothing (one load) when nothing is registered.
uint64_t finalization_resolve(void);
// Whether a finalizer, weak reference or ephemeron was ever registered: a marking must then end
// with the world stopped (finalization_resolve needs it).
bool finalization_in_use(void);
// Roots (called from roots_mark_uncollectable): the queue of ready finalizers, objects and data,
// and the data of every finalizer set (as bdwgc's client data and Go's closures, it lives while
// its finalizer is set; if it reaches the object, that object is never finalized).
void finalization_mark_roots(struct marker *m);

// ---- delivery (finalizer_thread.c) -----------------------------------------------------------
void finalization_init(const struct shade_options *o);
// After the collector lock is released: wake the finalizer thread, or call the notifier, if the
// last collection queued finalizers. Cheap when there is nothing new.
void finalization_announce(void);
int finalization_run_queued(void); // on the calling thread (registered); how many ran
void finalization_wait(void);
size_t finalization_pending(void);
void finalization_set_on_demand(bool on);
void finalization_set_notifier(void (*notifier)(void));
void finalization_thread_after_fork_child(void); // (called by finalization_after_fork_child)

#endif
