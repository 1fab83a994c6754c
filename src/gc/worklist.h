// worklist.h: grey objects waiting to be scanned, as (start, end) ranges in work buffers.
//
// Each marking thread owns two buffers (current and spare, as Go's gcWork does) and pushes and
// pops without synchronisation. A full buffer goes to the shared list; an empty thread takes one
// from there. When a thread has more than one buffer's worth of local work and others are idle,
// it gives half away (work sharing keeps all markers busy on wide graphs). Marking terminates when
// every marker is idle and the shared list is empty.
#ifndef SHADE_GC_WORKLIST_H
#define SHADE_GC_WORKLIST_H
#include "base/base.h"

#define WORKBUF_ITEMS 254

struct work_item { // (mark.c tags start's low bit for typed objects)
  uintptr_t start, end;
};

struct workbuf {
  struct workbuf *next;
  uint32_t count;
  struct work_item items[WORKBUF_ITEMS];
};

struct worklist {
  struct workbuf *current, *spare;
};

void worklist_init_local(struct worklist *w);
void worklist_release_local(struct worklist *w);
// Start a marking phase with `workers` threads taking part.
void worklist_begin(unsigned workers);
void worklist_push_slow(struct worklist *w, struct work_item item);
bool worklist_pop_slow(struct worklist *w, struct work_item *item); // false: marking is over
void worklist_share(struct worklist *w);
// Concurrent marking (never waits for work): take a buffer from the shared list into w (w's
// buffers are empty); false if the list is empty, or, unless wait, if its lock is taken (an
// allocating thread's assist does not queue behind a worker the scheduler took off the CPU
// holding it). Publish w's non-empty buffers. Whether the list is empty.
bool worklist_take_shared(struct worklist *w, bool wait);
void worklist_publish_local(struct worklist *w);
bool worklist_shared_empty(void);
// The bailout worklist (V8): objects a concurrent or incremental marker must not scan while the
// program runs (SHADE_TYPE_SCAN_STOPPED); mark termination moves them into its own worklist with
// the world stopped. Any thread may add; items wait in work buffers under their own lock.
void worklist_bailout_push(struct work_item item);
uint64_t worklist_bailout_move_into(struct worklist *w); // returns the items moved
bool worklist_bailout_pending(void); // some object waits for a stopped world
unsigned worklist_idle_workers(void);

static inline void worklist_push(struct worklist *w, uintptr_t start, uintptr_t end) {
  struct workbuf *b = w->current;
  if (SHADE_LIKELY(b->count < WORKBUF_ITEMS)) {
    b->items[b->count++] = (struct work_item){start, end};
    return;
  }
  worklist_push_slow(w, (struct work_item){start, end});
}

// Pop from this marker's own buffers only; false when both are empty (never blocks).
static inline bool worklist_pop_local(struct worklist *w, struct work_item *item) {
  struct workbuf *b = w->current;
  if (SHADE_LIKELY(b->count > 0)) {
    *item = b->items[--b->count];
    return true;
  }
  if (w->spare->count == 0)
    return false;
  w->current = w->spare;
  w->spare = b;
  *item = w->current->items[--w->current->count];
  return true;
}

static inline bool worklist_pop(struct worklist *w, struct work_item *item) {
  struct workbuf *b = w->current;
  if (SHADE_LIKELY(b->count > 0)) {
    *item = b->items[--b->count];
    return true;
  }
  return worklist_pop_slow(w, item);
}

#endif
