// misc.c: bdwgc's warnings and aborts, and its debugging aids, answered from Shade.
//
// Warnings (GC_set_warn_proc) are bdwgc's printf formats with one word argument; Shade's layer
// sends its few warnings the same way. Aborts (bdwgc's ABORT on misuse it cannot survive, such
// as a misaligned disappearing link) print one line through GC_on_abort or the abort function
// set by GC_set_abort_func, then abort(). Other misuse gets one "shade: GC_xxx(...)" line
// through Shade's message channel (shade_set_message_handler) and a documented outcome.
// The pointer checks of bdwgc's debugging mode (GC_same_obj, GC_is_visible, ...) answer
// without checking (they return their argument), which is what bdwgc does outside GC_DEBUG.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "gc/gc_mark.h"

static void GC_CALLBACK default_warn(char *message, GC_word argument) {
  char line[512];
  snprintf(line, sizeof line, message, argument);
  size_t length = strlen(line);
  while (length > 0 && line[length - 1] == '\n')
    line[--length] = '\0';
  compat_shade_message(line);
}
static GC_warn_proc warn_proc = default_warn;

GC_API void GC_CALL GC_set_warn_proc(GC_warn_proc fn) { warn_proc = fn ? fn : default_warn; }
GC_API GC_warn_proc GC_CALL GC_get_warn_proc(void) { return warn_proc; }
GC_API void GC_CALLBACK GC_ignore_warn_proc(char *message, GC_word argument) {
  (void)message, (void)argument;
}

void compat_warn(const char *format, GC_word argument) { warn_proc((char *)format, argument); }

void compat_message(const char *format, ...) {
  char line[512];
  va_list args;
  va_start(args, format);
  vsnprintf(line, sizeof line, format, args);
  va_end(args);
  compat_shade_message(line);
}

static int log_fd = 2;
GC_API void GC_CALL GC_set_log_fd(int fd) { log_fd = fd; }

static void GC_CALLBACK default_abort(const char *message) {
  if (message)
    compat_message("shade: libgc: %s", message);
}
GC_abort_func compat_abort_func = default_abort;
// bdwgc's internal hook, which its own test programs set.
__attribute__((visibility("default"))) void (*GC_on_abort)(const char *) = default_abort;

GC_API void GC_CALL GC_set_abort_func(GC_abort_func fn) {
  compat_abort_func = fn ? fn : default_abort;
  GC_on_abort = compat_abort_func;
}
GC_API GC_abort_func GC_CALL GC_get_abort_func(void) { return compat_abort_func; }

void compat_abort(const char *message) {
  GC_on_abort(message);
  abort();
}

