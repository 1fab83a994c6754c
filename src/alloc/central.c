// central.c: the central span lists (see central.h) and lazy sweeping on the allocation path.
//
// Spans set aside (generations). Young objects placed among old ones make the old ones part of
// the remembered set: the write barrier's card, or the kernel's written page, covers both, and
// every young collection scans the old objects on each card or page the program wrote. So after
// a generational collection, a span whose survivors fill more than an eighth of its slots goes on
// full, not partial (takes_objects):
//   - while the free space so set aside since the last gen1 or full collection stays under the
//     limit the collector gives (central_set_aside_limit; nothing with a limit of 0);
//   - whatever that limit, if its survivors fill more than seven eighths (at most an eighth of
//     such spans is free). Without this, a gen1 or full collection's sweep spent the limit on the
//     first old spans it met, each with a few free slots, and the rest took young objects among
//     old ones again.
// The next gen1 or full collection's sweep files every span afresh. Measured on the cache
// workload: with the free slots between old objects reused in every young cycle, its young
// collections scanned 10,000 to 33,000 old objects for the 350 that pointed to young ones; set
// aside, about 4,500. Spans of objects without pointers are set aside too, though no collection
// scans them: young objects spread over the free slots of many spans make every young
// collection's end (the spans allocated from become unswept) and its sweep cost more (1.2 to
// 1.7 ms of ending with them reused, 0.6 to 0.8 ms set aside). After a full collection too: the
// first young collection after it took 7 to 9 ms with the free slots of the old spans reused
// (young objects went to all of them at once), 3 ms set aside. A span set aside is never on the
// list of spans allocated from (no cache takes it), so mark_unswept's reading of its list from
// its freeindex stays right.
//
// Lock order: a central lock, then the page heap lock, then the metadata lock. Sweeping a span
// happens outside the central lock: the sweep generation CAS in sweep_claim gives one thread the
// span, so two threads never sweep the same span.
#include "alloc/central.h"

#include "alloc/arena.h"
#include "alloc/pageheap.h"
#include "alloc/sweep.h"
#include "os/os_memory.h"

#define SWEEP_PER_ACQUIRE 32

struct central_list central_lists[SPAN_CLASS_COUNT];

static _Atomic uint64_t set_aside_limit; // bytes of free slots that may be set aside
static _Atomic uint64_t set_aside_bytes; // set aside since the last gen1 or full collection

void central_set_aside_limit(uint64_t bytes) { store_relaxed(&set_aside_limit, bytes); }

// Whether a span just swept, `live` of its slots in use, takes new objects: it has room, and it is
// not set aside (see the top of this file).
static bool takes_objects(const struct span *s, uint32_t live, enum sweep_kind kind) {
  if (live >= s->object_count)
    return false;
  uint64_t limit = load_relaxed(&set_aside_limit);
  if (kind == SWEEP_FULL || live <= s->object_count / 8 || limit == 0)
    return true;
  if (live >= s->object_count - s->object_count / 8)
    return false; // nearly full: set aside whatever the limit (an eighth of such spans at most)
  uint64_t free_bytes = (uint64_t)(s->object_count - live) * s->object_size;
  if (load_relaxed(&set_aside_bytes) + free_bytes > limit)
    return true;
  atomic_fetch_add(&set_aside_bytes, free_bytes);
  return false;
}

void span_list_push(struct span_list *list, struct span *s) {
  s->prev = NULL;
  s->next = list->head;
  if (list->head)
    list->head->prev = s;
  else
    list->tail = s;
  list->head = s;
  list->length++;
}

void span_list_remove(struct span_list *list, struct span *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    list->head = s->next;
  if (s->next)
    s->next->prev = s->prev;
  else
    list->tail = s->prev;
  s->next = s->prev = NULL;
  list->length--;
}

struct span *span_list_pop(struct span_list *list) {
  struct span *s = list->head;
  if (s)
    span_list_remove(list, s);
  return s;
}

static void span_list_append_all(struct span_list *to, struct span_list *from) {
  if (from->head == NULL)
    return;
  if (to->tail) {
    to->tail->next = from->head;
    from->head->prev = to->tail;
  } else {
    to->head = from->head;
  }
  to->tail = from->tail;
  to->length += from->length;
  *from = (struct span_list){0};
}

