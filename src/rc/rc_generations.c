// rc_generations.c: the generations and the controls of Python's gc module.
//
// Three generations and a permanent one (freeze). A new container enters generation 0. Counters:
//   generations[0].count  containers allocated minus containers freed since the last collection
//   generations[n].count  collections of generation n-1 since the last collection of generation n
// Generation g is collected when its count passes its threshold (700, 10, 10 by default), the
// oldest such generation first (rc_maybe_collect in rc_object.c); collecting g also collects the
// younger ones, promotes the survivors to g + 1, zeroes the counts of 0..g and adds one to g + 1's.
// The oldest generation is only collected automatically when long_lived_pending (objects promoted
// into it since its last collection) > long_lived_total / 4 (objects that survived that
// collection): CPython's rule that keeps the total cost of full collections linear.
// The permanent generation is never collected; unfreeze moves it into the oldest generation.
#include "rc/rc_internal.h"

#define RC_GEN_INIT(i, t)                                                                         \
  {                                                                                               \
    .head = {(uintptr_t)&rc_state.generations[i].head, (uintptr_t)&rc_state.generations[i].head}, \
    .threshold = (t), .count = 0                                                                  \
  }

struct rc_state rc_state = {
    .generations = {RC_GEN_INIT(0, 700), RC_GEN_INIT(1, 10), RC_GEN_INIT(2, 10)},
    .permanent = {(uintptr_t)&rc_state.permanent, (uintptr_t)&rc_state.permanent},
    .enabled = true,
};

static void run_callbacks(enum shade_rc_phase phase, const struct shade_rc_collect_info *info) {
  struct rc_state *s = &rc_state;
  for (int i = 0; i < s->callback_count; i++)
    s->callbacks[i].fn(phase, info, s->callbacks[i].arg);
}

size_t rc_collect_with_callbacks(int generation) {
  struct rc_state *s = &rc_state;
  s->collecting = true;
  struct shade_rc_collect_info info = {.generation = generation};
  run_callbacks(SHADE_RC_START, &info);
  size_t uncollectable = 0;
  size_t found = rc_collect_generation(generation, &uncollectable);
  if (generation + 1 < SHADE_RC_GENERATIONS)
    s->generations[generation + 1].count++;
  for (int i = 0; i <= generation; i++)
    s->generations[i].count = 0;
  s->stats[generation].collections++;
  s->stats[generation].collected += found;
  s->stats[generation].uncollectable += uncollectable;
  info.collected = found;
  info.uncollectable = uncollectable;
  run_callbacks(SHADE_RC_STOP, &info);
  s->collecting = false;
  return found;
}

SHADE_API size_t shade_rc_collect(int generation) {
  rc_lock_check("shade_rc_collect", NULL);
  if (generation < 0 || generation >= SHADE_RC_GENERATIONS) {
    rc_report("shade_rc_collect", (void *)(intptr_t)generation, "no such generation (0, 1 or 2)",
              NULL);
    return 0;
  }
  if (rc_state.collecting)
    return 0;
  return rc_collect_with_callbacks(generation);
}

SHADE_API void shade_rc_get_count(long counts[SHADE_RC_GENERATIONS]) {
  for (int i = 0; i < SHADE_RC_GENERATIONS; i++)
    counts[i] = rc_state.generations[i].count;
}

SHADE_API void shade_rc_set_threshold(long threshold0, long threshold1, long threshold2) {
  rc_lock_check("shade_rc_set_threshold", NULL);
  rc_state.generations[0].threshold = threshold0;
  rc_state.generations[1].threshold = threshold1;
  rc_state.generations[2].threshold = threshold2;
}

SHADE_API void shade_rc_get_threshold(long thresholds[SHADE_RC_GENERATIONS]) {
  for (int i = 0; i < SHADE_RC_GENERATIONS; i++)
    thresholds[i] = rc_state.generations[i].threshold;
}

SHADE_API void shade_rc_enable(void) { rc_state.enabled = true; }
SHADE_API void shade_rc_disable(void) { rc_state.enabled = false; }
SHADE_API int shade_rc_is_enabled(void) { return rc_state.enabled; }

SHADE_API void shade_rc_freeze(void) {
  rc_lock_check("shade_rc_freeze", NULL);
  for (int i = 0; i < SHADE_RC_GENERATIONS; i++)
    gc_list_merge(&rc_state.generations[i].head, &rc_state.permanent);
  rc_state.generations[0].count = 0;
}

SHADE_API void shade_rc_unfreeze(void) {
  rc_lock_check("shade_rc_unfreeze", NULL);
  gc_list_merge(&rc_state.permanent, &rc_state.generations[SHADE_RC_GENERATIONS - 1].head);
}

SHADE_API size_t shade_rc_get_freeze_count(void) { return gc_list_size(&rc_state.permanent); }

SHADE_API size_t shade_rc_get_objects(int generation, void **out, size_t capacity) {
  rc_lock_check("shade_rc_get_objects", NULL);
  if (generation < -1 || generation >= SHADE_RC_GENERATIONS) {
    rc_report("shade_rc_get_objects", (void *)(intptr_t)generation,
              "no such generation (-1, 0, 1 or 2)", NULL);
    return 0;
  }
  int first = generation < 0 ? 0 : generation;
  int last = generation < 0 ? SHADE_RC_GENERATIONS - 1 : generation;
  size_t n = 0;
  for (int i = first; i <= last; i++) {
    struct rc_gc *head = &rc_state.generations[i].head;
    for (struct rc_gc *g = gc_next(head); g != head; g = gc_next(g)) {
      if (n < capacity)
        out[n] = rc_object_of(g);
      n++;
    }
  }
  return n;
}

SHADE_API int shade_rc_add_callback(shade_rc_callback_fn callback, void *arg) {
  rc_lock_check("shade_rc_add_callback", NULL);
  struct rc_state *s = &rc_state;
  if (callback == NULL || s->callback_count == RC_MAX_CALLBACKS) {
    rc_report("shade_rc_add_callback", (void *)callback,
              callback ? "too many callbacks (16)" : "no callback", NULL);
    return -1;
  }
  s->callbacks[s->callback_count].fn = callback;
  s->callbacks[s->callback_count].arg = arg;
  s->callback_count++;
  return 0;
}

SHADE_API int shade_rc_remove_callback(shade_rc_callback_fn callback, void *arg) {
  rc_lock_check("shade_rc_remove_callback", NULL);
  struct rc_state *s = &rc_state;
  for (int i = 0; i < s->callback_count; i++) {
    if (s->callbacks[i].fn == callback && s->callbacks[i].arg == arg) {
      for (int j = i + 1; j < s->callback_count; j++)
        s->callbacks[j - 1] = s->callbacks[j];
      s->callback_count--;
      return 0;
    }
  }
  return -1;
}

SHADE_API void shade_rc_get_stats(struct shade_rc_gen_stats stats[SHADE_RC_GENERATIONS]) {
  for (int i = 0; i < SHADE_RC_GENERATIONS; i++)
    stats[i] = rc_state.stats[i];
}
