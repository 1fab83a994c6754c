// test_resolve.c (options_resolve): options_resolve, called directly with variables set by setenv,
// specifies how every kind of value is read:
//   - nothing set: every default, no message;
//   - booleans: 1/0, on/off, yes/no, true/false in any case; anything else is one message naming
//     the variable and the value, and the default;
//   - numbers, percentages, milliseconds (ms, s, min), sizes (512MiB, 2GiB, 1.5GB, none), signals
//     (numbers and names), the mode (names), SHADE_TRACE (a list): accepted forms, and malformed
//     or out-of-range values reported with what is allowed and what is used;
//   - a field the program set wins over the environment; an out-of-range field is reported;
//   - the mode rule: SHADE_MODE=incremental/concurrent is ignored, with one message, unless the
//     program declares write_barrier; a program that sets mode to one of them has declared it.
#include <signal.h>

#include "base/options.h"
#include "options_test.h"

extern char **environ;

static void clear_environment(void) {
  for (int again = 1; again;) {
    again = 0;
    for (char **e = environ; *e; e++)
      if (strncmp(*e, "SHADE_", 6) == 0) {
        char name[128];
        size_t length = strcspn(*e, "=");
        snprintf(name, sizeof name, "%.*s", (int)length, *e);
        unsetenv(name);
        again = 1;
        break;
      }
  }
}

// Resolve with one variable set (and `given`, may be NULL), messages captured afresh.
static struct shade_options resolve_with(const struct shade_options *given, const char *name,
                                         const char *value) {
  clear_environment();
  if (name)
    setenv(name, value, 1);
  options_capture();
  struct shade_options out;
  options_resolve(given, &out);
  clear_environment();
  return out;
}

static struct shade_options resolve(const char *name, const char *value) {
  return resolve_with(NULL, name, value);
}

// The value is accepted: no message.
#define EXPECT_QUIET(name, value)                                                                  \
  SHADE_TEST_EXPECTF(options_message_count == 0, "%.40s=%.40s gave %d message(s): %.300s", name, value,      \
                     options_message_count, options_messages[0])

// The value is refused: exactly one message, containing `text`.
#define EXPECT_REFUSED(name, value, text)                                                          \
  do {                                                                                             \
    SHADE_TEST_EXPECTF(options_message_count == 1 && options_messages_with(text) == 1,            \
                       "%.30s=%.30s: expected one message with \"%.180s\", got %d: \"%.200s\"", name, value,    \
                       text, options_message_count, options_messages[0]);                          \
  } while (0)

static void test_defaults_without_environment(void) {
  struct shade_options o = resolve(NULL, NULL);
  EXPECT_QUIET("(nothing)", "");
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  SHADE_TEST_EXPECT(o.gc_percent == 100);
  SHADE_TEST_EXPECTF(o.markers == (cpus > 0 ? cpus : 1), "markers %d, cpus %ld", o.markers, cpus);
  SHADE_TEST_EXPECT(o.trace == 0 && o.trace_scavenger == 0);
  SHADE_TEST_EXPECT(o.verify == 0 && o.auto_register == 0);
  SHADE_TEST_EXPECT(o.suspend_signal == SIGRTMIN + 6);
  SHADE_TEST_EXPECT(o.no_data_roots == 0 && o.no_past_end == 0);
  SHADE_TEST_EXPECT(o.min_heap_goal == (size_t)4 << 20);
  SHADE_TEST_EXPECT(o.memory_limit == 0 && o.heap_limit == 0);
  SHADE_TEST_EXPECT(o.scavenge == 1 && o.madv_free == -1);
  SHADE_TEST_EXPECT(o.scavenge_idle_ms == 1000 && o.idle_gc_ms == 250);
  SHADE_TEST_EXPECTF(o.periodic_gc_ms <= 0, "periodic_gc_ms %d", o.periodic_gc_ms);
  SHADE_TEST_EXPECT(o.mode == SHADE_MODE_STW && o.write_barrier == 0);
  SHADE_TEST_EXPECT(o.gc_cpu_percent == 25 && o.idle_marking == 1);
  SHADE_TEST_EXPECT(o.rc_debug == 0);
  SHADE_TEST_EXPECT(o.oom_handler == NULL);
}