// printf-style output for bdwgc's test programs (gc_priv.h declares these): one line, written
// with a single write(2) (no stdio lock: they may be called while threads are stopped).
static void print_line(int fd, const char *format, va_list args) {
  char line[1024];
  int n = vsnprintf(line, sizeof line, format, args);
  if (n > 0) {
    ssize_t ignored = write(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    (void)ignored;
  }
}
#define COMPAT_PRINTF(name, fd)                                                                 \
  __attribute__((visibility("default"))) void name(const char *format, ...) {                   \
    va_list args;                                                                               \
    va_start(args, format);                                                                     \
    print_line((fd), format, args);                                                             \
    va_end(args);                                                                               \
  }
COMPAT_PRINTF(GC_printf, 1)
COMPAT_PRINTF(GC_log_printf, log_fd)
COMPAT_PRINTF(GC_err_printf, 2)

GC_API void GC_CALL GC_noop1(GC_word word) {
  __asm__ __volatile__("" : : "r"(word) : "memory");
}

// ---- Dumps: Shade's statistics in one line (bdwgc prints its block lists).
GC_API void GC_CALL GC_dump_named(const char *name) {
  struct shade_stats s;
  compat_ready();
  shade_get_stats(&s);
  GC_printf("***Shade heap%s%s: %llu collections, %llu bytes in objects, %llu bytes marked "
            "live, %llu bytes mapped, goal %llu\n",
            name ? " " : "", name ? name : "", (unsigned long long)s.cycles,
            (unsigned long long)s.heap_in_use, (unsigned long long)s.heap_live,
            (unsigned long long)s.heap_mapped, (unsigned long long)s.heap_goal);
}
GC_API void GC_CALL GC_dump(void) { GC_dump_named(NULL); }
GC_API void GC_CALL GC_dump_regions(void) { GC_dump_named("regions"); }
GC_API void GC_CALL GC_dump_finalization(void) {
  compat_ready();
  GC_printf("***Shade finalization: %zu finalizers ready to run\n", shade_finalizers_pending());
}
GC_API void GC_CALL GC_print_trace(GC_word gc_no) { (void)gc_no; }
GC_API void GC_CALL GC_print_trace_inner(GC_word gc_no) { (void)gc_no; }

// ---- Pointer checks (see the top of the file)
static void GC_CALLBACK default_same_obj_print(void *p, void *q) {
  compat_message("shade: GC_same_obj(%p, %p): not in the same object", p, q);
}
static void GC_CALLBACK default_pointer_print(void *p) {
  compat_message("shade: %p is not a valid pointer here", p);
}
void(GC_CALLBACK *GC_same_obj_print_proc)(void *, void *) = default_same_obj_print;
void(GC_CALLBACK *GC_is_valid_displacement_print_proc)(void *) = default_pointer_print;
void(GC_CALLBACK *GC_is_visible_print_proc)(void *) = default_pointer_print;

GC_API void *GC_CALL GC_same_obj(void *p, void *q) {
  void *base = GC_base(p);
  if (base != NULL && GC_base(q) != base)
    GC_same_obj_print_proc(p, q);
  return p;
}
GC_API void *GC_CALL GC_pre_incr(void **p, ptrdiff_t how_much) {
  void *initial = *p;
  void *result = GC_same_obj((char *)initial + how_much, initial);
  *p = result;
  return result;
}
GC_API void *GC_CALL GC_post_incr(void **p, ptrdiff_t how_much) {
  void *initial = *p;
  *p = GC_same_obj((char *)initial + how_much, initial);
  return initial;
}
GC_API void *GC_CALL GC_is_visible(void *p) { return p; }
GC_API void *GC_CALL GC_is_valid_displacement(void *p) { return p; }
GC_API int GC_CALL GC_is_tmp_root(void *p) {
  (void)p;
  return 0;
}
GC_API void *GC_CALL GC_clear_stack(void *result) { return result; }

// Reachable objects one by one: Shade offers heap snapshots (shade_write_heap_snapshot)
// instead; this enumerates nothing (docs/bdwgc.md).
GC_API void GC_CALL GC_enumerate_reachable_objects_inner(GC_reachable_object_proc proc,
                                                         void *client_data) {
  (void)proc, (void)client_data;
}

// ---- gc_backptr.h: no back pointers are kept (see the header).
#include "gc/gc_backptr.h"
GC_API GC_ref_kind GC_CALL GC_get_back_ptr_info(void *dest, void **base, size_t *offset) {
  (void)dest;
  if (base)
    *base = NULL;
  if (offset)
    *offset = 0;
  return GC_NO_SPACE;
}
GC_API void *GC_CALL GC_generate_random_heap_address(void) { return NULL; }
GC_API void *GC_CALL GC_generate_random_valid_address(void) { return NULL; }
GC_API void GC_CALL GC_generate_random_backtrace(void) {}
GC_API void GC_CALL GC_print_backtrace(void *p) { (void)p; }

// Allocation counters that bdwgc's own tests adjust (gc_priv.h declares them): Shade counts
// its allocations itself.
__attribute__((visibility("default"))) void GC_incr_bytes_allocd(size_t bytes) { (void)bytes; }
__attribute__((visibility("default"))) void GC_incr_bytes_freed(size_t bytes) { (void)bytes; }
