// weak_tables.c: the program's side of finalization.h: registering and removing finalizers,
// weak links and ephemerons, and reading a weak word safely.
//
// Every table change holds finalization.lock. Tables grow here (malloc), before an entry is
// added, never in the collector's pass; so does the queue, by the invariant of
// finalization_state.h. Nothing here allocates Shade memory: an allocation could collect, and
// the collector takes this lock.
#define _GNU_SOURCE
#include "gc/finalization_state.h"

#include <stdlib.h>
#include <string.h>

#include "gc/barrier.h"
#include "gc/stop_world.h"

struct finalization_state finalization = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .queue_filled = PTHREAD_COND_INITIALIZER,
};

void finalization_lock(void) { lock_stoppable(&finalization.lock); }
void finalization_unlock(void) { pthread_mutex_unlock(&finalization.lock); }

void finalization_after_fork_child(void) {
  pthread_mutex_init(&finalization.lock, NULL);
  pthread_cond_init(&finalization.queue_filled, NULL);
  finalization.running = 0; // the threads running finalizers are gone; what they took is lost
  finalization_thread_after_fork_child();
  store_relaxed(&finalization.news, finalization.queue_count != 0); // a new thread runs them
}

bool queue_reserve(size_t more) {
  size_t need = finalization.queue_count + finalization.finalizers.used + more;
  if (need <= finalization.queue_capacity)
    return true;
  size_t capacity = finalization.queue_capacity ? finalization.queue_capacity : 64;
  while (capacity < need)
    capacity *= 2;
  struct ready_finalizer *queue = malloc(capacity * sizeof *queue);
  if (queue == NULL)
    return false;
  for (size_t i = 0; i < finalization.queue_count; i++) // unwrap the ring
    queue[i] = *queue_slot(i);
  free(finalization.queue);
  finalization.queue = queue;
  finalization.queue_head = 0;
  finalization.queue_capacity = capacity;
  return true;
}

int finalizers_set(uintptr_t object, shade_finalizer_fn fn, void *data, unsigned flags) {
  finalization_lock();
  struct address_entry *e = address_map_find(&finalization.finalizers, object);
  if (fn == NULL) {
    if (e)
      address_map_remove(&finalization.finalizers, e);
    finalization_unlock();
    return 0;
  }
  if (e == NULL) {
    if (!queue_reserve(1) || !address_map_reserve(&finalization.finalizers, 1)) {
      finalization_unlock();
      return -1;
    }
    bool created;
    e = address_map_insert(&finalization.finalizers, object, &created);
  }
  e->first = (uintptr_t)fn;
  e->second = (uintptr_t)data;
  e->flags = flags;
  store_relaxed(&finalization.registered, true);
  finalization_unlock();
  // The table keeps the data alive, but a marking under way read the table when it began: shade
  // the data, or a program that drops its own reference now would leave it unmarked.
  struct shade_thread *t = current_thread;
  if (data != NULL && t != NULL && barrier_active()) {
    critical_enter(&t->cache);
    if (barrier_active())
      barrier_record(t, data, NULL);
    critical_leave(&t->cache);
  }
  return 0;
}

bool finalizers_get(uintptr_t object, shade_finalizer_fn *fn, void **data) {
  finalization_lock();
  struct address_entry *e = address_map_find(&finalization.finalizers, object);
  if (e) {
    *fn = (shade_finalizer_fn)e->first;
    *data = (void *)e->second;
  }
  finalization_unlock();
  return e != NULL;
}

void finalization_forget_object(uintptr_t lo, uintptr_t hi) {
  if (!load_relaxed(&finalization.registered))
    return;
  finalization_lock();
  struct address_entry *e = address_map_find(&finalization.finalizers, lo);
  if (e)
    address_map_remove(&finalization.finalizers, e);
  for (unsigned kind = 0; kind < 2; kind++) {
    struct address_map *links = &finalization.links[kind];
    address_map_for_each(links, link) if (link->key >= lo && link->key < hi)
        address_map_remove(links, link);
  }
  finalization_unlock();
}

int weak_links_add(uintptr_t link, uintptr_t target, unsigned kind) {
  finalization_lock();
  struct address_map *links = &finalization.links[kind];
  int result = -1;
  if (address_map_reserve(links, 1)) {
    bool created;
    struct address_entry *e = address_map_insert(links, link, &created);
    if (created)
      e->first = target;
    result = created ? 0 : 1;
    store_relaxed(&finalization.registered, true);
  }
  finalization_unlock();
  return result;
}

bool weak_links_remove(uintptr_t link, unsigned kind) {
  finalization_lock();
  struct address_entry *e = address_map_find(&finalization.links[kind], link);
  if (e)
    address_map_remove(&finalization.links[kind], e);
  finalization_unlock();
  return e != NULL;
}

int weak_links_move(uintptr_t link, uintptr_t new_link, unsigned kind) {
  finalization_lock();
  struct address_map *links = &finalization.links[kind];
  int result;
  struct address_entry *e = address_map_find(links, link);
  if (e == NULL) {
    result = -1;
  } else if (link == new_link) {
    result = 0;
  } else if (address_map_find(links, new_link)) {
    result = 1;
  } else if (!address_map_reserve(links, 1)) {
    result = -2;
  } else {
    e = address_map_find(links, link); // (the reserve may have rebuilt the map)
    uintptr_t target = e->first;
    address_map_remove(links, e);
    bool created;
    address_map_insert(links, new_link, &created)->first = target;
    result = 0;
  }
  finalization_unlock();
  return result;
}

int ephemerons_add(uintptr_t ephemeron) {
  finalization_lock();
  int result = 0;
  if (finalization.ephemeron_count == finalization.ephemeron_capacity) {
    size_t capacity = finalization.ephemeron_capacity ? finalization.ephemeron_capacity * 2 : 64;
    uintptr_t *grown = realloc(finalization.ephemerons, capacity * sizeof *grown);
    if (grown == NULL) {
      result = -1;
      goto out;
    }
    finalization.ephemerons = grown;
    finalization.ephemeron_capacity = capacity;
  }
  finalization.ephemerons[finalization.ephemeron_count++] = ephemeron;
  store_relaxed(&finalization.registered, true);
out:
  finalization_unlock();
  return result;
}

SHADE_NO_SANITIZE void *weak_read(struct shade_thread *t, const uintptr_t *hidden) {
  critical_enter(&t->cache); // no stop between the read and the shading (finalization.h)
  void *target = weak_reveal(__atomic_load_n(hidden, __ATOMIC_RELAXED));
  if (target && barrier_active())
    barrier_record(t, target, NULL); // the deletion half shades it whatever the stack's colour
  critical_leave(&t->cache);
  return target;
}
