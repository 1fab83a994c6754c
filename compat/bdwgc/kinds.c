// kinds.c: bdwgc's object kinds, mark descriptors and mark procedures over Shade's types.
//
// Kinds 0-3 are bdwgc's built-in ones: pointer-free (shade_malloc_atomic), normal
// (shade_malloc), uncollectable and atomic uncollectable (both shade_malloc_uncollectable).
// GC_new_kind adds kinds 4.. (at most COMPAT_MAX_KINDS in all). A new kind whose descriptor says
// "scan the whole object" is a normal kind, "scan nothing" a pointer-free one; any other
// descriptor (a length, a bitmap, a mark procedure, a per-object descriptor) gets a Shade type
// whose trace callback reads the descriptor: one trampoline per kind number, since a trace
// callback is not told its type. A mark procedure is called from that callback with a
// compat_mark_context in place of bdwgc's mark stack pointer; GC_mark_and_push reads the
// context back and visits the pointer, and returns the same token, so a procedure that returns
// what GC_MARK_AND_PUSH returned keeps working. The procedure runs on a marking thread, with
// the world stopped, possibly beside other marking threads (as bdwgc's parallel marking).
//
// Invariants: a kind's slot is written once, under kinds_lock, before GC_new_kind returns its
// number; marking reads it without a lock (the number reached the program after the write).
// GC_least_plausible_heap_addr and GC_greatest_plausible_heap_addr span the whole address
// space above the first page, so GC_MARK_AND_PUSH hands every candidate to GC_mark_and_push,
// which lets Shade decide.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "gc/gc_inline.h"

void *GC_least_plausible_heap_addr = (void *)4096;
void *GC_greatest_plausible_heap_addr = (void *)~(uintptr_t)0;

enum kind_storage { STORE_ATOMIC, STORE_CONSERVATIVE, STORE_TRACED, STORE_UNCOLLECTABLE };

struct kind {
  enum kind_storage storage;
  GC_word descriptor;
  int add_size;        // the object's size is added to a length descriptor
  int clear;           // new objects are zeroed (Shade zeroes all but atomic ones)
  compat_disclaim_fn disclaim;
  struct shade_type type; // STORE_TRACED
  char name[24];
};

static struct kind kinds[COMPAT_MAX_KINDS] = {
    [COMPAT_KIND_PTRFREE] = {.storage = STORE_ATOMIC},
    [COMPAT_KIND_NORMAL] = {.storage = STORE_CONSERVATIVE, .add_size = 1, .clear = 1},
    [COMPAT_KIND_UNCOLLECTABLE] = {.storage = STORE_UNCOLLECTABLE, .add_size = 1, .clear = 1},
    [COMPAT_KIND_ATOMIC_UNCOLLECTABLE] = {.storage = STORE_UNCOLLECTABLE},
};
static atomic_int kind_count = COMPAT_FIRST_FREE_KIND;
static pthread_mutex_t kinds_lock = PTHREAD_MUTEX_INITIALIZER;

static GC_mark_proc mark_procs[GC_MAX_MARK_PROCS];
static int mark_proc_count = GC_RESERVED_MARK_PROCS;

__thread struct compat_mark_context *compat_current_mark;
__thread const void *compat_tracing_object;
__thread size_t compat_tracing_size;

int compat_kind_count(void) { return atomic_load(&kind_count); }

// Marking reads words of program objects that other marking threads may be marking too.
__attribute__((no_sanitize("address", "thread"))) void
compat_visit_range(struct compat_mark_context *mark, const void *start, const void *end) {
  uintptr_t from = ((uintptr_t)start + sizeof(void *) - 1) & ~(uintptr_t)(sizeof(void *) - 1);
  for (uintptr_t p = from; p + sizeof(void *) <= (uintptr_t)end; p += sizeof(void *))
    mark->visit(*(void **)p, mark->visit_context);
}