void central_init(void) {
  for (unsigned i = 0; i < SPAN_CLASS_COUNT; i++)
    pthread_mutex_init(&central_lists[i].lock, NULL);
}

void central_lock_all(void) {
  for (unsigned i = 0; i < SPAN_CLASS_COUNT; i++)
    pthread_mutex_lock(&central_lists[i].lock);
}

void central_unlock_all(void) {
  for (unsigned i = 0; i < SPAN_CLASS_COUNT; i++)
    pthread_mutex_unlock(&central_lists[i].lock);
}

void central_after_fork_child(void) {
  for (unsigned i = 0; i < SPAN_CLASS_COUNT; i++)
    pthread_mutex_init(&central_lists[i].lock, NULL);
}

static struct span *new_span(unsigned span_class) {
  unsigned size_class = span_class / KIND_COUNT;
  const struct size_class_info *info = &size_classes[size_class];
  struct span *s = pageheap_alloc(info->span_pages);
  if (s == NULL)
    return NULL;
  if (!s->needs_zeroing) // untouched or released pages: the barrier's first access is a read
    os_fault_in_for_writing((void *)s->base, s->pages * PAGE_SIZE);
  s->size_class = (uint8_t)size_class;
  s->kind = (uint8_t)(span_class % KIND_COUNT);
  s->object_size = info->object_size;
  s->object_count = info->objects_per_span;
  s->divide_magic = info->divide_magic;
  span_bitmaps_allocate(s);
  span_reset_allocation(s);
  s->allocated_at_sweep = 0;
  s->allocated_epoch = 0; // on no class's list
  store_relaxed(&s->black_from, UINT32_MAX); // BLACK_NONE (alloc/black_allocation.h)
  store_release(&s->sweepgen, load_relaxed(&heap_sweepgen));
  span_publish(s, SPAN_SMALL);
  return s;
}

// Sweep one claimed span; an empty span goes back to the page heap unless keep_empty.
// Returns true if the span stays with its class.
static bool sweep_and_file(struct central_list *c, struct span *s, bool keep_empty) {
  enum sweep_kind kind = sweep_current_kind();
  uint32_t live = sweep_small_span(s, kind);
  if (live == 0 && !keep_empty && s->kind != KIND_UNCOLLECTABLE && s->kind != KIND_MANUAL) {
    pageheap_free_with_bitmaps(s);
    return false;
  }
  if (keep_empty)
    return true;
  pthread_mutex_lock(&c->lock);
  span_list_push(takes_objects(s, live, kind) ? &c->partial : &c->full, s);
  pthread_mutex_unlock(&c->lock);
  return true;
}

static bool track_allocated; // set once at start-up (generations)

void central_track_allocated_spans(void) {
  track_allocated = true;
  arena_track_young();
}

struct span *central_acquire(unsigned span_class) {
  struct central_list *c = &central_lists[span_class];
  pthread_mutex_lock(&c->lock);
  struct span *s = span_list_pop(&c->partial);
  while (s && span_needs_sweeping(s)) { // a marking just ended (central_mark_unswept_running)
    span_list_push(&c->unswept, s);
    s = span_list_pop(&c->partial);
  }
  // At most SWEEP_PER_ACQUIRE full spans are swept for one refill (this runs inside a critical
  // section, which a stop waits for): on a heap full of live objects, a refill that swept until
  // it found room took tens of milliseconds. Past that, a fresh span; the rest is left to the
  // next refills, the background sweeper and sweep termination.
  unsigned swept = 0;
  while (s == NULL && swept++ < SWEEP_PER_ACQUIRE) {
    s = span_list_pop(&c->unswept);
    if (s == NULL)
      break;
    if (!sweep_claim(s)) { // swept meanwhile by someone else: it is on another list now
      s = NULL;
      continue;
    }
    pthread_mutex_unlock(&c->lock);
    enum sweep_kind kind = sweep_current_kind();
    uint32_t live = sweep_small_span(s, kind);
    pthread_mutex_lock(&c->lock);
    if (takes_objects(s, live, kind))
      break; // room: take it (an empty span too: cheaper than giving it back)
    span_list_push(&c->full, s);
    s = NULL;
  }
  pthread_mutex_unlock(&c->lock);
  if (s == NULL)
    s = new_span(span_class);
  if (s) {
    s->in_cache = 1;
    // (the class lock: new_span's span is on no list yet; the epoch moves with the world
    // stopped, and the span is this cache's)
    if (track_allocated && s->allocated_epoch != load_relaxed(&c->allocated_epoch) + 1) {
      pthread_mutex_lock(&c->lock);
      s->allocated_epoch = load_relaxed(&c->allocated_epoch) + 1;
      s->allocated_next = c->allocated_from;
      c->allocated_from = s;
      pthread_mutex_unlock(&c->lock);
      arena_note_young(s->base, s->pages);
    }
  }
  return s;
}

