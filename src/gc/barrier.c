// barrier.c: the write barrier (Go's hybrid barrier, with Go's per-thread buffer).
//
// While marking, shade_write stores, then sees shade_barrier_flags_ and calls shade_write_slow_
// (api/write_barrier.c), which calls barrier_record with the overwritten value (Yuasa deletion: whatever a slot held when marking began is marked)
// and the new value (Dijkstra insertion: nothing white is stored into a black object unseen).
// Together they let each stack be scanned once, one thread at a time, and stay black: a white
// object a scanned stack holds is still reachable from the heap, and it is shaded the moment the
// last heap reference to it is overwritten.
//
// The insertion half is needed only while the storing thread's stack is still grey (Go shades
// the new value "if the current stack is grey"): a black stack holds nothing white that is not
// also reachable from a grey heap object, and the deletion half guards that path. So after the
// stack scans, initialising stores into new objects (old value NULL) append nothing; once every
// stack is black the flag reads 2 and the inline path does not even call here for them.
//
// The slow path does not mark: it appends both values, if they fall inside the heap's bounds, to
// the thread's buffer (256 entries), and marks the whole buffer when it is full. The buffer is
// also emptied by the collector: at each thread's stack scan, by the ragged flushes before mark
// termination, and at mark termination with the world stopped. Appending is a critical section,
// so a thread is never stopped with a half-written entry.
//
// Why the store comes before the check (shade.h): the stop signal can interrupt the inline path
// anywhere. Had the check come first, a thread stopped between a check that saw "off" and its
// store could store unshaded after mark start. Store-then-check leaves the opposite window: a
// store made during marking whose check runs after mark termination. A concurrent termination
// closes it by stopping each thread at a safe point (stop_world.c: never inside this inline
// sequence) in the round that ends marking, or by scanning the stack of a thread it had to stop
// elsewhere; the stop-the-world termination by scanning every stack again (mark_phase.c): the
// two values are still in that thread's registers or frame.
//
// The flag's changes reach running threads without stopping them: it is written, then made
// visible with membarrier, and mark_handshakes.c waits until no thread is inside a critical
// section that read the old value. A buffer flush that finds the marking over drops the buffer:
// what it holds was marked, or is garbage.
#include "gc/barrier.h"

#include "alloc/arena.h"
#include "gc/marking.h"

SHADE_API int shade_barrier_flags_;
_Atomic uint64_t barrier_flush_count;

void barrier_set_active(bool on) {
  if (on)
    __atomic_fetch_or(&shade_barrier_flags_, 1, __ATOMIC_RELAXED);
  else
    __atomic_fetch_and(&shade_barrier_flags_, ~BARRIER_MARKING_BITS, __ATOMIC_RELAXED);
}

void barrier_set_cards(void) { __atomic_fetch_or(&shade_barrier_flags_, BARRIER_CARDS, __ATOMIC_SEQ_CST); }

// Marking state from -> to, the other bits kept; only while the state is from.
static void barrier_marking_state(int from, int to, int order) {
  int value = __atomic_load_n(&shade_barrier_flags_, __ATOMIC_RELAXED);
  while ((value & BARRIER_MARKING_BITS) == from &&
         !__atomic_compare_exchange_n(&shade_barrier_flags_, &value,
                                      (value & ~BARRIER_MARKING_BITS) | to, false, order,
                                      __ATOMIC_RELAXED)) {
  }
}

// (never turns a finished marking back on)
void barrier_all_stacks_black(void) { barrier_marking_state(1, 2, __ATOMIC_RELAXED); }

void barrier_some_stack_grey(void) { barrier_marking_state(2, 1, __ATOMIC_SEQ_CST); }

uint64_t barrier_flush_into(struct shade_thread *t, struct marker *m) {
  uint32_t count = load_relaxed(&t->barrier_count);
  uint64_t before = m->marked_objects;
  mark_pointers(m, t->barrier_buffer, count);
  store_relaxed(&t->barrier_count, 0);
  if (count)
    atomic_fetch_add_explicit(&barrier_flush_count, 1, memory_order_relaxed);
  return m->marked_objects - before;
}

void barrier_flush(struct shade_thread *t) {
  if (load_relaxed(&t->barrier_count) == 0)
    return;
  if (!phase_is_marking()) { // it ended: what the buffer holds was marked or is garbage
    store_relaxed(&t->barrier_count, 0);
    return;
  }
  // An active marker while its grey objects are its own: a termination that finds no marker
  // active and no shared work knows that none is hidden here (mark_handshakes.c).
  atomic_fetch_add(&marking.active_markers, 1);
  struct marker m;
  marker_begin(&m, false);
  barrier_flush_into(t, &m);
  marking_marker_end(&m);
  atomic_fetch_sub(&marking.active_markers, 1);
}

static inline void buffer_append(struct shade_thread *t, uintptr_t value, uintptr_t low,
                                 uintptr_t high) {
  if (value - low >= high - low)
    return; // NULL, or not a heap address
  uint32_t count = load_relaxed(&t->barrier_count);
  t->barrier_buffer[count] = value;
  store_relaxed(&t->barrier_count, count + 1);
  if (count + 1 == BARRIER_BUFFER_ENTRIES)
    barrier_flush(t);
}

SHADE_NO_SANITIZE void barrier_shade_words(struct shade_thread *t, const void *start,
                                           size_t bytes) {
  critical_enter(&t->cache);
  uintptr_t low = heap_lowest_address(), high = heap_highest_address();
  const uintptr_t *words = start;
  for (size_t i = 0; i < bytes / WORD_SIZE && barrier_active(); i++)
    buffer_append(t, words[i], low, high);
  critical_leave(&t->cache);
}

void barrier_record(struct shade_thread *t, void *old_value, void *new_value) {
  critical_enter(&t->cache);
  if (barrier_active()) { // else marking ended between the store and here: nothing to do
    uintptr_t low = heap_lowest_address(), high = heap_highest_address();
    buffer_append(t, (uintptr_t)old_value, low, high);
    if (!t->stack_scanned) // Go's rule: the insertion half only while this stack is grey
      buffer_append(t, (uintptr_t)new_value, low, high);
  }
  critical_leave(&t->cache);
}
