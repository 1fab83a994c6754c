// compat.h: what the files of Shade's bdwgc layer (libgc.so.1) share.
//
// The layer sits on Shade's public API (shade.h); core_bridge.c is the one file that reaches
// Shade's internals, and says why. Every GC_ entry point that may be the program's first call
// runs compat_ready() first, so bdwgc's settings made before GC_init (signals, markers, heap
// limit, finalize_on_demand) reach shade_init.
//
// Sizes: bdwgc hands out 16-byte granules. With interior pointers recognised (bdwgc's default),
// an object of n bytes has at least n + 1 usable (a pointer just past the end keeps it, as with
// Shade's own padding byte); a program that turned them off before GC_init (Guile) gets exact
// granules, as on bdwgc: GC_malloc(16) takes 16 bytes, not 32. compat_request_size turns n into
// the request that makes Shade pick a size class that is a multiple of 16, so every object is
// 16-aligned and GC_size(GC_malloc(15)) == 16. (Shade itself still treats every interior pointer
// as a pointer: more conservative than bdwgc, never less.)
#ifndef SHADE_COMPAT_BDWGC_H
#define SHADE_COMPAT_BDWGC_H

#define GC_BUILD 1
#define GC_THREADS 1
#define GC_NO_THREAD_REDIRECTS 1
// The layer checks its arguments (misuse gets a message, not undefined behaviour).
#define GC_ATTR_NONNULL(argnum)
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gc/gc.h"
#include "gc/gc_mark.h"
#include "shade.h"

#define COMPAT_LIKELY(x) __builtin_expect(!!(x), 1)
#define COMPAT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define COMPAT_GRANULE 16

// ---- init.c
extern atomic_int compat_initialized;
void compat_init_slow(void);
static inline void compat_ready(void) {
  if (COMPAT_UNLIKELY(!atomic_load_explicit(&compat_initialized, memory_order_acquire)))
    compat_init_slow();
}

// ---- collect.c
// Set by GC_enable_incremental before GC_init: generations on (collect.c's top comment).
extern int compat_generations_wanted;

// ---- alloc.c
// 1 while a byte past the end is given (GC_all_interior_pointers at GC_init), else 0.
extern int compat_past_end_byte;
// The Shade request for n bytes (see above); SIZE_MAX when n cannot be had at all. Shade adds
// its own padding byte to the request: n rounded up to whole granules, less one, gives exactly
// those granules; n itself rounded so gives one more granule whenever n is a multiple of 16.
static inline size_t compat_request_size(size_t n) {
  if (COMPAT_UNLIKELY(n > SIZE_MAX / 2))
    return SIZE_MAX;
  size_t extra = n == 0 ? 1 : (size_t)compat_past_end_byte;
  return ((n + extra + COMPAT_GRANULE - 1) & ~(size_t)(COMPAT_GRANULE - 1)) - 1;
}
// Up to max objects of exactly `bytes` (a multiple of the granule; SIZE_MAX: none) linked
// through their first word into *list; how many.
size_t compat_malloc_batch(size_t bytes, bool atomic, size_t max, void **list);
// What an allocation that Shade refused returns: GC_oom_fn's answer (bdwgc's behaviour).
void *compat_out_of_memory(size_t bytes);
// Finalizers waiting for the allocating threads (bdwgc runs them inside allocation calls when
// the program did not ask for on-demand finalization).
extern atomic_int compat_finalizers_waiting;
void compat_run_waiting_finalizers(void);
static inline void *compat_after_alloc(void *p, size_t bytes) {
  if (COMPAT_UNLIKELY(p == NULL))
    return compat_out_of_memory(bytes);
  if (COMPAT_UNLIKELY(atomic_load_explicit(&compat_finalizers_waiting, memory_order_relaxed)))
    compat_run_waiting_finalizers();
  return p;
}

// ---- kinds.c
enum { COMPAT_MAX_KINDS = 24, COMPAT_FIRST_FREE_KIND = 4 };
enum {
  COMPAT_KIND_PTRFREE = 0,
  COMPAT_KIND_NORMAL = 1,
  COMPAT_KIND_UNCOLLECTABLE = 2,
  COMPAT_KIND_ATOMIC_UNCOLLECTABLE = 3,
};
void *compat_kind_malloc(size_t bytes, int kind, const char *call);
int compat_kind_count(void);
// The disclaim procedure of a kind (gc_disclaim.h), or NULL.
typedef int (*compat_disclaim_fn)(void *);
compat_disclaim_fn compat_kind_disclaim(int kind);
void compat_kinds_set_disclaim(int kind, compat_disclaim_fn proc);
// The kind an object was allocated with (recorded for GC_new_kind kinds only; else guessed).
int compat_kind_of(const void *base);

// What a mark procedure's mark-stack pointer stands for on Shade: the visit of the trace
// callback running it. GC_mark_and_push reads it back.
struct compat_mark_context {
  shade_visit_fn visit;
  void *visit_context;
};
// The trace running on this marking thread (GC_push_all and GC_size use it).
extern __thread struct compat_mark_context *compat_current_mark;
extern __thread const void *compat_tracing_object;
extern __thread size_t compat_tracing_size;
// Visits every word of [start, end) as a possible pointer.
void compat_visit_range(struct compat_mark_context *mark, const void *start, const void *end);

void compat_roots_hook_init(void); // GC_push_other_roots' marking hook

// ---- finalize.c
void compat_finalization_init(void);
void compat_disclaim_register(void *base, int kind);

// ---- collect.c
void compat_events_init(void);
extern atomic_int compat_disable_depth;

// ---- misc.c: messages. compat_warn goes through GC_set_warn_proc's procedure (bdwgc's
// warnings); compat_message is one Shade line ("shade: GC_xxx(...): ...").
void compat_warn(const char *format, GC_word argument);
void compat_message(const char *format, ...) __attribute__((format(printf, 1, 2)));
extern GC_abort_func compat_abort_func;
__attribute__((noreturn)) void compat_abort(const char *message);

// ---- core_bridge.c: the internals the layer needs (see that file for why).
void compat_collections_lock(void);   // no collection starts or runs until the unlock
void compat_collections_unlock(void);
int compat_suspend_signal(void);      // the signal Shade stops threads with
void compat_shade_message(const char *line);

// ---- threads.c
void compat_thread_ensure_registered(void);

#endif
