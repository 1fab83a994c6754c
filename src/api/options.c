// options.c: option resolution. An explicit field in struct shade_options wins; a zero field is
// taken from the environment (SHADE_GC_PERCENT, SHADE_MARKERS, SHADE_TRACE, SHADE_VERIFY,
// SHADE_SIG_SUSPEND, SHADE_AUTO_REGISTER, SHADE_SCAN_DATA), else from the built-in default.
#include "api/options.h"

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/message.h"

struct shade_options shade_options_in_force;

static const char *env(const char *name) {
  const char *value = getenv(name);
  return value && *value ? value : NULL;
}

static long env_number(const char *name, long fallback, long low, long high) {
  const char *value = env(name);
  if (value == NULL)
    return fallback;
  char *end;
  long n = strtol(value, &end, 10);
  if (*end != '\0' || n < low || n > high) {
    shade_message("shade: %s=%s: not a number from %ld to %ld; using %ld", name, value, low, high,
                  fallback);
    return fallback;
  }
  return n;
}

static bool env_flag(const char *name) {
  const char *value = env(name);
  return value && strcmp(value, "0") != 0 && strcmp(value, "no") != 0;
}

void options_resolve(const struct shade_options *given, struct shade_options *out) {
  struct shade_options o = given ? *given : (struct shade_options){0};
  if (o.gc_percent == 0) {
    const char *value = env("SHADE_GC_PERCENT");
    if (value && strcmp(value, "off") == 0)
      o.gc_percent = SHADE_GC_OFF;
    else
      o.gc_percent = (int)env_number("SHADE_GC_PERCENT", 100, -1, 1000000);
    if (o.gc_percent == 0) // 0 in the environment: collect as often as the floor allows
      o.gc_percent = 1;
  }
  if (o.markers <= 0) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o.markers = (int)env_number("SHADE_MARKERS", cpus > 0 ? cpus : 1, 1, 256);
  }
  if (!o.trace) {
    const char *value = env("SHADE_TRACE");
    o.trace = value && strstr(value, "gc") != NULL;
  }
  if (!o.verify)
    o.verify = env_flag("SHADE_VERIFY");
  if (o.suspend_signal == 0)
    o.suspend_signal = (int)env_number("SHADE_SIG_SUSPEND", SIGRTMIN + 6, 1, SIGRTMAX);
  if (!o.auto_register)
    o.auto_register = env_flag("SHADE_AUTO_REGISTER");
  if (!o.no_data_roots) {
    const char *value = env("SHADE_SCAN_DATA");
    o.no_data_roots = value && strcmp(value, "0") == 0;
  }
  if (o.min_heap_goal == 0)
    o.min_heap_goal = (size_t)4 << 20;
  *out = o;
}