static void trace_descriptor(struct compat_mark_context *mark, void *object, size_t size,
                             GC_word descriptor, int add_size, int depth);

__attribute__((no_sanitize("address", "thread"))) static GC_word read_word(const void *p) {
  return *(const GC_word *)p;
}

static void trace_descriptor(struct compat_mark_context *mark, void *object, size_t size,
                             GC_word descriptor, int add_size, int depth) {
  switch (descriptor & GC_DS_TAGS) {
  case GC_DS_LENGTH: {
    size_t length = descriptor + (add_size ? size : 0);
    compat_visit_range(mark, object, (char *)object + (length < size ? length : size));
    break;
  }
  case GC_DS_BITMAP: {
    GC_word bits = descriptor & ~(GC_word)GC_DS_TAGS;
    size_t words = size / sizeof(GC_word);
    for (size_t i = 0; bits != 0 && i < words; i++, bits <<= 1)
      if (bits >> (8 * sizeof(GC_word) - 1))
        mark->visit((void *)read_word((GC_word *)object + i), mark->visit_context);
    break;
  }
  case GC_DS_PROC: {
    GC_mark_proc proc = mark_procs[(descriptor >> GC_DS_TAG_BITS) & (GC_MAX_MARK_PROCS - 1)];
    GC_word env = descriptor >> (GC_DS_TAG_BITS + GC_LOG_MAX_MARK_PROCS);
    if (proc == NULL) { // an index GC_new_proc never gave: scan it all rather than lose objects
      compat_visit_range(mark, object, (char *)object + size);
      break;
    }
    struct GC_ms_entry *token = (struct GC_ms_entry *)mark;
    proc((GC_word *)object, token, (struct GC_ms_entry *)((uintptr_t)mark + (1u << 20)), env);
    break;
  }
  case GC_DS_PER_OBJECT: {
    if (depth > 0)
      break;
    GC_word inner;
    if ((GC_signed_word)descriptor >= 0) { // the descriptor is a word of the object
      size_t offset = descriptor - GC_DS_PER_OBJECT;
      if (offset + sizeof(GC_word) > size)
        break;
      inner = read_word((char *)object + offset);
    } else { // ...or of the type its first word points to
      char *type_descriptor = (char *)read_word(object);
      if (type_descriptor == NULL)
        break;
      inner = read_word(type_descriptor -
                        ((GC_signed_word)descriptor + (GC_INDIR_PER_OBJ_BIAS - GC_DS_PER_OBJECT)));
    }
    if (inner != 0)
      trace_descriptor(mark, object, size, inner, 0, depth + 1);
    break;
  }
  }
}

static void trace_kind(int kind, void *object, size_t object_size, shade_visit_fn visit,
                       void *visit_context) {
  struct compat_mark_context mark = {visit, visit_context};
  struct compat_mark_context *outer_mark = compat_current_mark;
  const void *outer_object = compat_tracing_object;
  size_t outer_size = compat_tracing_size;
  compat_current_mark = &mark;
  compat_tracing_object = object;
  compat_tracing_size = object_size;
  trace_descriptor(&mark, object, object_size, kinds[kind].descriptor, kinds[kind].add_size, 0);
  compat_current_mark = outer_mark;
  compat_tracing_object = outer_object;
  compat_tracing_size = outer_size;
}

#define TRAMPOLINE(k)                                                                        \
  static void trace_kind_##k(void *object, size_t size, shade_visit_fn visit, void *context) { \
    trace_kind(k, object, size, visit, context);                                             \
  }
