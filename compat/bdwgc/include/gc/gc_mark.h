/* gc_mark.h (Shade's bdwgc-compatible headers): object kinds with their own mark descriptors or
 * mark procedures, and the calls a mark procedure makes.
 *
 * On Shade a kind is a Shade type whose trace callback reads the kind's descriptor; a mark
 * procedure runs inside that callback, on a marking thread with the world stopped, and each
 * GC_mark_and_push / GC_MARK_AND_PUSH it makes marks one pointer. A mark procedure must not
 * allocate, lock, or call into the collector other than through the calls named here; the
 * mark-stack pointers it receives and returns are opaque tokens it hands back unchanged. */
#ifndef GC_MARK_H
#define GC_MARK_H

#ifndef GC_H
#include "gc.h"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define GC_PROC_BYTES 100

#if defined(GC_BUILD) || defined(NOT_GCBUILD)
struct GC_ms_entry;
#else
struct GC_ms_entry {
  void *opaque;
};
#endif

/* A mark procedure: called for each marked object of its kind, with the object's start; returns
 * the (possibly advanced) mark stack pointer. */
typedef struct GC_ms_entry *(*GC_mark_proc)(GC_word * /* addr */,
                                            struct GC_ms_entry * /* mark_stack_ptr */,
                                            struct GC_ms_entry * /* mark_stack_limit */,
                                            GC_word /* env */);

#define GC_LOG_MAX_MARK_PROCS 6
#define GC_MAX_MARK_PROCS (1 << GC_LOG_MAX_MARK_PROCS)
#define GC_RESERVED_MARK_PROCS 8
#define GC_GCJ_RESERVED_MARK_PROC_INDEX 0

/* Mark descriptors: the low GC_DS_TAG_BITS bits say how to read the rest. */
#define GC_DS_TAG_BITS 2
#define GC_DS_TAGS ((1 << GC_DS_TAG_BITS) - 1)
#define GC_DS_LENGTH 0     /* the descriptor is the number of bytes to scan from the start */
#define GC_DS_BITMAP 1     /* high bits: one per word, the first word in the top bit */
#define GC_DS_PROC 2       /* a mark procedure's index and an environment word */
#define GC_MAKE_PROC(proc_index, env) \
  (((((env) << GC_LOG_MAX_MARK_PROCS) | (proc_index)) << GC_DS_TAG_BITS) | GC_DS_PROC)
#define GC_DS_PER_OBJECT 3 /* the descriptor is in the object (or its type) at this offset */
#define GC_INDIR_PER_OBJ_BIAS 0x10

/* Words outside [least, greatest] are certainly not heap pointers (GC_MARK_AND_PUSH skips them). */
GC_API void *GC_least_plausible_heap_addr;
GC_API void *GC_greatest_plausible_heap_addr;

/* Marks the object obj points into, if it is one (any other word is ignored). */
GC_API struct GC_ms_entry *GC_CALL GC_mark_and_push(void * /* obj */,
                                                    struct GC_ms_entry * /* mark_stack_ptr */,
                                                    struct GC_ms_entry * /* mark_stack_limit */,
                                                    void ** /* src */);
#define GC_MARK_AND_PUSH(obj, msp, lim, src)                          \
  ((GC_word)(obj) >= (GC_word)GC_least_plausible_heap_addr &&         \
           (GC_word)(obj) <= (GC_word)GC_greatest_plausible_heap_addr \
       ? GC_mark_and_push(obj, msp, lim, src)                         \
       : (msp))

/* Debugging headers: Shade's debugging allocators add none (0). */
GC_API GC_ATTR_CONST size_t GC_CALL GC_get_debug_header_size(void);
#define GC_USR_PTR_FROM_BASE(p) ((void *)((char *)(p) + GC_get_debug_header_size()))
GC_API GC_ATTR_DEPRECATED
#ifdef GC_BUILD
    const
#endif
    size_t GC_debug_header_size;

/* A new free list (a word array for GC_new_kind), a new kind, a new mark procedure. The
 * _inner forms are for callers that hold the allocation lock. Kinds are limited in number (a
 * message says so, and the call returns an existing conservative kind). */