static void test_booleans(void) {
  static const char *const on[] = {"1", "on", "ON", "yes", "Yes", "true", "TRUE"};
  static const char *const off[] = {"0", "off", "Off", "no", "NO", "false", "False"};
  for (size_t i = 0; i < sizeof on / sizeof on[0]; i++) {
    struct shade_options o = resolve("SHADE_VERIFY", on[i]);
    SHADE_TEST_EXPECTF(o.verify == 1, "SHADE_VERIFY=%s: verify %d", on[i], o.verify);
    EXPECT_QUIET("SHADE_VERIFY", on[i]);
    o = resolve("SHADE_SCAVENGE", off[i]);
    SHADE_TEST_EXPECTF(o.scavenge == -1, "SHADE_SCAVENGE=%s: scavenge %d", off[i], o.scavenge);
    EXPECT_QUIET("SHADE_SCAVENGE", off[i]);
    o = resolve("SHADE_SCAN_DATA", off[i]); // the field says the opposite
    SHADE_TEST_EXPECTF(o.no_data_roots == 1, "SHADE_SCAN_DATA=%s", off[i]);
    o = resolve("SHADE_PAST_END", on[i]);
    SHADE_TEST_EXPECTF(o.no_past_end == 0, "SHADE_PAST_END=%s", on[i]);
    o = resolve("SHADE_MADV_FREE", on[i]);
    SHADE_TEST_EXPECTF(o.madv_free == 1, "SHADE_MADV_FREE=%s", on[i]);
    o = resolve("SHADE_IDLE_MARKING", off[i]);
    SHADE_TEST_EXPECTF(o.idle_marking == -1, "SHADE_IDLE_MARKING=%s", off[i]);
    o = resolve("SHADE_RC_DEBUG", on[i]);
    SHADE_TEST_EXPECTF(o.rc_debug == 1, "SHADE_RC_DEBUG=%s", on[i]);
  }
  static const char *const bad[] = {"maybe", "2", "y", "enable", "-1", "on!"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char text[128];
    struct shade_options o = resolve("SHADE_AUTO_REGISTER", bad[i]);
    SHADE_TEST_EXPECT(o.auto_register == 0);
    snprintf(text, sizeof text,
             "shade: SHADE_AUTO_REGISTER=%s: not a boolean (1/0, on/off, yes/no, true/false); "
             "using off", bad[i]);
    EXPECT_REFUSED("SHADE_AUTO_REGISTER", bad[i], text);
    o = resolve("SHADE_SCAVENGE", bad[i]);
    SHADE_TEST_EXPECT(o.scavenge == 1);
    EXPECT_REFUSED("SHADE_SCAVENGE", bad[i], "using on");
    o = resolve("SHADE_SCAN_DATA", bad[i]);
    SHADE_TEST_EXPECT(o.no_data_roots == 0);
    EXPECT_REFUSED("SHADE_SCAN_DATA", bad[i], "SHADE_SCAN_DATA");
  }
  // empty is unset: no message
  struct shade_options o = resolve("SHADE_VERIFY", "");
  SHADE_TEST_EXPECT(o.verify == 0);
  EXPECT_QUIET("SHADE_VERIFY", "");
}