TRAMPOLINE(0) TRAMPOLINE(1) TRAMPOLINE(2) TRAMPOLINE(3) TRAMPOLINE(4) TRAMPOLINE(5)
TRAMPOLINE(6) TRAMPOLINE(7) TRAMPOLINE(8) TRAMPOLINE(9) TRAMPOLINE(10) TRAMPOLINE(11)
TRAMPOLINE(12) TRAMPOLINE(13) TRAMPOLINE(14) TRAMPOLINE(15) TRAMPOLINE(16) TRAMPOLINE(17)
TRAMPOLINE(18) TRAMPOLINE(19) TRAMPOLINE(20) TRAMPOLINE(21) TRAMPOLINE(22) TRAMPOLINE(23)
typedef void (*trace_fn)(void *, size_t, shade_visit_fn, void *);
static const trace_fn trampolines[COMPAT_MAX_KINDS] = {
    trace_kind_0,  trace_kind_1,  trace_kind_2,  trace_kind_3,  trace_kind_4,  trace_kind_5,
    trace_kind_6,  trace_kind_7,  trace_kind_8,  trace_kind_9,  trace_kind_10, trace_kind_11,
    trace_kind_12, trace_kind_13, trace_kind_14, trace_kind_15, trace_kind_16, trace_kind_17,
    trace_kind_18, trace_kind_19, trace_kind_20, trace_kind_21, trace_kind_22, trace_kind_23};

// A mark procedure's call, for the object being traced on this thread.
GC_API struct GC_ms_entry *GC_CALL GC_mark_and_push(void *object, struct GC_ms_entry *token,
                                                    struct GC_ms_entry *limit, void **source) {
  (void)limit, (void)source;
  struct compat_mark_context *mark = compat_current_mark;
  if (COMPAT_UNLIKELY(mark == NULL)) {
    compat_message("shade: GC_mark_and_push(%p): called outside a mark procedure; ignored",
                   object);
    return token;
  }
  mark->visit(object, mark->visit_context);
  return token;
}

GC_API void **GC_CALL GC_new_free_list_inner(void) {
  void **list = calloc(GC_TINY_FREELISTS * 16, sizeof(void *)); // bdwgc's MAXOBJGRANULES + 1
  if (list == NULL)
    compat_abort("GC_new_free_list: out of memory");
  return list;
}
GC_API void **GC_CALL GC_new_free_list(void) { return GC_new_free_list_inner(); }

GC_API unsigned GC_CALL GC_new_kind_inner(void **free_list, GC_word descriptor, int add_size,
                                          int clear) {
  (void)free_list; // Shade keeps its own free lists
  int kind = atomic_load(&kind_count);
  if (kind >= COMPAT_MAX_KINDS) {
    compat_message("shade: GC_new_kind: more than %d kinds; using the normal kind (objects are "
                   "scanned conservatively)", COMPAT_MAX_KINDS);
    return COMPAT_KIND_NORMAL;
  }
  struct kind *k = &kinds[kind];
  k->descriptor = descriptor;
  k->add_size = add_size;
  k->clear = clear;
  if ((descriptor & GC_DS_TAGS) == GC_DS_LENGTH && add_size)
    k->storage = STORE_CONSERVATIVE; // the whole object (and maybe more: no difference)
  else if (descriptor == GC_DS_LENGTH)
    k->storage = STORE_ATOMIC;
  else {
    k->storage = STORE_TRACED;
    snprintf(k->name, sizeof k->name, "bdwgc kind %d", kind);
    k->type = (struct shade_type){.name = k->name, .size = sizeof(GC_word),
                                  .trace = trampolines[kind]};
  }
  atomic_store(&kind_count, kind + 1);
  return (unsigned)kind;
}

GC_API unsigned GC_CALL GC_new_kind(void **free_list, GC_word descriptor, int add_size,
                                    int clear) {
  pthread_mutex_lock(&kinds_lock);
  unsigned kind = GC_new_kind_inner(free_list, descriptor, add_size, clear);
  pthread_mutex_unlock(&kinds_lock);
  return kind;
}

GC_API unsigned GC_CALL GC_new_proc_inner(GC_mark_proc proc) {
  if (mark_proc_count >= GC_MAX_MARK_PROCS)
    compat_abort("GC_new_proc: too many mark procedures");
  mark_procs[mark_proc_count] = proc;
  return (unsigned)mark_proc_count++;
}

