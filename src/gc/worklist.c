// worklist.c: the shared list of full work buffers and the termination protocol (worklist.h),
// and the bailout worklist.
#include "gc/worklist.h"

#include <pthread.h>
#include <string.h>

#include "alloc/metadata.h"

static pthread_mutex_t shared_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t shared_cond = PTHREAD_COND_INITIALIZER;
static struct workbuf *shared_full;  // buffers with work
static struct workbuf *shared_empty; // recycled buffers
static unsigned worker_count, idle_count;
static _Atomic unsigned idle_hint;
static bool finished;
static _Atomic unsigned shared_full_count;

static struct workbuf *take_empty(void) {
  pthread_mutex_lock(&shared_mutex);
  struct workbuf *b = shared_empty;
  if (b)
    shared_empty = b->next;
  pthread_mutex_unlock(&shared_mutex);
  if (b == NULL)
    b = metadata_alloc(sizeof *b);
  b->count = 0;
  b->next = NULL;
  return b;
}

static void give_empty_locked(struct workbuf *b) {
  b->next = shared_empty;
  shared_empty = b;
}

static void publish(struct workbuf *b) {
  pthread_mutex_lock(&shared_mutex);
  b->next = shared_full;
  shared_full = b;
  atomic_fetch_add_explicit(&shared_full_count, 1, memory_order_relaxed);
  if (idle_count > 0)
    pthread_cond_signal(&shared_cond);
  pthread_mutex_unlock(&shared_mutex);
}

void worklist_begin(unsigned workers) {
  pthread_mutex_lock(&shared_mutex);
  worker_count = workers;
  idle_count = 0;
  store_relaxed(&idle_hint, 0);
  finished = false;
  pthread_mutex_unlock(&shared_mutex);
}

unsigned worklist_idle_workers(void) { return load_relaxed(&idle_hint); }

void worklist_init_local(struct worklist *w) {
  w->current = take_empty();
  w->spare = take_empty();
}

void worklist_release_local(struct worklist *w) {
  pthread_mutex_lock(&shared_mutex);
  give_empty_locked(w->current);
  give_empty_locked(w->spare);
  pthread_mutex_unlock(&shared_mutex);
  w->current = w->spare = NULL;
}

void worklist_push_slow(struct worklist *w, struct work_item item) {
  if (w->spare->count == 0) {
    struct workbuf *t = w->current;
    w->current = w->spare;
    w->spare = t;
  } else {
    publish(w->current);
    w->current = take_empty();
  }
  w->current->items[w->current->count++] = item;
}

void worklist_share(struct worklist *w) {
  struct workbuf *b = w->current;
  if (b->count < 2) {
    if (w->spare->count == 0)
      return;
    publish(w->spare); // a whole spare buffer of work
    w->spare = take_empty();
    return;
  }
  struct workbuf *half = take_empty();
  uint32_t give = b->count / 2;
  memcpy(half->items, b->items, give * sizeof(struct work_item)); // the oldest, widest items
  memmove(b->items, b->items + give, (b->count - give) * sizeof(struct work_item));
  b->count -= give;
  half->count = give;
  publish(half);
}

bool worklist_pop_slow(struct worklist *w, struct work_item *item) {
  if (w->spare->count > 0) {
    struct workbuf *t = w->current;
    w->current = w->spare;
    w->spare = t;
    *item = w->current->items[--w->current->count];
    return true;
  }
  pthread_mutex_lock(&shared_mutex);
  while (shared_full == NULL && !finished) {
    idle_count++;
    store_relaxed(&idle_hint, idle_count);
    if (idle_count == worker_count) {
      finished = true;
      pthread_cond_broadcast(&shared_cond);
      break;
    }
    pthread_cond_wait(&shared_cond, &shared_mutex);
    if (!finished) {
      idle_count--;
      store_relaxed(&idle_hint, idle_count);
    }
  }
  if (shared_full == NULL) { // finished
    pthread_mutex_unlock(&shared_mutex);
    return false;
  }
  struct workbuf *b = shared_full;
  shared_full = b->next;
  atomic_fetch_sub_explicit(&shared_full_count, 1, memory_order_relaxed);
  give_empty_locked(w->current);
  pthread_mutex_unlock(&shared_mutex);
  w->current = b;
  *item = b->items[--b->count];
  return true;
}

static pthread_mutex_t bailout_mutex = PTHREAD_MUTEX_INITIALIZER; // before shared_mutex
static struct workbuf *bailout; // the first buffer is the one being filled

void worklist_bailout_push(struct work_item item) {
  pthread_mutex_lock(&bailout_mutex);
  if (bailout == NULL || bailout->count == WORKBUF_ITEMS) {
    struct workbuf *b = take_empty();
    b->next = bailout;
    bailout = b;
  }
  bailout->items[bailout->count++] = item;
  pthread_mutex_unlock(&bailout_mutex);
}

bool worklist_bailout_pending(void) {
  pthread_mutex_lock(&bailout_mutex);
  bool pending = bailout != NULL;
  pthread_mutex_unlock(&bailout_mutex);
  return pending;
}

uint64_t worklist_bailout_move_into(struct worklist *w) {
  uint64_t moved = 0;
  pthread_mutex_lock(&bailout_mutex);
  while (bailout != NULL) {
    struct workbuf *b = bailout;
    bailout = b->next;
    for (uint32_t i = 0; i < b->count; i++)
      worklist_push(w, b->items[i].start, b->items[i].end);
    moved += b->count;
    pthread_mutex_lock(&shared_mutex);
    give_empty_locked(b);
    pthread_mutex_unlock(&shared_mutex);
  }
  pthread_mutex_unlock(&bailout_mutex);
  return moved;
}

bool worklist_shared_empty(void) { return load_relaxed(&shared_full_count) == 0; }

bool worklist_take_shared(struct worklist *w, bool wait) {
  if (worklist_shared_empty())
    return false;
  if (!wait) {
    if (pthread_mutex_trylock(&shared_mutex) != 0)
      return false;
  } else {
    pthread_mutex_lock(&shared_mutex);
  }
  struct workbuf *b = shared_full;
  if (b) {
    shared_full = b->next;
    atomic_fetch_sub_explicit(&shared_full_count, 1, memory_order_relaxed);
    give_empty_locked(w->current);
    w->current = b;
  }
  pthread_mutex_unlock(&shared_mutex);
  return b != NULL;
}

void worklist_publish_local(struct worklist *w) {
  if (w->current->count > 0) {
    publish(w->current);
    w->current = take_empty();
  }
  if (w->spare->count > 0) {
    publish(w->spare);
    w->spare = take_empty();
  }
}
