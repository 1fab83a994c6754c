// verify.c: after marking, a second, independent marking from the same roots into check_bits.
// Every object it reaches must carry a mark bit from the real marking; one that does not would
// be freed while reachable, so the verifier stops the program there, naming the object and an
// object that points to it (found by a walk of the heap: the program stops anyway). The check
// bits are cleared as they are compared, ready for the next cycle. Both walks take every span in
// use from the arenas, not from the central lists: a span that a bug left on no list still holds
// objects the program reaches.
//
// Stacks. The marking scans each thread's stack conservatively, and a concurrent one scans it
// once, early, from where the thread stood then; nothing scans it again. A stack word is not a
// root the program promises to read again: dead slots below the stack pointer come back inside
// the scanned range when the stack grows again without writing them, and frames and registers
// keep words the program no longer uses (spilled registers, the frames Shade's own code ran in
// on that thread: allocation, assists, barrier flushes, signal frames). Such a word may name an
// object that was already garbage when the marking began. A correct C program never reads it
// (an unwritten or dead local is indeterminate), so the object may be freed; but a verifier that
// took every stack word as a root would report it. So a stack word is a root for the verifier
// only if it names an object the marking marked: then everything reachable from it must be marked
// too (its fields are heap edges). A stack word naming an unmarked object is not followed
// (`excused`). Every other root (data segments, root ranges, thread-locals, uncollectable
// objects) and every heap edge is checked in full. What the verifier can no longer see is an
// object that only some thread's stack or registers hold, unmarked: a store that skipped the
// barrier loses such an object only if no object reachable from the roots through the heap
// still refers to it (the collector's own tests find those by their contents). This applies only
// after a termination that stops no thread: a stop-the-world marking (young or full) and the
// stop-the-world termination of a concurrent or incremental one scan the same stacks the
// verifier does, so after them every stack word is a root for the verifier too, as any other (a
// word naming an unmarked object is an error).
//
// Generations: besides the marks, the cards (generations.c's invariant). The verifier's marker
// scans the objects that will be gen2 after the collection as the collection's markers do
// (mark.c), and where those would note a card, it checks that the card is set: a slot of a
// reachable old object pointing to a marked younger object with a clean card is reported
// (verify_card_clean), since a later gen1 collection could free that object.
#define _GNU_SOURCE
#include "gc/verify.h"

#include <stdio.h>

#include "alloc/arena.h"
#include "base/message.h"
#include "gc/roots.h"

static uint64_t checked_objects;
uintptr_t verify_missed_object; // the last object the verifier found unmarked (for debuggers)
uintptr_t verify_missed_referrer; // an allocated object pointing to it, or 0 (for debuggers)

struct referrer_search {
  uintptr_t lo, hi; // the missed object
  bool marked_only; // first look for an old (marked) one: the likely culprit
  struct span *span;
  uint32_t index;
};

static size_t object_bytes(const struct span *s) {
  return s->state == SPAN_LARGE ? align_up(s->large_requested, WORD_SIZE) : s->object_size;
}

SHADE_NO_SANITIZE static void find_referrer_in(struct span *s, void *context) {
  struct referrer_search *search = context;
  if (search->span != NULL || s->kind == KIND_ATOMIC || s->kind == KIND_MANUAL)
    return;
  size_t size = object_bytes(s);
  for (uint32_t i = 0; i < s->object_count; i++) {
    uintptr_t object = span_object_address(s, i);
    if (object == search->lo || !span_object_is_allocated(s, i) ||
        (search->marked_only && !span_object_is_marked(s, i)))
      continue;
    for (uintptr_t p = object; p + WORD_SIZE <= object + size; p += WORD_SIZE) {
      uintptr_t word = *(const uintptr_t *)p;
      if (word >= search->lo && word < search->hi) {
        search->span = s;
        search->index = i;
        return;
      }
    }
  }
}

// Describes an object holding a pointer into [lo, hi), a marked one if there is one (there may
// be others, and roots).
static void describe_referrer(uintptr_t lo, uintptr_t hi, char *text, size_t size) {
  struct referrer_search search = {lo, hi, true, NULL, 0};
  for (int pass = 0; pass < 2 && search.span == NULL; pass++, search.marked_only = false)
    arena_for_each_span(find_referrer_in, &search); // (a no-op once found)
  struct span *s = search.span;
  if (s == NULL) {
    snprintf(text, size, "no object points to it (a root does)");
    return;
  }
  verify_missed_referrer = span_object_address(s, search.index);
  snprintf(text, size, "object %p (%s, kind %u, generation %u, %s) points to it",
           (void *)verify_missed_referrer, s->state == SPAN_LARGE ? "large" : "small",
           (unsigned)s->kind, span_object_generation(s, search.index),
           span_object_is_marked(s, search.index) ? "marked" : "unmarked");
}

void verify_card_clean(uintptr_t slot, uintptr_t target) {
  uint32_t index;
  struct span *t = arena_object_of(target, &index);
  verify_missed_object = t ? span_object_address(t, index) : target;
  shade_fatal("shade: verifier: the slot %p of an object that will be gen2 points to object %p "
              "(generation %u), but the slot's card is clean: a gen1 collection would not scan "
              "it", (void *)slot, (void *)verify_missed_object,
              t ? span_object_generation(t, index) : 0);
}

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
      char referrer[160];
      describe_referrer(verify_missed_object, verify_missed_object + object_bytes(s), referrer,
                        sizeof referrer);
      shade_fatal("shade: verifier: object %p (size %zu, kind %u) is reachable but unmarked; "
                  "it would have been freed; %s", (void *)verify_missed_object, object_bytes(s),
                  (unsigned)s->kind, referrer);
    }

  }
}

static uint64_t excused;
static bool excuse_stacks; // the marking scanned the stacks while the program ran
uint64_t verify_excused_words(void) { return excused; }

// One thread's stack and registers (spilled at its park): only words naming marked objects.
static SHADE_NO_SANITIZE void mark_stack(struct marker *m, uintptr_t lo, uintptr_t hi) {
  for (uintptr_t a = align_up(lo, WORD_SIZE); a + WORD_SIZE <= hi; a += WORD_SIZE) {
    uint32_t index;
    struct span *s = arena_object_of(*(volatile uintptr_t *)a, &index);
    if (s == NULL || s->kind == KIND_MANUAL || !span_object_is_allocated(s, index))
      continue;
    if (!excuse_stacks || span_object_is_marked(s, index))
      mark_object_and_scan(m, s, index);
    else
      excused++;
  }
}

static void mark_thread(struct marker *m, struct shade_thread *t, uintptr_t stack_pointer) {
  if (stack_pointer >= t->stack_low && stack_pointer <= t->stack_high)
    mark_stack(m, stack_pointer, t->stack_high);
  for (unsigned i = 0; i < t->tls_range_count; i++)
    mark_root_range(m, t->tls_ranges[i][0], t->tls_ranges[i][1]);
}

void verify_marking(struct shade_thread *self, uintptr_t self_stack_pointer,
                    bool stacks_scanned_once) {
  struct marker m;
  marker_begin(&m, true);
  excuse_stacks = stacks_scanned_once;
  for (struct shade_thread *t = threads_first(); t; t = t->next)
    mark_thread(&m, t, t == self ? self_stack_pointer : t->stack_pointer);
  roots_mark_ranges(&m);
  roots_mark_uncollectable(&m);
  worklist_begin(1);
  mark_drain(&m);
  marker_end(&m);
  checked_objects = 0;
  // Every span in use, not only those on the lists: a span that reached none (lost by a bug)
  // still holds objects the program reaches.
  arena_for_each_span(compare_span, NULL);
}
