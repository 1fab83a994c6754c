// options.c: option resolution. An explicit field in struct shade_options wins; a zero field is
// taken from the environment (SHADE_GC_PERCENT, SHADE_MARKERS, SHADE_TRACE, SHADE_VERIFY,
// SHADE_SIG_SUSPEND, SHADE_AUTO_REGISTER, SHADE_SCAN_DATA, and the memory-limit variables
// SHADE_MEMORY_LIMIT, SHADE_HEAP_LIMIT, SHADE_SCAVENGE, SHADE_SCAVENGE_IDLE_MS, SHADE_IDLE_GC_MS,
// SHADE_MADV_FREE, SHADE_PERIODIC_GC_MS; SHADE_MODE and SHADE_GC_CPU), else from the built-in
// default.
#include "api/options.h"

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/message.h"

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

// memory limits (issue 5): a size such as "512MiB", "2GiB", "1.5GB", "64M" or plain bytes;
// "off", "none" and "0" mean no limit. Returns 0 (no limit) for a malformed value, with a message.
static size_t env_size(const char *name) {
  const char *value = env(name);
  if (value == NULL || strcmp(value, "off") == 0 || strcmp(value, "none") == 0)
    return 0;
  char *end;
  double number = strtod(value, &end);
  static const struct { const char *suffix; double factor; } units[] = {
      {"", 1},         {"b", 1},          {"k", 1024.0},     {"kib", 1024.0},
      {"kb", 1e3},     {"m", 1048576.0},  {"mib", 1048576.0}, {"mb", 1e6},
      {"g", 1073741824.0}, {"gib", 1073741824.0}, {"gb", 1e9},
      {"t", 1099511627776.0}, {"tib", 1099511627776.0}, {"tb", 1e12}};
  for (size_t i = 0; end != value && number >= 0 && i < sizeof units / sizeof units[0]; i++)
    if (strcasecmp(end, units[i].suffix) == 0 && number * units[i].factor < 1.8e19)
      return (size_t)(number * units[i].factor);
  shade_message("shade: %s=%s: not a size (like 512MiB, 2GiB or bytes); no limit", name, value);
  return 0;
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
  if (!o.no_past_end) {
    const char *value = env("SHADE_PAST_END");
    o.no_past_end = value && strcmp(value, "0") == 0;
  }
  if (o.min_heap_goal == 0)
    o.min_heap_goal = (size_t)4 << 20;
  // memory limits (issue 5)
  if (o.memory_limit == 0)
    o.memory_limit = env_size("SHADE_MEMORY_LIMIT");
  if (o.heap_limit == 0)
    o.heap_limit = env_size("SHADE_HEAP_LIMIT");
  if (o.scavenge == 0) {
    const char *value = env("SHADE_SCAVENGE");
    o.scavenge = value && (strcmp(value, "off") == 0 || strcmp(value, "0") == 0) ? -1 : 1;
  }
  if (o.scavenge_idle_ms <= 0)
    o.scavenge_idle_ms = (int)env_number("SHADE_SCAVENGE_IDLE_MS", 1000, 0, 86400000);
  if (o.idle_gc_ms == 0)
    o.idle_gc_ms = (int)env_number("SHADE_IDLE_GC_MS", 250, 0, 86400000);
  if (o.idle_gc_ms == 0)
    o.idle_gc_ms = -1;
  if (o.madv_free == 0)
    o.madv_free = env_flag("SHADE_MADV_FREE") ? 1 : -1;
  if (o.periodic_gc_ms == 0)
    o.periodic_gc_ms = (int)env_number("SHADE_PERIODIC_GC_MS", 0, 0, 86400000);
  if (!o.trace_scavenger) {
    const char *value = env("SHADE_TRACE");
    o.trace_scavenger = value && (strstr(value, "scav") != NULL || strstr(value, "gc") != NULL);
  }
  // short pauses (issue 3)
  if (o.mode != SHADE_MODE_DEFAULT &&
      (o.mode < SHADE_MODE_STW || o.mode > SHADE_MODE_CONCURRENT)) {
    shade_message("shade: shade_init: mode %d is not a shade_mode; using stw", o.mode);
    o.mode = SHADE_MODE_STW;
  } else if (o.mode == SHADE_MODE_DEFAULT) {
    const char *value = env("SHADE_MODE");
    o.mode = SHADE_MODE_STW;
    if (value && strcmp(value, "concurrent") == 0)
      o.mode = SHADE_MODE_CONCURRENT;
    else if (value && strcmp(value, "incremental") == 0)
      o.mode = SHADE_MODE_INCREMENTAL;
    else if (value && strcmp(value, "stw") != 0)
      shade_message("shade: SHADE_MODE=%s: not stw, incremental or concurrent; using stw", value);
  }
  if (o.idle_marking == 0) {
    const char *value = env("SHADE_IDLE_MARKING");
    o.idle_marking = value && strcmp(value, "0") == 0 ? -1 : 1;
  }
  if (o.gc_cpu_percent <= 0 || o.gc_cpu_percent > 100)
    o.gc_cpu_percent = (int)env_number("SHADE_GC_CPU", 25, 1, 100);
  *out = o;
}
