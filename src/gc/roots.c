// roots.c: the root set, scanned conservatively with the world stopped.
//
//   1. registered threads: [saved stack pointer, stack top) (registers were spilled there when
//      the thread parked) and the thread-local storage blocks recorded at registration;
//   2. writable PT_LOAD segments (data, bss) of the program and every loaded shared library,
//      listed by roots_prepare before the world stops (Shade's own globals are among them:
//      harmless, they point at metadata, never at objects; sanitizer runtimes are skipped);
//   3. user ranges from shade_add_roots;
//   4. uncollectable objects, small and large: marked and scanned whatever points to them.
// One-past-the-end pointers need nothing here: allocation pads each object by a byte.
#define _GNU_SOURCE
#include "gc/roots.h"

#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/arena.h"
#include "alloc/large.h"
#include "alloc/metadata.h"
#include "base/message.h"
#include "gc/finalization.h"
#include "gc/stop_world.h"

#define MAX_SEGMENTS 1024
#define MAX_USER_ROOTS 4096

struct range {
  uintptr_t lo, hi;
  const char *name; // data segments: the object's path from the loader ("" for the program)
  uintptr_t load_base; // data segments: the object's load address (symbol values are from it)
};

static pthread_mutex_t roots_mutex = PTHREAD_MUTEX_INITIALIZER;
static bool scan_data;
static struct range segments[MAX_SEGMENTS];
static unsigned segment_count;
static struct range *user_roots;
static unsigned user_root_count;
static _Atomic uint64_t scanned_root_bytes; // since roots_take_scanned_bytes last ran

void roots_lock(void) { lock_stoppable(&roots_mutex); }
void roots_unlock(void) { pthread_mutex_unlock(&roots_mutex); }
void roots_after_fork_child(void) { pthread_mutex_init(&roots_mutex, NULL); }

void roots_init(bool scan_data_segments) {
  scan_data = scan_data_segments;
  user_roots = metadata_alloc(MAX_USER_ROOTS * sizeof(struct range));
}

// The sanitizer runtimes keep tens of megabytes of bss that never point into our heap.
static bool is_sanitizer_runtime(const char *name) {
  return name && (strstr(name, "/libtsan.so") || strstr(name, "/libasan.so") ||
                  strstr(name, "/libubsan.so") || strstr(name, "/liblsan.so") ||
                  strstr(name, "/libclang_rt."));
}

static int list_segments(struct dl_phdr_info *info, size_t size, void *unused) {
  (void)size;
  (void)unused;
  if (is_sanitizer_runtime(info->dlpi_name))
    return 0;
  for (int i = 0; i < info->dlpi_phnum && segment_count < MAX_SEGMENTS; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
      continue;
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    segments[segment_count++] =
        (struct range){lo, lo + ph->p_memsz, info->dlpi_name ? info->dlpi_name : "",
                       info->dlpi_addr};
  }
  return 0;
}

void roots_prepare(void) {
  segment_count = 0;
  if (scan_data)
    dl_iterate_phdr(list_segments, NULL);
}

void roots_add(uintptr_t lo, uintptr_t hi) {
  lock_stoppable(&roots_mutex);
  if (user_root_count < MAX_USER_ROOTS)
    user_roots[user_root_count++] = (struct range){lo, hi, NULL, 0};
  pthread_mutex_unlock(&roots_mutex);
}

void roots_remove(uintptr_t lo, uintptr_t hi) {
  lock_stoppable(&roots_mutex);
  for (unsigned i = 0; i < user_root_count; i++) {
    if (user_roots[i].lo == lo && user_roots[i].hi == hi) {
      user_roots[i] = user_roots[--user_root_count];
      break;
    }
  }
  pthread_mutex_unlock(&roots_mutex);
}

// (No sanitizer: roots_mark_uncollectable_running calls it on spans other threads allocate from.)
static SHADE_NO_SANITIZE void mark_uncollectable_span(struct span *s, void *context) {
  struct marker *m = context;
  for (uint32_t i = 0; i < s->object_count; i++)
    if (span_object_is_allocated(s, i))
      mark_object_and_scan(m, s, i);
}

uint64_t roots_take_scanned_bytes(void) { return atomic_exchange(&scanned_root_bytes, 0); }