static void test_numbers_and_percentages(void) {
  struct { const char *name, *value; size_t offset; int expected; } good[] = {
      {"SHADE_GC_PERCENT", "50", offsetof(struct shade_options, gc_percent), 50},
      {"SHADE_GC_PERCENT", "50%", offsetof(struct shade_options, gc_percent), 50},
      {"SHADE_GC_PERCENT", "off", offsetof(struct shade_options, gc_percent), SHADE_GC_OFF},
      {"SHADE_GC_PERCENT", "OFF", offsetof(struct shade_options, gc_percent), SHADE_GC_OFF},
      {"SHADE_GC_PERCENT", "-1", offsetof(struct shade_options, gc_percent), SHADE_GC_OFF},
      {"SHADE_GC_PERCENT", "0", offsetof(struct shade_options, gc_percent), 0},
      {"SHADE_GC_PERCENT", "1000000", offsetof(struct shade_options, gc_percent), 1000000},
      {"SHADE_GC_CPU", "50", offsetof(struct shade_options, gc_cpu_percent), 50},
      {"SHADE_GC_CPU", "100%", offsetof(struct shade_options, gc_cpu_percent), 100},
      {"SHADE_MARKERS", "3", offsetof(struct shade_options, markers), 3},
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    struct shade_options o = resolve(good[i].name, good[i].value);
    int got;
    memcpy(&got, (char *)&o + good[i].offset, sizeof got);
    SHADE_TEST_EXPECTF(got == good[i].expected, "%s=%s: %d, expected %d", good[i].name,
                       good[i].value, got, good[i].expected);
    EXPECT_QUIET(good[i].name, good[i].value);
  }
  static const char *const bad_percent[] = {"abc", "12x", "2000000", "-2", "1e3", " 5", "5 "};
  for (size_t i = 0; i < sizeof bad_percent / sizeof bad_percent[0]; i++) {
    char text[160];
    struct shade_options o = resolve("SHADE_GC_PERCENT", bad_percent[i]);
    SHADE_TEST_EXPECT(o.gc_percent == 100);
    snprintf(text, sizeof text,
             "shade: SHADE_GC_PERCENT=%s: not a number from -1 to 1000000 or off; using 100",
             bad_percent[i]);
    EXPECT_REFUSED("SHADE_GC_PERCENT", bad_percent[i], text);
  }
  struct shade_options o = resolve("SHADE_GC_CPU", "0");
  SHADE_TEST_EXPECT(o.gc_cpu_percent == 25);
  EXPECT_REFUSED("SHADE_GC_CPU", "0", "shade: SHADE_GC_CPU=0: not a number from 1 to 100; using 25");
  o = resolve("SHADE_GC_CPU", "off"); // no off for this one
  EXPECT_REFUSED("SHADE_GC_CPU", "off", "SHADE_GC_CPU=off: not a number from 1 to 100");
  o = resolve("SHADE_MARKERS", "0");
  EXPECT_REFUSED("SHADE_MARKERS", "0", "shade: SHADE_MARKERS=0: not a number from 1 to 256; using");
}

static void test_milliseconds(void) {
  struct { const char *name, *value; int idle_gc_ms; } good[] = {
      {"SHADE_IDLE_GC_MS", "100", 100}, {"SHADE_IDLE_GC_MS", "5ms", 5},
      {"SHADE_IDLE_GC_MS", "2s", 2000}, {"SHADE_IDLE_GC_MS", "1min", 60000},
      {"SHADE_IDLE_GC_MS", "0", -1},    {"SHADE_IDLE_GC_MS", "off", -1},
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    struct shade_options o = resolve(good[i].name, good[i].value);
    SHADE_TEST_EXPECTF(o.idle_gc_ms == good[i].idle_gc_ms, "%s=%s: %d", good[i].name,
                       good[i].value, o.idle_gc_ms);
    EXPECT_QUIET(good[i].name, good[i].value);
  }
  struct shade_options o = resolve("SHADE_SCAVENGE_IDLE_MS", "0"); // 0: at once, not off
  SHADE_TEST_EXPECT(o.scavenge_idle_ms == 0);
  EXPECT_QUIET("SHADE_SCAVENGE_IDLE_MS", "0");
  o = resolve("SHADE_PERIODIC_GC_MS", "100");
  SHADE_TEST_EXPECT(o.periodic_gc_ms == 100);
  static const char *const bad[] = {"-5", "fast", "2h", "5 ms", "99999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char text[160];
    o = resolve("SHADE_IDLE_GC_MS", bad[i]);
    SHADE_TEST_EXPECT(o.idle_gc_ms == 250);
    snprintf(text, sizeof text, "shade: SHADE_IDLE_GC_MS=%s: not milliseconds from 0 to 86400000",
             bad[i]);
    EXPECT_REFUSED("SHADE_IDLE_GC_MS", bad[i], text);
    EXPECT_REFUSED("SHADE_IDLE_GC_MS", bad[i], "; using 250 ms");
  }
  o = resolve("SHADE_SCAVENGE_IDLE_MS", "off"); // no off for this one
  SHADE_TEST_EXPECT(o.scavenge_idle_ms == 1000);
  EXPECT_REFUSED("SHADE_SCAVENGE_IDLE_MS", "off", "using 1000 ms");
}

