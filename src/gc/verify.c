// verify.c: after marking, a second, independent marking from the same roots into check_bits.
// Every object it reaches must carry a mark bit from the real marking; one that does not would
// be freed while reachable, so the verifier stops the program there, naming the object. The check
// bits are cleared as they are compared, ready for the next cycle.
#include "gc/verify.h"

#include "alloc/large.h"
#include "base/message.h"
#include "gc/roots.h"

static uint64_t checked_objects;
uintptr_t verify_missed_object; // the last object the verifier found unmarked (for debuggers)

static void compare_span(struct span *s, void *unused) {
  (void)unused;
  if (s->check_bits == NULL)
    return;
  for (uint32_t w = 0; w < span_bitmap_words(s); w++) {
    uint64_t reached = load_relaxed(&s->check_bits[w]);
    uint64_t missed = 0;
    for (uint64_t r = reached; r; r &= r - 1) {
      uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(r);
      if (!span_object_is_marked(s, i))
        missed |= (uint64_t)1 << (i % 64);
    }
    checked_objects += (uint64_t)__builtin_popcountll(reached);
    store_relaxed(&s->check_bits[w], 0);
    if (s->kind == KIND_UNCOLLECTABLE || s->kind == KIND_MANUAL)
      continue;
    if (missed) {
      uint32_t index = w * 64 + (uint32_t)__builtin_ctzll(missed);
      verify_missed_object = span_object_address(s, index); // for a debugger
      shade_fatal("shade: verifier: object %p (size %u, kind %u) is reachable but unmarked; "
                  "it would have been freed", (void *)span_object_address(s, index),
                  s->object_size, (unsigned)s->kind);
    }
  }
}

void verify_marking(struct shade_thread *self, uintptr_t self_stack_pointer) {
  struct marker m;
  marker_begin(&m, true);
  roots_mark(&m, self, self_stack_pointer);
  worklist_begin(1);
  mark_drain(&m);
  marker_end(&m);
  checked_objects = 0;
  for (unsigned c = 0; c < SPAN_CLASS_COUNT; c++)
    if (c / KIND_COUNT != 0)
      central_for_each_span(c, compare_span, NULL);
  for (struct span *s = large_first(); s; s = s->next)
    compare_span(s, NULL);
}