void roots_mark_thread(struct marker *m, struct shade_thread *t, uintptr_t stack_pointer) {
  uint64_t bytes = 0;
  for (unsigned i = 0; i < t->tls_range_count; i++)
    bytes += t->tls_ranges[i][1] - t->tls_ranges[i][0];
  if (stack_pointer >= t->stack_low && stack_pointer <= t->stack_high) {
    mark_root_range(m, stack_pointer, t->stack_high);
    bytes += t->stack_high - stack_pointer;
  } else // stopped on an alternate signal stack: its own stack's extent is unknown
    shade_message("shade: collection: thread %lu stopped outside its stack (sigaltstack?); "
                  "its stack is not scanned", (unsigned long)t->pthread);
  for (unsigned i = 0; i < t->tls_range_count; i++)
    mark_root_range(m, t->tls_ranges[i][0], t->tls_ranges[i][1]);
  atomic_fetch_add_explicit(&scanned_root_bytes, bytes, memory_order_relaxed);
}

void roots_mark(struct marker *m, struct shade_thread *self, uintptr_t self_stack_pointer) {
  for (struct shade_thread *t = threads_first(); t; t = t->next)
    roots_mark_thread(m, t, t == self ? self_stack_pointer : t->stack_pointer);
  roots_mark_ranges(m);
  roots_mark_uncollectable(m);
}

void roots_mark_ranges(struct marker *m) {
  uint64_t bytes = 0;
  for (unsigned i = 0; i < segment_count; i++) {
    mark_root_range(m, segments[i].lo, segments[i].hi);
    bytes += segments[i].hi - segments[i].lo;
  }
  for (unsigned i = 0; i < user_root_count; i++) {
    mark_root_range(m, user_roots[i].lo, user_roots[i].hi);
    bytes += user_roots[i].hi - user_roots[i].lo;
  }
  if (!m->checking) // the verifier's marking is not the collector's work
    atomic_fetch_add_explicit(&scanned_root_bytes, bytes, memory_order_relaxed);
}

void roots_mark_uncollectable(struct marker *m) {
  for (unsigned c = 1; c < SIZE_CLASS_COUNT; c++)
    central_for_each_span(span_class_of(c, KIND_UNCOLLECTABLE), mark_uncollectable_span, m);
  for (struct span *s = large_first(); s; s = s->next)
    if (s->kind == KIND_UNCOLLECTABLE && span_object_is_allocated(s, 0))
      mark_object_and_scan(m, s, 0);
  finalization_mark_roots(m); // finalizers' data, and objects whose finalizer waits to run
}

// The page map lists every span wherever it is (a list, a cache, on its way between them). Span
// records are read while other threads create and free spans (a record is reused, never
// unmapped): what is not a published uncollectable span is passed over, and a stale answer only
// greys more.
SHADE_NO_SANITIZE void roots_mark_uncollectable_running(struct marker *m) {
  uintptr_t low = heap_lowest_address(), high = heap_highest_address();
  for (uintptr_t a = low & ~(uintptr_t)(ARENA_SIZE - 1); a < high && low < high; a += ARENA_SIZE) {
    struct arena *arena = load_acquire(&arena_index[a >> ARENA_SHIFT]);
    if (arena == NULL)
      continue;
    struct span *last = NULL;
    for (size_t p = 0; p < PAGES_PER_ARENA; p++) {
      struct span *s = load_relaxed(&arena->pages[p]);
      if (s == NULL || s == last)
        continue;
      last = s;
      uint8_t state = *(volatile const uint8_t *)&s->state; // (racy on purpose: see above)
      if (state == SPAN_SMALL && s->kind == KIND_UNCOLLECTABLE &&
          s->base == a + p * PAGE_SIZE) // (its first page: each span once)
        mark_uncollectable_span(s, m);
    }
  }
  large_lock();
  for (struct span *s = large_first(); s; s = s->next)
    if (s->kind == KIND_UNCOLLECTABLE && span_object_is_allocated(s, 0))
      mark_object_and_scan(m, s, 0);
  large_unlock();
  finalization_lock(); // (the world runs: registrations wait; later ones shade their data)
  finalization_mark_roots(m);
  finalization_unlock();
}

void roots_mark_cached_uncollectable(struct marker *m, struct shade_thread *t) {
  for (unsigned c = 0; c < SPAN_CLASS_COUNT; c++) {
    struct span *s = t->cache.spans[c];
    if (s != &empty_span && s->kind == KIND_UNCOLLECTABLE)
      mark_uncollectable_span(s, m);
  }
}

void roots_for_each_range(roots_range_fn fn, void *context) {
  for (unsigned i = 0; i < segment_count; i++)
    fn(ROOT_DATA_SEGMENT, segments[i].name, segments[i].load_base, segments[i].lo, segments[i].hi,
       context);
  for (unsigned i = 0; i < user_root_count; i++)
    fn(ROOT_USER_RANGE, NULL, 0, user_roots[i].lo, user_roots[i].hi, context);
}