void central_release(struct span *s) {
  struct central_list *c = &central_lists[span_class_of(s->size_class, (enum object_kind)s->kind)];
  pthread_mutex_lock(&c->lock);
  s->in_cache = 0;
  bool has_room = load_relaxed(&s->freeindex) < s->object_count;
  // Cached across the end of a marking that ended without stopping the world: it waits for its
  // sweep like the spans that were on the lists then.
  span_list_push(span_needs_sweeping(s) ? &c->unswept : has_room ? &c->partial : &c->full, s);
  pthread_mutex_unlock(&c->lock);
}

uint64_t central_sweep_all(void) {
  uint64_t pages = 0;
  for (unsigned i = 0; i < SPAN_CLASS_COUNT; i++)
    pages += central_sweep_class(i);
  return pages;
}

uint64_t central_sweep_class(unsigned span_class) {
  struct central_list *c = &central_lists[span_class];
  uint64_t pages = 0;
  for (;;) {
    pthread_mutex_lock(&c->lock);
    struct span *s = span_list_pop(&c->unswept);
    pthread_mutex_unlock(&c->lock);
    if (s == NULL)
      break;
    if (sweep_claim(s)) {
      pages += s->pages; // read first: sweeping may give the span back to the page heap
      sweep_and_file(c, s, false);
    }
  }
  return pages;
}

// The class's list of spans allocated from is emptied (every marking end does it).
// The list, emptied in O(1): its spans' allocated_epoch no longer matches (64 bits: it never
// wraps back to 0, a new span's).
static struct span *take_allocated_from(struct central_list *c) {
  struct span *head = c->allocated_from;
  c->allocated_from = NULL;
  store_relaxed(&c->allocated_epoch, load_relaxed(&c->allocated_epoch) + 1);
  return head;
}

uint64_t central_mark_all_unswept(void) {
  uint64_t pages = 0;
  arena_young_pages_end(true);
  store_relaxed(&set_aside_bytes, 0); // every span is swept and filed afresh
  for (unsigned i = 0; i < SPAN_CLASS_COUNT; i++) {
    struct central_list *c = &central_lists[i];
    take_allocated_from(c);
    span_list_append_all(&c->unswept, &c->partial);
    span_list_append_all(&c->unswept, &c->full);
    pages += c->unswept.length * size_classes[i / KIND_COUNT].span_pages;
  }
  return pages;
}

// The lists are taken whole under the lock, sorted outside it, and the spans that need sweeping
// given back to the unswept list MARK_BATCH at a time: walking churn's 1.4 GB of spans under the
// lock took 5-20 ms, and the program's thread, wanting the same class's lock for its next span,
// waited that long with no pause counted. Meanwhile the spans being sorted are on no list: a
// thread that finds none of them takes an unswept one or a new span.
#define MARK_BATCH 256

static void give_back_unswept(struct central_list *c, struct span_list *batch) {
  if (batch->length == 0)
    return;
  pthread_mutex_lock(&c->lock);
  span_list_append_all(&c->unswept, batch);
  pthread_mutex_unlock(&c->lock);
}