GC_API void **GC_CALL GC_new_free_list(void);
GC_API void **GC_CALL GC_new_free_list_inner(void);
GC_API unsigned GC_CALL GC_new_kind(void ** /* free_list */, GC_word /* mark_descriptor */,
                                    int /* add_size_to_descriptor */, int /* clear_new_objects */)
    GC_ATTR_NONNULL(1);
GC_API unsigned GC_CALL GC_new_kind_inner(void **, GC_word, int, int) GC_ATTR_NONNULL(1);
GC_API unsigned GC_CALL GC_new_proc(GC_mark_proc);
GC_API unsigned GC_CALL GC_new_proc_inner(GC_mark_proc);

/* Allocation of a given kind (GC_I_PTRFREE, GC_I_NORMAL, or one GC_new_kind returned). */
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_generic_malloc(size_t /* bytes */,
                                                                           int /* kind */);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_generic_malloc_ignore_off_page(size_t, int);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_generic_malloc_uncollectable(size_t, int);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL GC_generic_or_special_malloc(size_t, int);
GC_API GC_ATTR_MALLOC GC_ATTR_ALLOC_SIZE(1) void *GC_CALL
GC_debug_generic_or_special_malloc(size_t, int, GC_EXTRA_PARAMS);
#ifdef GC_DEBUG
#define GC_GENERIC_OR_SPECIAL_MALLOC(sz, knd) GC_debug_generic_or_special_malloc(sz, knd, GC_EXTRAS)
#else
#define GC_GENERIC_OR_SPECIAL_MALLOC(sz, knd) GC_generic_or_special_malloc(sz, knd)
#endif

/* The kind of the object starting at p; its size through psize when not NULL. */
GC_API int GC_CALL GC_get_kind_and_size(const void * /* p */, size_t * /* psize */)
    GC_ATTR_NONNULL(1);

typedef void(GC_CALLBACK *GC_describe_type_fn)(void * /* p */, char * /* out_buf */);
#define GC_TYPE_DESCR_LEN 40
GC_API void GC_CALL GC_register_describe_type_fn(int /* kind */, GC_describe_type_fn);

GC_API void *GC_CALL GC_clear_stack(void *);

/* Called at the start of every collection, before the world stops, with collections excluded
 * (the callback must not allocate or call the collector). */
typedef void(GC_CALLBACK *GC_start_callback_proc)(void);
GC_API void GC_CALL GC_set_start_callback(GC_start_callback_proc);
GC_API GC_start_callback_proc GC_CALL GC_get_start_callback(void);

/* Mark bits: whether the last (or the running) collection reached the object. */
GC_API int GC_CALL GC_is_marked(const void *) GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_clear_mark_bit(const void *) GC_ATTR_NONNULL(1);
GC_API void GC_CALL GC_set_mark_bit(const void *) GC_ATTR_NONNULL(1);

/* Roots pushed by a push_other_roots procedure, during a collection: the range is scanned
 * conservatively. */
GC_API void GC_CALL GC_push_all(void * /* bottom */, void * /* top */);
GC_API void GC_CALL GC_push_all_eager(void * /* bottom */, void * /* top */);
GC_API void GC_CALL GC_push_conditional(void * /* bottom */, void * /* top */, int /* all */);
GC_API void GC_CALL GC_push_finalizer_structures(void);

typedef void(GC_CALLBACK *GC_push_other_roots_proc)(void);
GC_API void GC_CALL GC_set_push_other_roots(GC_push_other_roots_proc);
GC_API GC_push_other_roots_proc GC_CALL GC_get_push_other_roots(void);

typedef void(GC_CALLBACK *GC_reachable_object_proc)(void * /* obj */, size_t /* bytes */,
                                                     void * /* client_data */);
GC_API void GC_CALL GC_enumerate_reachable_objects_inner(GC_reachable_object_proc,
                                                         void * /* client_data */)
    GC_ATTR_NONNULL(1);
GC_API int GC_CALL GC_is_tmp_root(void *);
GC_API void GC_CALL GC_print_trace(GC_word /* gc_no */);
GC_API void GC_CALL GC_print_trace_inner(GC_word /* gc_no */);

#ifdef __cplusplus
}
#endif
#endif /* GC_MARK_H */
