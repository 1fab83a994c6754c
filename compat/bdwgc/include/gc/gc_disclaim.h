/* gc_disclaim.h (Shade's bdwgc-compatible headers): objects with a finalizer closure in their
 * first word, run just before their memory is reclaimed. On Shade GC_finalized_malloc objects
 * get an unordered Shade finalizer that calls the closure; the closure must not resurrect the
 * object. GC_register_disclaim_proc's per-kind procedures run the same way for objects of the
 * kind allocated after it (a nonzero result keeps the object for one more cycle). */
#ifndef GC_DISCLAIM_H
#define GC_DISCLAIM_H

#include "gc.h"

#ifdef __cplusplus
extern "C" {
#endif

GC_API void GC_CALL GC_init_finalized_malloc(void);

typedef int(GC_CALLBACK *GC_disclaim_proc)(void * /* obj */);
GC_API void GC_CALL GC_register_disclaim_proc(int /* kind */, GC_disclaim_proc /* proc */,
                                              int /* mark_from_all */) GC_ATTR_NONNULL(2);

struct GC_finalizer_closure {
  GC_finalization_proc proc;
  void *cd;
};

/* An object of size bytes whose closure fc->proc(obj, fc->cd) runs before it is reclaimed; the
 * closure pointer is kept in a hidden word before the returned address. */
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_finalized_malloc(size_t /* size */, const struct GC_finalizer_closure * /* fc */)
    GC_ATTR_NONNULL(2);

#ifdef __cplusplus
}
#endif
#endif /* GC_DISCLAIM_H */