uint64_t central_mark_unswept_running(void) {
  uint64_t pages = 0;
  for (unsigned i = 0; i < SPAN_CLASS_COUNT; i++) {
    struct central_list *c = &central_lists[i];
    struct span_list taken[2] = {{0}, {0}}, keep[2] = {{0}, {0}};
    pthread_mutex_lock(&c->lock);
    take_allocated_from(c);
    span_list_append_all(&taken[0], &c->partial);
    span_list_append_all(&taken[1], &c->full);
    pthread_mutex_unlock(&c->lock);
    for (unsigned l = 0; l < 2; l++) {
      struct span_list batch = {0};
      for (struct span *s; (s = span_list_pop(&taken[l])) != NULL;) {
        span_list_push(span_needs_sweeping(s) ? &batch : &keep[l], s);
        if (batch.length == MARK_BATCH)
          give_back_unswept(c, &batch);
      }
      give_back_unswept(c, &batch);
    }
    pthread_mutex_lock(&c->lock);
    span_list_append_all(&c->partial, &keep[0]);
    span_list_append_all(&c->full, &keep[1]);
    pages += c->unswept.length * size_classes[i / KIND_COUNT].span_pages;
    pthread_mutex_unlock(&c->lock);
  }
  return pages;
}

static void mark_unswept(struct central_list *c, struct span *s, uint32_t needs_sweeping) {
  // Caches were flushed: the span is where central_release put it, by its freeindex.
  bool has_room = load_relaxed(&s->freeindex) < s->object_count;
  span_list_remove(has_room ? &c->partial : &c->full, s);
  span_list_push(&c->unswept, s);
  store_release(&s->sweepgen, needs_sweeping);
}

uint64_t central_mark_allocated_unswept(void) {
  uint64_t pages = 0;
  arena_young_pages_end(false);
  uint32_t needs_sweeping = load_relaxed(&heap_sweepgen) - 2;
  for (unsigned i = 0; i < SPAN_CLASS_COUNT; i++) {
    struct central_list *c = &central_lists[i];
    enum object_kind kind = (enum object_kind)(i % KIND_COUNT);
    struct span *next;
    for (struct span *s = take_allocated_from(c); s; s = next) {
      next = s->allocated_next;
      if (kind != KIND_UNCOLLECTABLE && kind != KIND_MANUAL)
        mark_unswept(c, s, needs_sweeping);
    }
    if (kind == KIND_UNCOLLECTABLE || kind == KIND_MANUAL) {
      struct span_list *lists[] = {&c->partial, &c->full};
      for (unsigned l = 0; l < 2; l++)
        for (struct span *s = lists[l]->head; s; s = s->next)
          store_release(&s->sweepgen, needs_sweeping);
      span_list_append_all(&c->unswept, &c->partial);
      span_list_append_all(&c->unswept, &c->full);
    }
    pages += c->unswept.length * size_classes[i / KIND_COUNT].span_pages;
  }
  return pages;
}

// The first class that may still hold unswept spans: classes below it had none left when last
// looked at, and none become unswept before the next cycle's end resets it.
static _Atomic unsigned sweep_cursor;

void central_sweep_cursor_reset(void) { store_relaxed(&sweep_cursor, 0); }

size_t central_sweep_one(void) {
  for (unsigned i = load_relaxed(&sweep_cursor); i < SPAN_CLASS_COUNT; i++) {
    struct central_list *c = &central_lists[i];
    pthread_mutex_lock(&c->lock);
    struct span *s = span_list_pop(&c->unswept);
    pthread_mutex_unlock(&c->lock);
    if (s == NULL) { // move the cursor past this class, unless another thread moved it
      unsigned seen = i;
      atomic_compare_exchange_strong(&sweep_cursor, &seen, i + 1);
      continue;
    }
    if (!sweep_claim(s)) // someone swept it meanwhile, and filed it elsewhere
      continue;
    size_t pages = s->pages; // read first: sweeping may give the span back to the page heap
    sweep_and_file(c, s, false);
    return pages;
  }
  return 0;
}

void central_for_each_span(unsigned span_class, void (*fn)(struct span *, void *), void *ctx) {
  struct central_list *c = &central_lists[span_class];
  struct span_list *lists[] = {&c->partial, &c->full, &c->unswept};
  for (unsigned l = 0; l < 3; l++)
    for (struct span *s = lists[l]->head; s; s = s->next)
      fn(s, ctx);
}