GC_API unsigned GC_CALL GC_new_proc(GC_mark_proc proc) {
  pthread_mutex_lock(&kinds_lock);
  unsigned index = GC_new_proc_inner(proc);
  pthread_mutex_unlock(&kinds_lock);
  return index;
}

compat_disclaim_fn compat_kind_disclaim(int kind) {
  return kind >= 0 && kind < COMPAT_MAX_KINDS ? kinds[kind].disclaim : NULL;
}
void compat_kinds_set_disclaim(int kind, compat_disclaim_fn proc) { kinds[kind].disclaim = proc; }

// One object of a kind; its disclaim procedure, if any, is attached as a finalizer.
void *compat_kind_malloc(size_t bytes, int kind, const char *call) {
  compat_ready();
  if (COMPAT_UNLIKELY(kind < 0 || kind >= atomic_load(&kind_count))) {
    compat_message("shade: %s(%zu, %d): no such kind; allocating a normal object", call, bytes,
                   kind);
    kind = COMPAT_KIND_NORMAL;
  }
  struct kind *k = &kinds[kind];
  size_t request = compat_request_size(bytes);
  void *p;
  switch (k->storage) {
  case STORE_ATOMIC:
    p = shade_malloc_atomic(request);
    if (p && k->clear)
      memset(p, 0, bytes);
    break;
  case STORE_CONSERVATIVE: p = shade_malloc(request); break;
  case STORE_UNCOLLECTABLE: p = shade_malloc_uncollectable(request); break;
  default: p = shade_malloc_typed(request, &k->type); break;
  }
  if (p && COMPAT_UNLIKELY(k->disclaim != NULL))
    compat_disclaim_register(p, kind);
  return compat_after_alloc(p, bytes);
}

GC_API void *GC_CALL GC_generic_malloc(size_t bytes, int kind) {
  return compat_kind_malloc(bytes, kind, "GC_generic_malloc");
}
GC_API void *GC_CALL GC_generic_malloc_ignore_off_page(size_t bytes, int kind) {
  return compat_kind_malloc(bytes, kind, "GC_generic_malloc_ignore_off_page");
}
GC_API void *GC_CALL GC_generic_or_special_malloc(size_t bytes, int kind) {
  return compat_kind_malloc(bytes, kind, "GC_generic_or_special_malloc");
}
GC_API void *GC_CALL GC_malloc_kind(size_t bytes, int kind) {
  if (kind == COMPAT_KIND_NORMAL)
    return GC_malloc(bytes);
  if (kind == COMPAT_KIND_PTRFREE)
    return GC_malloc_atomic(bytes);
  return compat_kind_malloc(bytes, kind, "GC_malloc_kind");
}
GC_API void *GC_CALL GC_malloc_kind_global(size_t bytes, int kind) {
  return GC_malloc_kind(bytes, kind);
}
// Uncollectable objects of a kind are scanned conservatively (a root: the safe direction).
GC_API void *GC_CALL GC_generic_malloc_uncollectable(size_t bytes, int kind) {
  (void)kind;
  return GC_malloc_uncollectable(bytes);
}

// Up to a page's worth of objects, linked through their first word (gc_inline.h refills); the
// two standard kinds come a span's free slots at a time, others one allocation each.
GC_API void GC_CALL GC_generic_malloc_many(size_t bytes, int kind, void **result) {
  size_t count = bytes >= 2048 ? 1 : 4096 / (bytes ? bytes : COMPAT_GRANULE);
  if (count > 256)
    count = 256;
  if (kind == COMPAT_KIND_NORMAL || kind == COMPAT_KIND_PTRFREE) { // a span's slots at a time
    compat_ready();
    size_t size = compat_request_size(bytes) + 1; // (Shade's byte past the end)
    void *list;
    if (compat_malloc_batch(size, kind == COMPAT_KIND_PTRFREE, count, &list) == 0) {
      list = compat_out_of_memory(bytes);
      if (list != NULL)
        *(void **)list = NULL;
    } else if (COMPAT_UNLIKELY(atomic_load_explicit(&compat_finalizers_waiting,
                                                    memory_order_relaxed))) {
      compat_run_waiting_finalizers();
    }
    *result = list;
    return;
  }
  void *list = NULL;
  for (size_t i = 0; i < count; i++) {
    void *p = GC_malloc_kind(bytes, kind);
    if (p == NULL)
      break;
    *(void **)p = list;
    list = p;
  }
  *result = list;
}

