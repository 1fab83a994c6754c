// options.c: the settings in force. One table (base/options_table.h) describes every option; this
// file turns it into the resolution done by shade_init and into the README's environment table.
//
// Resolution, row by row: a field of struct shade_options the program set wins (an out-of-range
// value is reported and replaced by the default); an unset field (0, see the types in the table)
// is taken from the environment variable of its row; an unset or empty variable gives the
// default. A malformed variable is reported in one line naming the variable, its value, what is
// allowed and what is used instead, and the default is used. Then one rule across rows: the
// environment may not make the program's promises (the write barrier), see mode_needs_barrier.
// This file is the only one in Shade that reads the environment.
#include "base/options.h"

#include <ctype.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/message.h"
#include "base/options_table.h"

struct shade_options shade_options_in_force;

enum option_type {
  OPTION_FLAG,
  OPTION_FLAG_NOT,
  OPTION_SWITCH,
  OPTION_INT,
  OPTION_PERCENT,
  OPTION_MS,
  OPTION_SIZE,
  OPTION_SIGNAL,
  OPTION_ENUM,
  OPTION_LIST,
  OPTION_PATH,
};

struct option_row {
  const char *field;   // the struct shade_options field
  size_t offset, width; // where the field is, and its size (int or size_t)
  const char *variable; // NULL: the program alone sets it
  enum option_type type;
  long long fallback;
  long long (*fallback_fn)(void);
  long long low, high;
  bool has_off;
  long long off;
  const char *names;
  const char *default_text;
  const char *doc;
  const char *field_doc;
};

static long long options_online_cpus(void) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  return cpus > 0 ? cpus : 1;
}

static long long options_default_signal(void) { return SIGRTMIN + 6; }

#define OPTION_ROW(name, ...)                                                                      \
  {.field = #name,                                                                                 \
   .offset = offsetof(struct shade_options, name),                                                 \
   .width = sizeof(((struct shade_options *)0)->name),                                             \
   __VA_ARGS__},
