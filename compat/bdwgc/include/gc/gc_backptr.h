/* gc_backptr.h (Shade's bdwgc-compatible headers): bdwgc's back-pointer debugging ("why is this
 * object alive?"). Shade answers that question with heap snapshots instead
 * (shade_write_heap_snapshot); these calls exist and report that they know nothing. */
#ifndef GC_BACKPTR_H
#define GC_BACKPTR_H

#ifndef GC_H
#include "gc.h"
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  GC_UNREFERENCED,
  GC_NO_SPACE, /* returned by Shade: no back pointers are kept */
  GC_REFD_FROM_ROOT,
  GC_REFD_FROM_REG,
  GC_REFD_FROM_HEAP,
  GC_FINALIZER_REFD
} GC_ref_kind;

GC_API GC_ref_kind GC_CALL GC_get_back_ptr_info(void * /* dest */, void ** /* base_p */,
                                                size_t * /* offset_p */) GC_ATTR_NONNULL(1);
GC_API void *GC_CALL GC_generate_random_heap_address(void);
GC_API void *GC_CALL GC_generate_random_valid_address(void);
GC_API void GC_CALL GC_generate_random_backtrace(void);
GC_API void GC_CALL GC_print_backtrace(void *) GC_ATTR_NONNULL(1);

#ifdef __cplusplus
}
#endif
#endif /* GC_BACKPTR_H */