GC_API int GC_CALL GC_get_kind_and_size(const void *p, size_t *psize) {
  if (psize)
    *psize = GC_size(p);
  return compat_kind_of(p);
}

GC_API void GC_CALL GC_register_describe_type_fn(int kind, GC_describe_type_fn fn) {
  (void)kind, (void)fn; // Shade's heap snapshots name objects by type instead
}

// ---- Roots pushed during marking (GC_set_push_other_roots, GC_push_all).
static void GC_CALLBACK no_other_roots(void) {}
// bdwgc exports it as a variable, which programs (ECL) chain by writing it directly.
__attribute__((visibility("default"))) GC_push_other_roots_proc GC_push_other_roots =
    no_other_roots;

// Marking calls the program's procedure from the trace of one uncollectable-by-reference
// object: `roots_hook` (in this library's data, a root) keeps it alive and reached by every
// collection.
static void *volatile roots_hook;
static void trace_roots_hook(void *object, size_t size, shade_visit_fn visit, void *context) {
  (void)object, (void)size;
  struct compat_mark_context mark = {visit, context};
  struct compat_mark_context *outer = compat_current_mark;
  compat_current_mark = &mark;
  GC_push_other_roots_proc proc = GC_push_other_roots;
  if (proc != NULL && proc != no_other_roots)
    proc();
  compat_current_mark = outer;
}
static const struct shade_type roots_hook_type = {
    .name = "bdwgc push_other_roots", .size = sizeof(void *), .trace = trace_roots_hook,
    .flags = SHADE_TYPE_SCAN_STOPPED};

// At initialisation: the variable may be written directly, so the hook always exists.
void compat_roots_hook_init(void) {
  roots_hook = shade_malloc_typed(sizeof(void *), &roots_hook_type);
  shade_add_roots((void *)&roots_hook, (char *)&roots_hook + sizeof roots_hook);
}

GC_API void GC_CALL GC_set_push_other_roots(GC_push_other_roots_proc proc) {
  GC_push_other_roots = proc ? proc : no_other_roots;
}
GC_API GC_push_other_roots_proc GC_CALL GC_get_push_other_roots(void) {
  return GC_push_other_roots;
}

static void push_range(void *bottom, void *top, const char *call) {
  struct compat_mark_context *mark = compat_current_mark;
  if (mark == NULL) {
    compat_message("shade: %s(%p, %p): called outside marking (push_other_roots or a mark "
                   "procedure); ignored", call, bottom, top);
    return;
  }
  compat_visit_range(mark, bottom, top);
}
GC_API void GC_CALL GC_push_all(void *bottom, void *top) { push_range(bottom, top, "GC_push_all"); }
GC_API void GC_CALL GC_push_all_eager(void *bottom, void *top) {
  push_range(bottom, top, "GC_push_all_eager");
}
GC_API void GC_CALL GC_push_conditional(void *bottom, void *top, int all) {
  (void)all;
  push_range(bottom, top, "GC_push_conditional");
}
GC_API void GC_CALL GC_push_finalizer_structures(void) {}

GC_API void GC_CALL GC_print_free_list(int kind, size_t granules) { (void)kind, (void)granules; }

// Shade does not record bdwgc kind numbers per object; every object answers "normal" (the
// pointer-free and typed ones included). docs/bdwgc.md lists this.
int compat_kind_of(const void *base) {
  (void)base;
  return COMPAT_KIND_NORMAL;
}
