// rc_weakref.c: weak references to RC objects.
//
// A weak reference is a small manual object, not an RC object: the program makes it, reads it
// and frees it. The weak references of one object form a doubly linked list whose first element
// is found through a side table (open addressing, linear probing, backward-shift deletion) keyed
// by the object's address, so objects never pay a header word for weak references; the object's
// RC_FLAG_WEAKREFS bit says whether the table has an entry, so a dying object without weak
// references never looks.
//
// When the object dies, rc_weakref_clear sets every referent to NULL, removes the entry and
// queues the references that have a callback (linked through next, state QUEUED). The callbacks
// run afterwards, from rc_weakref_run_callbacks, when no list is being walked. A reference freed
// while queued is only marked (FREE_REQUESTED) and freed when the queue reaches it, without its
// callback.
#include "rc/rc_internal.h"

#include "api/manual.h"

#include <errno.h>

enum rc_weakref_state { WR_LIVE, WR_QUEUED, WR_FREE_REQUESTED };

struct shade_rc_weakref {
  void *referent; // NULL once cleared
  struct shade_rc_weakref *next, *prev; // the referent's list; next: the callback queue
  shade_rc_weakref_callback callback;
  void *arg;
  enum rc_weakref_state state;
};

struct wr_slot {
  void *object; // NULL: empty
  struct shade_rc_weakref *first;
};

static struct wr_slot *table;
static size_t table_capacity; // a power of two, or 0
static size_t table_used;

static size_t wr_hash(const void *object) {
  uint64_t h = (uint64_t)(uintptr_t)object * 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 20);
}

static struct wr_slot *wr_find(const void *object) {
  if (table_capacity == 0)
    return NULL;
  for (size_t i = wr_hash(object) & (table_capacity - 1);; i = (i + 1) & (table_capacity - 1)) {
    if (table[i].object == object)
      return &table[i];
    if (table[i].object == NULL)
      return NULL;
  }
}

static void wr_insert_slot(struct wr_slot *slots, size_t capacity, struct wr_slot entry) {
  size_t i = wr_hash(entry.object) & (capacity - 1);
  while (slots[i].object)
    i = (i + 1) & (capacity - 1);
  slots[i] = entry;
}

static int wr_grow(void) {
  size_t capacity = table_capacity ? table_capacity * 2 : 64;
  struct wr_slot *slots = manual_alloc(capacity * sizeof *slots);
  if (slots == NULL)
    return -1;
  for (size_t i = 0; i < table_capacity; i++)
    if (table[i].object)
      wr_insert_slot(slots, capacity, table[i]);
  if (table)
    manual_free(table);
  table = slots;
  table_capacity = capacity;
  return 0;
}

static void wr_remove_slot(struct wr_slot *slot) {
  size_t mask = table_capacity - 1;
  size_t hole = (size_t)(slot - table);
  table[hole].object = NULL;
  table_used--;
  // Backward shift: move later entries of the probe run into the hole when that is allowed.
  for (size_t i = (hole + 1) & mask; table[i].object; i = (i + 1) & mask) {
    size_t home = wr_hash(table[i].object) & mask;
    if (((i - home) & mask) >= ((i - hole) & mask)) {
      table[hole] = table[i];
      table[i].object = NULL;
      hole = i;
    }
  }
}

SHADE_API struct shade_rc_weakref *shade_rc_weakref_new(void *object,
                                                        shade_rc_weakref_callback callback,
                                                        void *arg) {
  rc_lock_check("shade_rc_weakref_new", object);
  if (object == NULL || rc_object_is_freed(object) || rc_head(object)->shade_count == 0) {
    rc_report("shade_rc_weakref_new", object,
              object == NULL ? "no object" : "the object is freed or being freed",
              object ? rc_type_name(rc_type(object)) : NULL);
    errno = EINVAL;
    return NULL;
  }
  struct shade_rc_weakref *ref = manual_alloc(sizeof *ref);
  if (ref == NULL)
    return NULL;
  struct wr_slot *slot = (rc_flags(object) & RC_FLAG_WEAKREFS) ? wr_find(object) : NULL;
  if (slot == NULL) {
    if ((table_used + 1) * 2 > table_capacity && wr_grow() != 0) {
      manual_free(ref);
      return NULL;
    }
    wr_insert_slot(table, table_capacity, (struct wr_slot){object, NULL});
    table_used++;
    slot = wr_find(object);
    rc_set_flag(object, RC_FLAG_WEAKREFS);
  }
  ref->referent = object;
  ref->callback = callback;
  ref->arg = arg;
  ref->state = WR_LIVE;
  ref->prev = NULL;
  ref->next = slot->first;
  if (slot->first)
    slot->first->prev = ref;
  slot->first = ref;
  return ref;
}

SHADE_API void *shade_rc_weakref_peek(struct shade_rc_weakref *ref) {
  return ref ? ref->referent : NULL;
}

SHADE_API void *shade_rc_weakref_get(struct shade_rc_weakref *ref) {
  void *object = shade_rc_weakref_peek(ref);
  if (object)
    shade_incref(object);
  return object;
}

SHADE_API size_t shade_rc_weakref_count(const void *object) {
  if (object == NULL || !(rc_flags(object) & RC_FLAG_WEAKREFS))
    return 0;
  size_t n = 0;
  for (struct shade_rc_weakref *r = wr_find(object)->first; r; r = r->next)
    n++;
  return n;
}

SHADE_API void shade_rc_weakref_free(struct shade_rc_weakref *ref) {
  rc_lock_check("shade_rc_weakref_free", ref);
  if (ref == NULL)
    return;
  if (ref->state == WR_QUEUED) {
    ref->state = WR_FREE_REQUESTED;
    return;
  }
  if (ref->state == WR_FREE_REQUESTED) {
    rc_report("shade_rc_weakref_free", ref, "weak reference freed twice", NULL);
    return;
  }
  if (ref->referent) {
    if (ref->prev) {
      ref->prev->next = ref->next;
    } else {
      struct wr_slot *slot = wr_find(ref->referent);
      slot->first = ref->next;
      if (slot->first == NULL) {
        rc_clear_flag(ref->referent, RC_FLAG_WEAKREFS);
        wr_remove_slot(slot);
      }
    }
    if (ref->next)
      ref->next->prev = ref->prev;
  }
  manual_free(ref);
}

void rc_weakref_clear(void *obj, struct shade_rc_weakref **pending) {
  struct wr_slot *slot = wr_find(obj);
  rc_clear_flag(obj, RC_FLAG_WEAKREFS);
  if (slot == NULL)
    return;
  struct shade_rc_weakref *ref = slot->first;
  wr_remove_slot(slot);
  while (ref) {
    struct shade_rc_weakref *next = ref->next;
    ref->referent = NULL;
    ref->prev = NULL;
    ref->next = NULL;
    if (ref->callback) {
      ref->state = WR_QUEUED;
      ref->next = *pending;
      *pending = ref;
    }
    ref = next;
  }
}

void rc_weakref_run_callbacks(struct shade_rc_weakref **pending) {
  while (*pending) {
    struct shade_rc_weakref *ref = *pending;
    *pending = ref->next;
    ref->next = NULL;
    if (ref->state == WR_FREE_REQUESTED) {
      manual_free(ref);
      continue;
    }
    ref->state = WR_LIVE;
    ref->callback(ref, ref->arg);
  }
}
