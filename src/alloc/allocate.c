// allocate.c: the allocation slow paths: refilling a thread cache from the central lists (which
// may sweep, and may first run a collection the pacer asks for), large objects straight from the
// page heap, and running out of memory.
//
// Byte accounting for the pacer happens per span, not per object: taking a span adds the bytes
// of its free slots to heap_in_use, and a cache giving back a span with slots left subtracts them.
#include "alloc/allocate.h"

#include <errno.h>
#include <sys/sysinfo.h>

#include "alloc/arena.h"
#include "alloc/large.h"
#include "alloc/pageheap.h"
#include "base/options.h"
#include "gc/black_allocation.h"
#include "gc/cycle.h"
#include "gc/marking.h"
#include "gc/pacer.h"
#include "gc/sweep.h"
#include "gc/sweep_pacer.h"

// Requests above the machine's RAM + swap fail at once, as malloc's do (MAP_NORESERVE would
// otherwise hand out address space the machine could never back).
static size_t max_object_size(void) {
  static _Atomic size_t limit;
  size_t known = load_relaxed(&limit);
  if (known == 0) {
    struct sysinfo info;
    known = (size_t)1 << 46;
    if (sysinfo(&info) == 0) {
      size_t machine = ((size_t)info.totalram + (size_t)info.totalswap) * info.mem_unit;
      if (machine < known)
        known = machine;
    }
    store_relaxed(&limit, known);
  }
  return known;
}

void *allocate_out_of_memory(size_t size) {
  void *answer = NULL;
  if (shade_options_in_force.oom_handler)
    answer = shade_options_in_force.oom_handler(size);
  if (answer == NULL)
    errno = ENOMEM;
  return answer;
}

static void *allocate_large(struct shade_thread *t, size_t size, size_t padding,
                            enum object_kind kind, const struct shade_type *type) {
  if (size > max_object_size())
    return allocate_out_of_memory(size - padding);
  size_t pages = (size + PAGE_SIZE - 1) / PAGE_SIZE;
  if (marking.mode != MODE_STW)
    marking_pace(t, pages * PAGE_SIZE); // may start a cycle, or assist one
  else if (pacer_should_collect())
    cycle_collect(COLLECT_TRIGGERED);
  // Until the object's address is in a register (where a collection sees it), the new span must
  // not be swept: everything up to reading its base happens inside the critical section.
  void *base = NULL;
  bool zero = false;
  uint64_t cycle_at_allocation = 0;
  for (int attempt = 0; attempt < 2 && base == NULL; attempt++) {
    if (attempt == 1)
      cycle_collect(COLLECT_EXPLICIT); // the OS said no: free what we can and try once more
    critical_enter(t);
    struct span *s = pageheap_alloc(pages);
    if (s) {
      s->kind = (uint8_t)kind;
      s->size_class = 0;
      s->object_count = 1;
      s->object_size = 0;
      s->large_requested = size;
      s->large_type = type;
      span_bitmaps_allocate(s);
      store_relaxed(&s->freeindex, 1); // the one object is allocated
      s->alloc_cache = 0;
      store_release(&s->sweepgen, load_relaxed(&heap_sweepgen));
      store_relaxed(&s->black_from, BLACK_NONE);
      cycle_at_allocation = load_relaxed(&marking.cycles);
      span_publish(s, SPAN_LARGE);
      large_add(s);
      base = (void *)s->base;
      zero = kind != KIND_ATOMIC && s->needs_zeroing;
    }
    critical_leave(t);
  }
  if (base == NULL)
    return allocate_out_of_memory(size - padding);
  pacer_note_allocation(pages * PAGE_SIZE);
  if (zero) // outside the critical section: a large memset must not hold up a stop
    memset(base, 0, align_up(size, WORD_SIZE));
  // Black only now that it holds zeros, and only if the marking it was allocated in still runs
  // (else mark termination found it in a register and marked and scanned it, or a later mark
  // start's stack scan will): a mark set after termination would outlive the cycle.
  critical_enter(t);
  if (load_relaxed(&marking.cycles) == cycle_at_allocation)
    black_allocation_large(arena_span_of((uintptr_t)base));
  critical_leave(t);
  return base;
}

// Dead stack below the allocating frame holds stale pointers from earlier, deeper calls; frames
// that later reuse that stack without writing every slot would present them to the conservative
// scan as roots (bdwgc's GC_clear_stack has the same purpose). Zeroing a slice of it at each span
// refill (every few hundred allocations) keeps such false roots rare, for about 100 ns.
#define DEAD_STACK_CLEAR_BYTES 8192

static SHADE_NOINLINE SHADE_NO_SANITIZE void clear_dead_stack(void) {
  volatile char dead[DEAD_STACK_CLEAR_BYTES];
  memset((char *)dead, 0, sizeof dead);
  __asm__ volatile("" : : "r"(dead) : "memory");
}

// Give the cache's span of this class back and take one with room; *bytes: what it adds to the
// heap. false: out of memory. Called inside a critical section.
static bool refill(struct shade_thread *t, unsigned span_class, uint64_t *bytes) {
  thread_cache_release_span(t, span_class);
  struct span *s = central_acquire(span_class);
  if (s) {
    black_allocation_span_acquired(s);
    t->cache.spans[span_class] = s;
    *bytes = (uint64_t)span_count_free(s) * s->object_size;
    pacer_note_allocation(*bytes);
    sweep_pacer_step(); // keep sweeping ahead of the next cycle's start
  }
  return s != NULL;
}

static void *take_slot(struct span *s) {
  void *p = span_take_fast(s);
  if (p == NULL && s != &empty_span)
    p = span_take_slow(s);
  return p;
}

void *allocate_slow(struct shade_thread *t, size_t size, size_t padding, enum object_kind kind,
                    const struct shade_type *type) {
  if (size > MAX_SMALL_SIZE)
    return allocate_large(t, size, padding, kind, type);
  unsigned span_class = span_class_of(size_class_of(size), kind);
  bool collected = false, out_of_memory_once = false;
  clear_dead_stack();
  for (;;) {
    critical_enter(t);
    struct span *s = t->cache.spans[span_class];
    void *p = take_slot(s);
    bool want_collection =
        p == NULL && !collected && marking.mode == MODE_STW && pacer_should_collect();
    bool refilled = false;
    uint64_t refill_bytes = 0;
    if (p == NULL && !want_collection) {
      refilled = refill(t, span_class, &refill_bytes);
      if (refilled) {
        s = t->cache.spans[span_class];
        p = take_slot(s);
      }
    }
    if (p != NULL && kind != KIND_ATOMIC && s->needs_zeroing)
      zero_object(p, s->object_size); // inside: see allocate.h
    if (p != NULL && kind == KIND_TYPED)
      s->types[span_object_index(s, (uintptr_t)p)] = type;
    critical_leave(t);
    if (p != NULL) {
      if (refilled && marking.mode != MODE_STW)
        marking_pace(t, refill_bytes); // may start a cycle, or assist one
      return p;
    }
    if (want_collection) {
      collected = true;
      cycle_collect(COLLECT_TRIGGERED);
    } else if (!refilled) {
      if (out_of_memory_once)
        return allocate_out_of_memory(size - padding);
      out_of_memory_once = true; // the OS said no: free what we can and try once more
      cycle_collect(COLLECT_EXPLICIT);
    }
  }
}
