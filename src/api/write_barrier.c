// write_barrier.c: the public slow path of the write barrier (the inline part is in shade.h;
// the algorithm is gc/barrier.c).
#include "api/api_internal.h"
#include "base/message.h"
#include "gc/barrier.h"
#include "gc/cards.h"

#include <string.h>

SHADE_API void shade_write_slow_(void *old_value, void *new_value) {
  barrier_record(api_thread("shade_write"), old_value, new_value);
}

void api_copy_pointers(struct shade_thread *t, void *dst, const void *src, size_t bytes) {
  uintptr_t first = align_up((uintptr_t)dst, WORD_SIZE);
  uintptr_t end = ((uintptr_t)dst + bytes) & ~(uintptr_t)(WORD_SIZE - 1); // pointers are aligned
  bool words = end > first;
  if (words && barrier_active()) // the values overwritten (the deletion half)
    barrier_shade_words(t, (const void *)first, end - first);
  critical_enter(&t->cache); // no stop between the cards and the copy
  if (__atomic_load_n(&shade_barrier_flags_, __ATOMIC_RELAXED) & BARRIER_CARDS)
    cards_note_written((uintptr_t)dst, bytes);
  memmove(dst, src, bytes);
  critical_leave(&t->cache);
  if (words && barrier_active()) // the values written (the insertion half)
    barrier_shade_words(t, (const void *)first, end - first);
}

SHADE_API void shade_write_copy(void *dst, const void *src, size_t bytes) {
  struct shade_thread *t = api_thread("shade_write_copy");
  if (bytes == 0)
    return;
  if (dst == NULL || src == NULL) {
    shade_message("shade: shade_write_copy(%p, %p, %zu): a NULL pointer; nothing copied", dst, src,
                  bytes);
    return;
  }
  api_copy_pointers(t, dst, src, bytes);
}