static void test_sizes(void) {
  struct { const char *value; size_t bytes; } good[] = {
      {"512MiB", (size_t)512 << 20}, {"2GiB", (size_t)2 << 30}, {"2gib", (size_t)2 << 30},
      {"1.5GB", (size_t)1500000000}, {"64M", (size_t)64 << 20}, {"100", 100},
      {"4k", 4096},                  {"3KB", 3000},             {"1TiB", (size_t)1 << 40},
      {"none", 0},                   {"off", 0},                {"0", 0},
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    struct shade_options o = resolve("SHADE_MEMORY_LIMIT", good[i].value);
    SHADE_TEST_EXPECTF(o.memory_limit == good[i].bytes, "SHADE_MEMORY_LIMIT=%s: %zu, expected %zu",
                       good[i].value, o.memory_limit, good[i].bytes);
    EXPECT_QUIET("SHADE_MEMORY_LIMIT", good[i].value);
  }
  static const char *const bad[] = {"12parsecs", "-5MiB", "MiB", "lots", "1e30", "nan", "inf"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char text[160];
    struct shade_options o = resolve("SHADE_HEAP_LIMIT", bad[i]);
    SHADE_TEST_EXPECT(o.heap_limit == 0);
    snprintf(text, sizeof text,
             "shade: SHADE_HEAP_LIMIT=%s: not a size like 512MiB, 2GiB, 1.5GB or bytes, or none; "
             "using none", bad[i]);
    EXPECT_REFUSED("SHADE_HEAP_LIMIT", bad[i], text);
  }
}

static void test_signals(void) {
  struct { const char *value; int signal; } good[] = {
      {"SIGUSR1", SIGUSR1},          {"usr2", SIGUSR2},         {"SIGRTMIN+3", SIGRTMIN + 3},
      {"rtmin", SIGRTMIN},           {"SIGRTMAX-1", SIGRTMAX - 1}, {"40", 40},
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    struct shade_options o = resolve("SHADE_SIG_SUSPEND", good[i].value);
    SHADE_TEST_EXPECTF(o.suspend_signal == good[i].signal, "SHADE_SIG_SUSPEND=%s: %d, expected %d",
                       good[i].value, o.suspend_signal, good[i].signal);
    EXPECT_QUIET("SHADE_SIG_SUSPEND", good[i].value);
  }
  static const char *const bad[] = {"SIGFOO", "0", "999", "SIGRTMIN+99", "RTMIN+", "USR1x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char text[160];
    struct shade_options o = resolve("SHADE_SIG_SUSPEND", bad[i]);
    SHADE_TEST_EXPECT(o.suspend_signal == SIGRTMIN + 6);
    snprintf(text, sizeof text, "shade: SHADE_SIG_SUSPEND=%s: not a signal number from 1 to %d",
             bad[i], SIGRTMAX);
    EXPECT_REFUSED("SHADE_SIG_SUSPEND", bad[i], text);
    EXPECT_REFUSED("SHADE_SIG_SUSPEND", bad[i], "(SIGRTMIN+6)");
  }
}