static const struct option_row option_rows[] = {SHADE_OPTIONS_TABLE(OPTION_ROW)};
#undef OPTION_ROW
#define OPTION_FIELD_CHECK(name, ...)                                                              \
  _Static_assert(sizeof(((struct shade_options *)0)->name) == sizeof(int) ||                       \
                     sizeof(((struct shade_options *)0)->name) == sizeof(size_t),                  \
                 "option " #name ": an int or a size_t field");
SHADE_OPTIONS_TABLE(OPTION_FIELD_CHECK)
#undef OPTION_FIELD_CHECK
#define OPTION_ROWS (sizeof option_rows / sizeof option_rows[0])

// ---------------------------------------------------------------------------------------------
// Field access

static long long field_get(const struct shade_options *o, const struct option_row *row) {
  const char *at = (const char *)o + row->offset;
  if (row->width == sizeof(size_t)) {
    size_t value;
    memcpy(&value, at, sizeof value);
    return value > (size_t)1 << 62 ? (long long)1 << 62 : (long long)value;
  }
  int value;
  memcpy(&value, at, sizeof value);
  return value;
}

static void field_set(struct shade_options *o, const struct option_row *row, long long value) {
  char *at = (char *)o + row->offset;
  if (row->width == sizeof(size_t)) {
    size_t v = (size_t)value;
    memcpy(at, &v, sizeof v);
  } else {
    int v = (int)value;
    memcpy(at, &v, sizeof v);
  }
}

static long long row_default(const struct option_row *row) {
  return row->fallback_fn ? row->fallback_fn() : row->fallback;
}

// ---------------------------------------------------------------------------------------------
// Words: names lists ("a,b,c") and the text of values

// The n-th (0-based) name of a comma-separated list into buffer; false past the end.
static bool name_at(const char *names, int n, char *buffer, size_t size) {
  for (const char *p = names; p && *p; n--) {
    const char *end = strchr(p, ',');
    size_t length = end ? (size_t)(end - p) : strlen(p);
    if (n == 0) {
      if (length >= size)
        length = size - 1;
      memcpy(buffer, p, length);
      buffer[length] = '\0';
      return true;
    }
    p = end ? end + 1 : NULL;
  }
  return false;
}

// The position of word (length bytes, any case) in names, or -1.
static int name_index(const char *names, const char *word, size_t length) {
  char name[64];
  for (int i = 0; name_at(names, i, name, sizeof name); i++)
    if (strlen(name) == length && strncasecmp(name, word, length) == 0)
      return i;
  return -1;
}

static void format_size(long long bytes, char *buffer, size_t size) {
  static const char *units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  long long value = bytes;
  while (unit < 4 && value >= 1024 && value % 1024 == 0) {
    value /= 1024;
    unit++;
  }
  snprintf(buffer, size, "%lld %s", value, units[unit]);
}

// A value of the row as the README and the messages spell it.
static void format_value(const struct option_row *row, long long value, char *buffer,
                         size_t size) {
  if (row->has_off && value == row->off && row->type != OPTION_PERCENT) {
    snprintf(buffer, size, row->type == OPTION_SIZE ? "none" : "off");
    return;
  }
  switch (row->type) {
  case OPTION_FLAG:
  case OPTION_LIST:
    snprintf(buffer, size, value > 0 ? "on" : "off");
    break;
  case OPTION_FLAG_NOT:
    snprintf(buffer, size, value > 0 ? "off" : "on");
    break;
  case OPTION_SWITCH:
    snprintf(buffer, size, value > 0 ? "on" : "off");
    break;
  case OPTION_MS:
    snprintf(buffer, size, "%lld ms", value);
    break;
  case OPTION_SIZE:
    format_size(value, buffer, size);
    break;
  case OPTION_ENUM:
    if (!name_at(row->names, (int)value - 1, buffer, size))
      snprintf(buffer, size, "%lld", value);
    break;
  case OPTION_SIGNAL:
    if (value >= SIGRTMIN && value <= SIGRTMAX)
      snprintf(buffer, size, "%lld (SIGRTMIN+%lld)", value, value - SIGRTMIN);
    else
      snprintf(buffer, size, "%lld", value);
    break;
  default:
    if (row->has_off && value == row->off)
      snprintf(buffer, size, "off");
    else
      snprintf(buffer, size, "%lld", value);
  }
}

// The words every row of a LIST or ENUM variable accepts (for parse_list), into buffer.
static void variable_words(const struct option_row *row, char *buffer, size_t size) {
  buffer[0] = '\0';
  for (size_t r = 0; r < OPTION_ROWS; r++) {
    const struct option_row *other = &option_rows[r];
    if (other->variable == NULL || strcmp(other->variable, row->variable) != 0)
      continue;
    size_t used = strlen(buffer);
    snprintf(buffer + used, size - used, "%s%s", used ? "," : "", other->names);
  }
}

// What a variable of this row accepts, as a phrase: "not <phrase>" in messages.
static void format_allowed(const struct option_row *row, char *buffer, size_t size) {
  char words[256] = "";
  switch (row->type) {
  case OPTION_FLAG:
  case OPTION_FLAG_NOT:
  case OPTION_SWITCH:
    snprintf(buffer, size, "a boolean (1/0, on/off, yes/no, true/false)");
    return;
  case OPTION_INT:
  case OPTION_PERCENT:
    snprintf(buffer, size, "a number from %lld to %lld%s", row->low, row->high,
             row->has_off ? " or off" : "");
    return;
  case OPTION_MS:
    snprintf(buffer, size, "milliseconds from %lld to %lld (or with s, min)%s", row->low,
             row->high, row->has_off ? "; 0 or off: off" : "");
    return;
  case OPTION_SIZE:
    snprintf(buffer, size, "a size like 512MiB, 2GiB, 1.5GB or bytes%s",
             row->has_off ? ", or none" : "");
    return;
  case OPTION_SIGNAL:
    snprintf(buffer, size, "a signal number from 1 to %d or a name like SIGUSR1 or SIGRTMIN+6",
             SIGRTMAX);
    return;
  case OPTION_PATH:
    snprintf(buffer, size, "a file path");
    return;
  case OPTION_ENUM:
  case OPTION_LIST: {
    // the words of every row of this variable, each once
    char all[256], name[64];
    variable_words(row, all, sizeof all);
    int count = 0;
    for (int i = 0; name_at(all, i, name, sizeof name); i++)
      if (name_index(words, name, strlen(name)) < 0) {
        size_t used = strlen(words);
        snprintf(words + used, sizeof words - used, "%s%s", used ? "," : "", name);
        count++;
      }
    size_t used = (size_t)snprintf(buffer, size, row->type == OPTION_ENUM ? "one of " : "a list of ");
    for (int i = 0; used < size && name_at(words, i, name, sizeof name); i++)
      used += (size_t)snprintf(buffer + used, size - used, "%s%s",
                               i == 0 ? "" : i < count - 1 ? ", " : row->type == OPTION_ENUM ? " or " : " and ",
                               name);
    return;
  }
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing a variable: each returns false for a malformed value.

static bool parse_bool(const char *text, long long *out) {
  static const char *const yes[] = {"1", "on", "yes", "true"};
  static const char *const no[] = {"0", "off", "no", "false"};
  for (int i = 0; i < 4; i++) {
    if (strcasecmp(text, yes[i]) == 0) {
      *out = 1;
      return true;
    }
    if (strcasecmp(text, no[i]) == 0) {
      *out = 0;
      return true;
    }
  }
  return false;
}

// A decimal integer followed by one of the suffixes (name:factor), or by none.
static bool parse_number(const char *text, const char *const *suffixes,
                         const long long *factors, long long *out) {
  if (!isdigit((unsigned char)text[0]) && !(text[0] == '-' && isdigit((unsigned char)text[1])))
    return false;
  char *end;
  long long n = strtoll(text, &end, 10);
  if (*end == '\0') {
    *out = n;
    return true;
  }
  for (int i = 0; suffixes && suffixes[i]; i++)
    if (strcasecmp(end, suffixes[i]) == 0) {
      if (__builtin_mul_overflow(n, factors[i], out))
        return false;
      return true;
    }
  return false;
}

static bool parse_size(const char *text, long long *out) {
  static const struct { const char *suffix; double factor; } units[] = {
      {"", 1},          {"b", 1},          {"k", 1024.0},          {"kib", 1024.0},
      {"kb", 1e3},      {"m", 1048576.0},  {"mib", 1048576.0},     {"mb", 1e6},
      {"g", 1073741824.0}, {"gib", 1073741824.0}, {"gb", 1e9},
      {"t", 1099511627776.0}, {"tib", 1099511627776.0}, {"tb", 1e12}};
  if (!isdigit((unsigned char)text[0]) && text[0] != '.')
    return false;
  char *end;
  double number = strtod(text, &end);
  if (end == text || !(number >= 0))
    return false;
  while (*end == ' ')
    end++;
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (strcasecmp(end, units[i].suffix) == 0) {
      double bytes = number * units[i].factor;
      if (bytes > 4.6e18)
        return false;
      *out = (long long)bytes;
      return true;
    }
  return false;
}

static bool parse_signal(const char *text, long long *out) {
  const char *name = strncasecmp(text, "SIG", 3) == 0 ? text + 3 : text;
  long long n;
  if (isdigit((unsigned char)text[0])) {
    if (!parse_number(text, NULL, NULL, &n))
      return false;
  } else if (strcasecmp(name, "USR1") == 0) {
    n = SIGUSR1;
  } else if (strcasecmp(name, "USR2") == 0) {
    n = SIGUSR2;
  } else if (strncasecmp(name, "RTMIN", 5) == 0 || strncasecmp(name, "RTMAX", 5) == 0) {
    bool from_min = strncasecmp(name, "RTMIN", 5) == 0;
    long long offset = 0;
    const char *rest = name + 5;
    if (*rest != '\0') {
      if ((*rest != '+' && *rest != '-') || !isdigit((unsigned char)rest[1]) ||
          !parse_number(rest + 1, NULL, NULL, &offset))
        return false;
      if (*rest == '-')
        offset = -offset;
    }
    n = (from_min ? SIGRTMIN : SIGRTMAX) + offset;
  } else {
    return false;
  }
  if (n < 1 || n > SIGRTMAX)
    return false;
  *out = n;
  return true;
}

// The words of a list value, separated by commas, spaces, colons or '+'; each must be one of
// `allowed`. Sets *out to 1 if one of them is in `names`.
static bool parse_list(const char *text, const char *allowed, const char *names, long long *out) {
  *out = 0;
  const char *p = text;
  while (*p) {
    size_t skip = strspn(p, ", :+");
    p += skip;
    size_t length = strcspn(p, ", :+");
    if (length == 0)
      break;
    if (name_index(allowed, p, length) < 0)
      return false;
    if (name_index(names, p, length) >= 0)
      *out = 1;
    p += length;
  }
  return true;
}

static bool parse_value(const struct option_row *row, const char *text, const char *allowed,
                        long long *out) {
  static const char *const percent[] = {"%", NULL};
  static const long long percent_factor[] = {1};
  static const char *const ms[] = {"ms", "s", "min", NULL};
  static const long long ms_factor[] = {1, 1000, 60000};
  if (row->has_off && (strcasecmp(text, "off") == 0 || strcasecmp(text, "none") == 0)) {
    *out = row->off;
    return true;
  }
  long long value;
  switch (row->type) {
  case OPTION_FLAG:
    return parse_bool(text, out);
  case OPTION_FLAG_NOT:
    if (!parse_bool(text, &value))
      return false;
    *out = !value;
    return true;
  case OPTION_SWITCH:
    if (!parse_bool(text, &value))
      return false;
    *out = value ? 1 : -1;
    return true;
  case OPTION_INT:
  case OPTION_PERCENT:
  case OPTION_MS:
    if (!parse_number(text, row->type == OPTION_MS ? ms : row->type == OPTION_PERCENT ? percent : NULL,
                      row->type == OPTION_MS ? ms_factor : percent_factor, &value) ||
        value < row->low || value > row->high)
      return false;
    *out = row->type == OPTION_MS && row->has_off && value == 0 ? row->off : value;
    return true;
  case OPTION_SIZE:
    if (!parse_size(text, &value) || value > row->high)
      return false;
    *out = value;
    return true;
  case OPTION_SIGNAL:
    return parse_signal(text, out);
  case OPTION_ENUM: {
    int index = name_index(row->names, text, strlen(text));
    if (index < 0)
      return false;
    *out = index + 1;
    return true;
  }
  case OPTION_LIST:
    return parse_list(text, allowed, row->names, out);
  case OPTION_PATH: // (resolve_path)
    break;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Resolution

// True if an earlier row reads the same variable (its message, if any, was given there).
static bool variable_seen(size_t index) {
  for (size_t r = 0; r < index; r++)
    if (option_rows[r].variable && strcmp(option_rows[r].variable, option_rows[index].variable) == 0)
      return true;
  return false;
}

// Is the field set by the program? Then normalised into *value; false if unset.
static bool field_given(const struct option_row *row, long long raw, long long *value) {
  switch (row->type) {
  case OPTION_FLAG:
  case OPTION_FLAG_NOT:
  case OPTION_LIST:
    *value = raw != 0;
    return raw != 0;
  case OPTION_SWITCH:
    *value = raw > 0 ? 1 : -1;
    return raw != 0;
  case OPTION_SIZE:
  case OPTION_SIGNAL:
  case OPTION_ENUM:
    *value = raw;
    return raw != 0;
  default: // numbers
    if (row->has_off && raw < 0) {
      *value = row->off;
      return true;
    }
    *value = raw;
    return raw > 0;
  }
}

// Is a value the program set acceptable? (Its range; the environment's syntax does not apply.)
static bool field_valid(const struct option_row *row, long long value) {
  switch (row->type) {
  case OPTION_INT:
  case OPTION_PERCENT:
  case OPTION_MS:
    return (row->has_off && value == row->off) || (value >= row->low && value <= row->high);
  case OPTION_ENUM: {
    char name[64];
    return value >= 1 && name_at(row->names, (int)value - 1, name, sizeof name);
  }
  default:
    return true;
  }
}

// Where each field came from, for the rule below.
enum source { FROM_DEFAULT, FROM_PROGRAM, FROM_ENVIRONMENT };

// The environment cannot make the program's promises: incremental and concurrent marking are
// correct only if every pointer store into the heap, globals and root ranges goes through the
// write barrier. A program declares that with write_barrier = 1, or by asking for one of those
// modes itself; SHADE_MODE may then choose the mode, and is otherwise ignored, with a message.
static void mode_needs_barrier(struct shade_options *o, enum source mode_source,
                               const char *mode_text) {
  if (mode_source == FROM_PROGRAM && o->mode != SHADE_MODE_STW)
    o->write_barrier = 1;
  if (mode_source == FROM_ENVIRONMENT && o->mode != SHADE_MODE_STW && !o->write_barrier) {
    shade_message("shade: SHADE_MODE=%s ignored: the program did not declare that it uses the "
                  "write barrier (struct shade_options.write_barrier); running stw",
                  mode_text);
    o->mode = SHADE_MODE_STW;
  }
}

// Cards are set by shade_write only: without the program's promise that every pointer store
// goes through it, young collections must learn of writes from the kernel (pages).
static void remembered_set_needs_barrier(struct shade_options *o) {
  if (o->remembered_set == SHADE_REMEMBERED_AUTO)
    o->remembered_set = o->write_barrier ? SHADE_REMEMBERED_CARDS : SHADE_REMEMBERED_PAGES;
  if (o->remembered_set == SHADE_REMEMBERED_CARDS && !o->write_barrier) {
    shade_message("shade: SHADE_REMEMBERED_SET=cards: the program did not declare that it uses "
                  "the write barrier (struct shade_options.write_barrier); using pages");
    o->remembered_set = SHADE_REMEMBERED_PAGES;
  }
}

// A path: the program's string if it set one, else the variable's (the environment's strings
// live as long as the process), else none.
static void resolve_path(struct shade_options *o, const struct option_row *row) {
  const char *path;
  memcpy(&path, (char *)o + row->offset, sizeof path);
  if (path == NULL || path[0] == '\0') {
    const char *env = getenv(row->variable);
    path = env != NULL && env[0] != '\0' ? env : NULL;
  }
  memcpy((char *)o + row->offset, &path, sizeof path);
}

void options_resolve(const struct shade_options *given, struct shade_options *out) {
  struct shade_options o = given ? *given : (struct shade_options){0};
  enum source mode_source = FROM_DEFAULT;
  const char *mode_text = "";
  for (size_t r = 0; r < OPTION_ROWS; r++) {
    const struct option_row *row = &option_rows[r];
    if (row->type == OPTION_PATH) {
      resolve_path(&o, row);
      continue;
    }
    long long value, fallback = row_default(row);
    char allowed[256], text[64];
    enum source source = FROM_DEFAULT;
    format_allowed(row, allowed, sizeof allowed);
    if (field_given(row, field_get(&o, row), &value)) {
      source = FROM_PROGRAM;
      if (!field_valid(row, value)) {
        format_value(row, fallback, text, sizeof text);
        shade_message("shade: shade_init: options.%s = %lld: not %s; using %s", row->field, value,
                      allowed, text);
        value = fallback;
      }
    } else {
      const char *env = row->variable ? getenv(row->variable) : NULL;
      value = fallback;
      if (env != NULL && env[0] != '\0') {
        char words[256] = "";
        if (row->type == OPTION_LIST)
          variable_words(row, words, sizeof words);
        if (parse_value(row, env, words, &value)) {
          source = FROM_ENVIRONMENT;
          if (strcmp(row->field, "mode") == 0)
            mode_text = env;
        } else {
          value = fallback;
          if (!variable_seen(r)) {
            format_value(row, fallback, text, sizeof text);
            shade_message("shade: %s=%s: not %s; using %s", row->variable, env, allowed, text);
          }
        }
      }
    }
    if (!(source == FROM_PROGRAM && row->type == OPTION_SIZE)) // (sizes beyond 2^62 kept)
      field_set(&o, row, value);
    if (strcmp(row->field, "mode") == 0)
      mode_source = source;
  }
  mode_needs_barrier(&o, mode_source, mode_text);
  remembered_set_needs_barrier(&o);
  *out = o;
}

// ---------------------------------------------------------------------------------------------
// The README's table

static void print_allowed_markdown(FILE *out, const struct option_row *row) {
  char name[64];
  switch (row->type) {
  case OPTION_FLAG:
  case OPTION_FLAG_NOT:
  case OPTION_SWITCH:
    fprintf(out, "boolean");
    return;
  case OPTION_INT:
  case OPTION_PERCENT:
    fprintf(out, "%s%lld to %lld%s", row->type == OPTION_PERCENT ? "percent, " : "", row->low,
            row->high, row->has_off ? ", `off`" : "");
    return;
  case OPTION_MS:
    fprintf(out, "ms, %lld to %lld%s", row->low, row->high, row->has_off ? "; 0 or `off`: off" : "");
    return;
  case OPTION_SIZE:
    fprintf(out, "size%s", row->has_off ? ", `none`" : "");
    return;
  case OPTION_SIGNAL:
    fprintf(out, "signal number or name");
    return;
  case OPTION_ENUM:
  case OPTION_LIST:
    for (int i = 0; name_at(row->names, i, name, sizeof name); i++)
      fprintf(out, "%s`%s`", i ? ", " : "", name);
    if (row->type == OPTION_LIST)
      fprintf(out, " (list)");
    return;
  case OPTION_PATH:
    fprintf(out, "file path");
    return;
  }
}

static void print_field_markdown(FILE *out, const struct option_row *row) {
  static const char *const rule[] = {
      [OPTION_FLAG] = "1 on",
      [OPTION_FLAG_NOT] = "1 off",
      [OPTION_SWITCH] = "1 on, -1 off",
      [OPTION_INT] = "",
      [OPTION_PERCENT] = "",
      [OPTION_MS] = "",
      [OPTION_SIZE] = "bytes",
      [OPTION_SIGNAL] = "",
      [OPTION_ENUM] = "",
      [OPTION_LIST] = "1 on",
      [OPTION_PATH] = "a string, NULL: none",
  };
  fprintf(out, "`%s`", row->field);
  const char *r = rule[row->type];
  bool negative_off = row->has_off && row->off < 0 && row->type != OPTION_PERCENT;
  if (r[0] || negative_off || row->field_doc)
    fprintf(out, " (%s%s%s%s%s)", r, r[0] && negative_off ? ", " : "", negative_off ? "-1 off" : "",
            (r[0] || negative_off) && row->field_doc ? "; " : "", row->field_doc ? row->field_doc : "");
}

void options_print_markdown(FILE *out) {
  static const char *const preamble[] = {
      "`shade_init` takes each setting from its field of `struct shade_options` when the program",
      "set it (not 0), else from its variable, else from the default. Booleans are `1`/`0`,",
      "`on`/`off`, `yes`/`no` or `true`/`false`, in any case; sizes are bytes or `64M`, `512MiB`,",
      "`2GiB`, `1.5GB` (k, M, G, T and KiB, MiB, GiB, TiB: powers of 1024; KB, MB, GB, TB: of",
      "1000); milliseconds may end in `ms`, `s` or `min`; a list is words separated by commas. A",
      "malformed value is reported in one line naming the variable, the value, what is allowed and",
      "what is used instead (the default), such as `shade: SHADE_GC_PERCENT=abc: not a number from",
      "-1 to 1000000 or off; using 100`. A row without a variable is a field only the program can",
      "set.",
      "",
  };
  for (size_t i = 0; i < sizeof preamble / sizeof preamble[0]; i++)
    fprintf(out, "%s\n", preamble[i]);
  fprintf(out, "| variable | values | meaning | default | field of `struct shade_options` |\n");
  fprintf(out, "|---|---|---|---|---|\n");
  for (size_t r = 0; r < OPTION_ROWS; r++) {
    const struct option_row *row = &option_rows[r];
    char text[64];
    if (row->variable) {
      fprintf(out, "| `%s` | ", row->variable);
      print_allowed_markdown(out, row);
    } else {
      fprintf(out, "| - | -");
    }
    fprintf(out, " | %s | ", row->doc);
    if (row->default_text) {
      fprintf(out, "%s", row->default_text);
    } else {
      format_value(row, row->fallback, text, sizeof text);
      fprintf(out, "%s", text);
    }
    fprintf(out, " | ");
    print_field_markdown(out, row);
    fprintf(out, " |\n");
  }
}
