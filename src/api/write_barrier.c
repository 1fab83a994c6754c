// write_barrier.c: the public slow path of the write barrier (the inline part is in shade.h;
// the algorithm is gc/barrier.c).
#include "api/api_internal.h"
#include "gc/barrier.h"
#include "gc/cards.h"

SHADE_API void shade_write_slow_(void *old_value, void *new_value) {
  barrier_record(api_thread("shade_write"), old_value, new_value);
}

SHADE_API void shade_write_range(void *start, size_t bytes) {
  struct shade_thread *t = api_thread("shade_write_range");
  if (start == NULL || bytes == 0)
    return;
  if (__atomic_load_n(&shade_barrier_active_, __ATOMIC_RELAXED) & BARRIER_CARDS)
    cards_note_written((uintptr_t)start, bytes);
  uintptr_t first = ((uintptr_t)start + WORD_SIZE - 1) & ~(uintptr_t)(WORD_SIZE - 1);
  uintptr_t end = ((uintptr_t)start + bytes) & ~(uintptr_t)(WORD_SIZE - 1); // pointers are aligned
  if (barrier_active() && end > first)
    barrier_shade_words(t, (const void *)first, end - first);
}