static void test_trace_list(void) {
  struct { const char *value; int trace, scav; } cases[] = {
      {"gc", 1, 1}, {"scav", 0, 1}, {"gc,scav", 1, 1}, {"scav gc", 1, 1}, {"GC", 1, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct shade_options o = resolve("SHADE_TRACE", cases[i].value);
    SHADE_TEST_EXPECTF(o.trace == cases[i].trace && o.trace_scavenger == cases[i].scav,
                       "SHADE_TRACE=%s: trace %d, trace_scavenger %d", cases[i].value, o.trace,
                       o.trace_scavenger);
    EXPECT_QUIET("SHADE_TRACE", cases[i].value);
  }
  // one message for the variable, though two fields read it
  struct shade_options o = resolve("SHADE_TRACE", "gc,bogus");
  SHADE_TEST_EXPECT(o.trace == 0 && o.trace_scavenger == 0);
  EXPECT_REFUSED("SHADE_TRACE", "gc,bogus",
                 "shade: SHADE_TRACE=gc,bogus: not a list of gc and scav; using off");
}

static void test_mode_from_the_environment_needs_the_declaration(void) {
  static const char *const modes[] = {"concurrent", "incremental"};
  for (int i = 0; i < 2; i++) {
    char text[256];
    struct shade_options o = resolve("SHADE_MODE", modes[i]);
    SHADE_TEST_EXPECTF(o.mode == SHADE_MODE_STW, "SHADE_MODE=%s without declaration: mode %d",
                       modes[i], o.mode);
    snprintf(text, sizeof text,
             "shade: SHADE_MODE=%s ignored: the program did not declare that it uses the write "
             "barrier (struct shade_options.write_barrier); running stw", modes[i]);
    EXPECT_REFUSED("SHADE_MODE", modes[i], text);
    struct shade_options declared = {.write_barrier = 1};
    o = resolve_with(&declared, "SHADE_MODE", modes[i]);
    int expected = i == 0 ? SHADE_MODE_CONCURRENT : SHADE_MODE_INCREMENTAL;
    SHADE_TEST_EXPECTF(o.mode == expected, "SHADE_MODE=%s with declaration: mode %d", modes[i],
                       o.mode);
    EXPECT_QUIET("SHADE_MODE", modes[i]);
  }
  struct shade_options declared = {.write_barrier = 1};
  struct shade_options o = resolve_with(&declared, "SHADE_MODE", "Concurrent");
  SHADE_TEST_EXPECT(o.mode == SHADE_MODE_CONCURRENT);
  o = resolve("SHADE_MODE", "stw");
  SHADE_TEST_EXPECT(o.mode == SHADE_MODE_STW);
  EXPECT_QUIET("SHADE_MODE", "stw");
  o = resolve_with(&declared, "SHADE_MODE", "sideways");
  SHADE_TEST_EXPECT(o.mode == SHADE_MODE_STW);
  EXPECT_REFUSED("SHADE_MODE", "sideways",
                 "shade: SHADE_MODE=sideways: not one of stw, incremental or concurrent; using stw");
}

static void test_the_program_wins(void) {
  struct shade_options given = {.gc_percent = 30, .verify = 1, .scavenge = -1, .idle_gc_ms = -1,
                                .memory_limit = 1000, .mode = SHADE_MODE_CONCURRENT,
                                .suspend_signal = SIGUSR2, .markers = 2};
  clear_environment();
  setenv("SHADE_GC_PERCENT", "50", 1);
  setenv("SHADE_VERIFY", "0", 1);
  setenv("SHADE_SCAVENGE", "on", 1);
  setenv("SHADE_IDLE_GC_MS", "10", 1);
  setenv("SHADE_MEMORY_LIMIT", "1GiB", 1);
  setenv("SHADE_MODE", "stw", 1);
  setenv("SHADE_SIG_SUSPEND", "SIGUSR1", 1);
  setenv("SHADE_MARKERS", "7", 1);
  setenv("SHADE_GC_CPU", "40", 1);
  options_capture();
  struct shade_options o;
  options_resolve(&given, &o);
  clear_environment();
  EXPECT_QUIET("(several)", "");
  SHADE_TEST_EXPECT(o.gc_percent == 30 && o.verify == 1 && o.scavenge == -1);
  SHADE_TEST_EXPECT(o.idle_gc_ms == -1 && o.memory_limit == 1000);
  SHADE_TEST_EXPECT(o.suspend_signal == SIGUSR2 && o.markers == 2);
  SHADE_TEST_EXPECT(o.gc_cpu_percent == 40); // not set by the program: the environment
  SHADE_TEST_EXPECT(o.mode == SHADE_MODE_CONCURRENT);
  SHADE_TEST_EXPECTF(o.write_barrier == 1, "a program asking for concurrent mode declared it");
  // mode stw set by the program: SHADE_MODE is not read, nothing is declared
  struct shade_options stw = {.mode = SHADE_MODE_STW};
  o = resolve_with(&stw, "SHADE_MODE", "concurrent");
  SHADE_TEST_EXPECT(o.mode == SHADE_MODE_STW && o.write_barrier == 0);
  EXPECT_QUIET("SHADE_MODE", "concurrent");
  // SHADE_GC_OFF and other negative "off" fields
  struct shade_options off = {.gc_percent = SHADE_GC_OFF, .periodic_gc_ms = -1};
  o = resolve_with(&off, "SHADE_PERIODIC_GC_MS", "100");
  SHADE_TEST_EXPECT(o.gc_percent == SHADE_GC_OFF && o.periodic_gc_ms == -1);
  // fields of 0 or less without an "off" are unset, as they always were
  struct shade_options negative = {.markers = -3, .gc_cpu_percent = -1, .scavenge_idle_ms = -1};
  o = resolve_with(&negative, "SHADE_MARKERS", "2");
  SHADE_TEST_EXPECT(o.markers == 2 && o.gc_cpu_percent == 25 && o.scavenge_idle_ms == 1000);
  EXPECT_QUIET("SHADE_MARKERS", "2");
}

static void test_out_of_range_fields_are_reported(void) {
  struct shade_options bad_mode = {.mode = 42};
  struct shade_options o = resolve_with(&bad_mode, "SHADE_MODE", "concurrent");
  SHADE_TEST_EXPECT(o.mode == SHADE_MODE_STW && o.write_barrier == 0);
  EXPECT_REFUSED("mode", "42",
                 "shade: shade_init: options.mode = 42: not one of stw, incremental or concurrent; "
                 "using stw");
  struct shade_options bad_cpu = {.gc_cpu_percent = 200};
  o = resolve_with(&bad_cpu, NULL, NULL);
  SHADE_TEST_EXPECT(o.gc_cpu_percent == 25);
  EXPECT_REFUSED("gc_cpu_percent", "200",
                 "shade: shade_init: options.gc_cpu_percent = 200: not a number from 1 to 100; "
                 "using 25");
}

int main(void) {
  SHADE_TEST_RUN(test_defaults_without_environment);
  SHADE_TEST_RUN(test_booleans);
  SHADE_TEST_RUN(test_numbers_and_percentages);
  SHADE_TEST_RUN(test_milliseconds);
  SHADE_TEST_RUN(test_sizes);
  SHADE_TEST_RUN(test_signals);
  SHADE_TEST_RUN(test_trace_list);
  SHADE_TEST_RUN(test_mode_from_the_environment_needs_the_declaration);
  SHADE_TEST_RUN(test_the_program_wins);
  SHADE_TEST_RUN(test_out_of_range_fields_are_reported);
  shade_set_message_handler(NULL);
  return shade_test_finish();
}
