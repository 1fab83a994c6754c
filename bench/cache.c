// cache.c: the "cache" workload: a large, long-lived cache served by requests whose temporaries die
// young, the case generational collection is for. The same workload is written in Go (cache.go)
// and C# (cache.cs, run on Mono's generational SGen collector); all three follow this description.
//
//   1. build: a hash table of CACHE_ENTRIES entries (default 1,800,000: about 1 GB of live data,
//      printed as live_mb). Entry i is {next, key, value, checksum, value_len, version} (40 bytes),
//      its key the 14-character string "key:%010u" of i (15 bytes with the NUL), its value
//      value_len(i, version) bytes, 256..768 (mean 512), filled by value_fill from a seed of
//      (i, version); checksum = value_checksum(value). The table is an array of 2^k chain heads
//      (2^k >= entries), chained by next, indexed by the key's 64-bit FNV-1a hash.
//   2. serve, for CACHE_SECONDS seconds (default 10): request r = 1, 2, ... asks for entry
//      id = xorshift64() % entries (uniform). A request allocates only short-lived memory:
//        - its text, "GET /cache/key:0001234567?fields=value,version&trace=<r> HTTP/1.1";
//        - the parse: a request object {method, path, key, params, protocol}, each a new string,
//          and the query as a list of {next, name, value} nodes with new strings (12 objects);
//        - a response buffer, "HTTP/1.1 200 OK\r\nContent-Length: <n>\r\nX-Version: <v>\r\n\r\n"
//          followed by a copy of the value.
//      The response's body must have the entry's checksum and the parse must give back r (else
//      "cache: VERIFY FAILED" and exit 1). Every CACHE_UPDATE_EVERY-th request (default 100)
//      then replaces the entry it served with a new one (new entry, key and value, version + 1),
//      linked in place of the old: an old object now points to a young one.
//      BENCH_FREES_MEMORY builds free every temporary and every replaced entry.
//   3. verify: every chain is walked; each entry must be in its hash's chain, once, with the
//      version last given to it and the value regenerated from (id, version) byte for byte, and
//      there must be exactly CACHE_ENTRIES of them (else VERIFY FAILED, exit 1).
// A request's latency is the difference of consecutive CLOCK_MONOTONIC readings (so every pause,
// assist or barrier slow path lands in some request), recorded in bench/latency.h's histogram.
//
// In the Shade build (BENCH_BARRIER is set) every pointer store into a Shade object goes through
// the write barrier, shade_write (bench_store), initialising stores and stores into the table
// included; shade_init is told so, and the one binary runs in every SHADE_MODE.
//
// stdout: a human-readable summary, ending with "verified <n> entries". stderr: the BENCH line of
// bench/allocator.h with these fields: entries, live_mb (nominal live data: entries, keys, values
// and the table, in MiB), seconds, build_s, requests, requests_per_s, updates, p50_ns, p99_ns,
// p999_ns, max_ns, over_1ms, verified; for Shade also mode, concurrent_cycles, mark_assist_ns,
// mark_worker_ns, heap_live_mb, heap_peak_mb. bench/cache/run.sh parses it.
// CACHE_SLOW_LOG_MS=x prints every request of x ms or more with the time it ended since start.
// CACHE_TEST_CORRUPT=1 damages one value before the verification, which must then fail.
#if defined(BENCH_SHADE) && !defined(BENCH_BARRIER)
#define BENCH_BARRIER 1
#endif

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allocator.h"
#include "latency.h"

struct entry {
  struct entry *next; // the hash chain
  char *key;          // "key:%010u"
  uint8_t *value;     // value_len bytes, no pointers
  uint64_t checksum;  // value_checksum(value, value_len)
  uint32_t value_len;
  uint32_t version; // 0 when built, +1 at each replacement
};
_Static_assert(sizeof(struct entry) == 40, "a cache entry is 40 bytes");

struct param {
  struct param *next;
  char *name;
  char *value;
};

struct request {
  char *method;
  char *path;
  char *key;
  struct param *params;
  char *protocol;
};

enum {
  KEY_LENGTH = 14, // "key:" and 10 digits
  VALUE_MIN = 256,
  VALUE_SPREAD = 513, // value_len in VALUE_MIN .. VALUE_MIN + VALUE_SPREAD - 1
  HEADER_MAX = 64,
};

// ---- The deterministic parts, identical in cache.go and cache.cs ----

static uint64_t mix64(uint64_t x) { // splitmix64's finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9u;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebu;
  return x ^ (x >> 31);
}

static uint64_t value_seed(uint32_t id, uint32_t version) {
  return mix64((((uint64_t)id << 32) | version) + 0x9e3779b97f4a7c15u);
}

static uint32_t value_length(uint64_t seed) { return VALUE_MIN + (uint32_t)(seed % VALUE_SPREAD); }

static uint64_t xorshift64(uint64_t *state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *state = x;
}

// The value: xorshift64 words from the seed, little-endian, the last one cut to length.
static void value_fill(uint8_t *value, uint32_t length, uint64_t seed) {
  uint64_t state = seed | 1;
  for (uint32_t i = 0; i < length; i += 8) {
    uint64_t word = xorshift64(&state);
    for (uint32_t j = 0; j < 8 && i + j < length; j++)
      value[i + j] = (uint8_t)(word >> (8 * j));
  }
}

static uint64_t value_checksum(const uint8_t *value, uint32_t length) {
  uint64_t h = length;
  for (uint32_t i = 0; i < length; i += 8) {
    uint64_t word = 0;
    if (i + 8 <= length) {
      memcpy(&word, value + i, 8); // little-endian (x86-64)
    } else {
      for (uint32_t j = 0; i + j < length; j++)
        word |= (uint64_t)value[i + j] << (8 * j);
    }
    h ^= word;
    h = (h << 29) | (h >> 35);
    h *= 0x9e3779b97f4a7c15u;
  }
  return h ^ (h >> 32);
}

static uint64_t fnv1a(const char *s) {
  uint64_t h = 0xcbf29ce484222325u;
  for (; *s != '\0'; s++) {
    h ^= (uint8_t)*s;
    h *= 0x100000001b3u;
  }
  return h;
}

// ---- The cache ----

static struct entry **table; // chain heads, a heap object of the allocator under test
static uint64_t table_mask;
static uint32_t *versions; // the version each entry should have (malloc'd, not scanned)

static char *put_decimal(char *out, uint64_t n, int width) {
  char digits[24];
  int count = 0;
  do {
    digits[count++] = (char)('0' + n % 10);
    n /= 10;
  } while (n != 0);
  while (count < width)
    digits[count++] = '0';
  while (count > 0)
    *out++ = digits[--count];
  return out;
}

static struct entry *new_entry(uint32_t id, uint32_t version) {
  uint64_t seed = value_seed(id, version);
  uint32_t length = value_length(seed);
  char *key = bench_alloc_atomic(KEY_LENGTH + 1);
  memcpy(key, "key:", 4);
  *put_decimal(key + 4, id, 10) = '\0';
  uint8_t *value = bench_alloc_atomic(length);
  value_fill(value, length, seed);
  struct entry *e = bench_alloc(sizeof *e);
  bench_store(e, e->next, NULL);
  bench_store(e, e->key, key);
  bench_store(e, e->value, value);
  e->checksum = value_checksum(value, length);
  e->value_len = length;
  e->version = version;
  return e;
}

#if BENCH_FREES_MEMORY
static void delete_entry(struct entry *e) {
  bench_free(e->key);
  bench_free(e->value);
  bench_free(e);
}
#endif

// ---- A request ----

static char *copy_token(const char *start, size_t length) {
  char *s = bench_alloc_atomic(length + 1);
  memcpy(s, start, length);
  s[length] = '\0';
  return s;
}

static char *request_text(uint32_t id, uint64_t number) {
  static const char head[] = "GET /cache/key:";
  static const char middle[] = "?fields=value,version&trace=";
  static const char tail[] = " HTTP/1.1";
  char *text = bench_alloc_atomic(sizeof head + sizeof middle + sizeof tail + 32);
  char *p = text;
  memcpy(p, head, sizeof head - 1);
  p = put_decimal(p + sizeof head - 1, id, 10);
  memcpy(p, middle, sizeof middle - 1);
  p = put_decimal(p + sizeof middle - 1, number, 1);
  memcpy(p, tail, sizeof tail);
  return text;
}

// Parses "METHOD PATH[?name=value&...] PROTOCOL" into new objects; NULL if malformed.
static struct request *parse_request(const char *text) {
  const char *space = strchr(text, ' ');
  if (space == NULL)
    return NULL;
  struct request *request = bench_alloc(sizeof *request);
  bench_store(request, request->method, copy_token(text, (size_t)(space - text)));
  const char *path = space + 1;
  const char *path_end = path + strcspn(path, "? ");
  bench_store(request, request->path, copy_token(path, (size_t)(path_end - path)));
  const char *slash = path_end;
  while (slash > path && slash[-1] != '/')
    slash--;
  bench_store(request, request->key, copy_token(slash, (size_t)(path_end - slash)));
  bench_store(request, request->params, NULL);
  const char *p = path_end;
  struct param *last = NULL;
  if (*p == '?') {
    do {
      p++;
      const char *equals = p + strcspn(p, "=& ");
      const char *end = equals + strcspn(equals, "& ");
      struct param *param = bench_alloc(sizeof *param);
      bench_store(param, param->next, NULL);
      bench_store(param, param->name, copy_token(p, (size_t)(equals - p)));
      const char *value = *equals == '=' ? equals + 1 : equals;
      bench_store(param, param->value, copy_token(value, (size_t)(end - value)));
      if (last == NULL)
        bench_store(request, request->params, param);
      else
        bench_store(last, last->next, param);
      last = param;
      p = end;
    } while (*p == '&');
  }
  if (*p != ' ') {
    bench_store(request, request->protocol, NULL);
    return request;
  }
  bench_store(request, request->protocol, copy_token(p + 1, strlen(p + 1)));
  return request;
}

static void delete_request(struct request *request) {
#if BENCH_FREES_MEMORY
  struct param *param = request->params;
  while (param != NULL) {
    struct param *next = param->next;
    bench_free(param->name);
    bench_free(param->value);
    bench_free(param);
    param = next;
  }
  bench_free(request->method);
  bench_free(request->path);
  bench_free(request->key);
  bench_free(request->protocol);
  bench_free(request);
#else
  (void)request; // the collector reclaims it
#endif
}

static const char *param_value(const struct request *request, const char *name) {
  for (const struct param *p = request->params; p != NULL; p = p->next)
    if (strcmp(p->name, name) == 0)
      return p->value;
  return NULL;
}

static BENCH_NOINLINE void verify_failed(const char *fmt, uint64_t a, uint64_t b) {
  fflush(stdout);
  fprintf(stderr, "cache: VERIFY FAILED (%s): ", BENCH_ALLOCATOR_NAME);
  fprintf(stderr, fmt, a, b);
  fputc('\n', stderr);
  exit(1);
}

// Serves request number `number` for entry `id`; returns the bytes of the response.
static size_t serve(uint32_t id, uint64_t number, uint32_t update_every) {
  char *text = request_text(id, number);
  struct request *request = parse_request(text);
  if (request == NULL || request->protocol == NULL || strcmp(request->method, "GET") != 0 ||
      strcmp(request->protocol, "HTTP/1.1") != 0)
    verify_failed("request %" PRIu64 " (entry %" PRIu64 ") did not parse", number, id);
  const char *trace = param_value(request, "trace");
  if (trace == NULL || strtoull(trace, NULL, 10) != number)
    verify_failed("request %" PRIu64 " (entry %" PRIu64 "): wrong trace parameter", number, id);

  uint64_t hash = fnv1a(request->key);
  struct entry *previous = NULL, *e = table[hash & table_mask];
  while (e != NULL && strcmp(e->key, request->key) != 0) {
    previous = e;
    e = e->next;
  }
  if (e == NULL)
    verify_failed("request %" PRIu64 ": entry %" PRIu64 " not found", number, id);

  static const char status[] = "HTTP/1.1 200 OK\r\nContent-Length: ";
  char *response = bench_alloc_atomic(HEADER_MAX + e->value_len);
  char *p = response;
  memcpy(p, status, sizeof status - 1);
  p = put_decimal(p + sizeof status - 1, e->value_len, 1);
  memcpy(p, "\r\nX-Version: ", 13);
  p = put_decimal(p + 13, e->version, 1);
  memcpy(p, "\r\n\r\n", 4);
  p += 4;
  memcpy(p, e->value, e->value_len);
  if (value_checksum((const uint8_t *)p, e->value_len) != e->checksum)
    verify_failed("request %" PRIu64 ": entry %" PRIu64 "'s value does not match its checksum",
                  number, id);
  size_t bytes = (size_t)(p - response) + e->value_len;

  if (number % update_every == 0) { // replace the entry: a new one, linked where the old one was
    struct entry *fresh = new_entry(id, ++versions[id]);
    bench_store(fresh, fresh->next, e->next);
    if (previous == NULL)
      bench_store(table, table[hash & table_mask], fresh);
    else
      bench_store(previous, previous->next, fresh);
#if BENCH_FREES_MEMORY
    delete_entry(e);
#endif
  }
  delete_request(request);
  bench_free(text);
  bench_free(response);
  return bytes;
}

// ---- Verification ----

static size_t verify_all(uint64_t entries) {
  uint8_t *seen = calloc(entries, 1);
  uint8_t *expected = malloc(VALUE_MIN + VALUE_SPREAD);
  if (seen == NULL || expected == NULL) {
    fprintf(stderr, "cache: out of memory for the verification\n");
    exit(2);
  }
  size_t count = 0;
  for (uint64_t bucket = 0; bucket <= table_mask; bucket++) {
    for (const struct entry *e = table[bucket]; e != NULL; e = e->next) {
      char *end;
      if (e->key == NULL || strncmp(e->key, "key:", 4) != 0 || strlen(e->key) != KEY_LENGTH)
        verify_failed("bucket %" PRIu64 ": a malformed key (entry %" PRIu64 " of the walk)",
                      bucket, count);
      uint64_t id = strtoull(e->key + 4, &end, 10);
      if (*end != '\0' || id >= entries)
        verify_failed("bucket %" PRIu64 ": key of an unknown entry %" PRIu64, bucket, id);
      if ((fnv1a(e->key) & table_mask) != bucket)
        verify_failed("entry %" PRIu64 " in the wrong chain %" PRIu64, id, bucket);
      if (seen[id]++)
        verify_failed("entry %" PRIu64 " twice in the table (bucket %" PRIu64 ")", id, bucket);
      if (e->version != versions[id])
        verify_failed("entry %" PRIu64 ": an old version (%" PRIu64 ")", id, e->version);
      uint64_t seed = value_seed((uint32_t)id, e->version);
      uint32_t length = value_length(seed);
      value_fill(expected, length, seed);
      if (e->value_len != length || memcmp(e->value, expected, length) != 0)
        verify_failed("entry %" PRIu64 ": wrong value (version %" PRIu64 ")", id, e->version);
      if (value_checksum(e->value, length) != e->checksum)
        verify_failed("entry %" PRIu64 ": wrong checksum (version %" PRIu64 ")", id, e->version);
      count++;
    }
  }
  if (count != entries)
    verify_failed("%" PRIu64 " entries in the table, expected %" PRIu64, count, entries);
  free(seen);
  free(expected);
  return count;
}

static double env_number(const char *name, double fallback, double min, double max) {
  const char *text = getenv(name);
  if (text == NULL || *text == '\0')
    return fallback;
  char *end;
  errno = 0;
  double value = strtod(text, &end);
  if (errno != 0 || *end != '\0' || !(value >= min && value <= max)) {
    fprintf(stderr, "cache: %s=%s: expected a number in [%g, %g]\n", name, text, min, max);
    exit(2);
  }
  return value;
}

int main(void) {
  bench_start();

  uint64_t entries = (uint64_t)env_number("CACHE_ENTRIES", 1800000, 1, 4000000000.0);
  double seconds = env_number("CACHE_SECONDS", 10, 0.001, 86400);
  uint32_t update_every = (uint32_t)env_number("CACHE_UPDATE_EVERY", 100, 1, 1e9);
  double slow_log_ms = env_number("CACHE_SLOW_LOG_MS", 0, 0, 1e9);

  struct latency latency;
  latency_init(&latency);
  versions = calloc(entries, sizeof *versions);
  if (versions == NULL) {
    fprintf(stderr, "cache: out of memory for the versions\n");
    return 2;
  }

  // Build.
  uint64_t build_start = latency_now_ns();
  uint64_t buckets = 1;
  while (buckets < entries)
    buckets *= 2;
  table_mask = buckets - 1;
  table = bench_alloc(buckets * sizeof *table);
  for (uint64_t i = 0; i < buckets; i++)
    bench_store(table, table[i], NULL);
  uint64_t live_bytes = buckets * sizeof *table;
  for (uint64_t id = 0; id < entries; id++) {
    struct entry *e = new_entry((uint32_t)id, 0);
    uint64_t bucket = fnv1a(e->key) & table_mask;
    bench_store(e, e->next, table[bucket]);
    bench_store(table, table[bucket], e);
    live_bytes += sizeof *e + KEY_LENGTH + 1 + e->value_len;
  }
  double build_s = (double)(latency_now_ns() - build_start) * 1e-9;
  double live_mb = (double)live_bytes / (1024.0 * 1024.0);

  // Serve.
  uint64_t rng = 88172645463325252u; // Marsaglia's seed
  uint64_t requests = 0, response_bytes = 0;
  uint64_t start = latency_now_ns();
  uint64_t end = start + (uint64_t)(seconds * 1e9);
  uint64_t previous = start, now = start;
  do {
    uint32_t id = (uint32_t)(xorshift64(&rng) % entries);
    response_bytes += serve(id, ++requests, update_every);
    now = latency_now_ns();
    latency_record(&latency, now - previous, now);
    previous = now;
  } while (now < end);
  double elapsed_s = (double)(now - start) * 1e-9;

  // CACHE_TEST_CORRUPT=1 flips one byte of one value first: the verification must catch it
  // (how the run scripts' FAILED path is tested).
  if (env_number("CACHE_TEST_CORRUPT", 0, 0, 1) != 0)
    for (uint64_t bucket = 0; bucket <= table_mask; bucket++)
      if (table[bucket] != NULL) {
        table[bucket]->value[0] ^= 1;
        break;
      }
  size_t verified = verify_all(entries);

  if (slow_log_ms > 0) {
    uint64_t program_start = (uint64_t)bench_start_time.tv_sec * 1000000000u +
                             (uint64_t)bench_start_time.tv_nsec;
    for (size_t i = 0; i < latency.slow_count; i++)
      if ((double)latency.slow[i] >= slow_log_ms * 1e6)
        fprintf(stderr, "cache: slow request ended @%.3fs: %.3f ms\n",
                (double)(latency.slow_end[i] - program_start) * 1e-9,
                (double)latency.slow[i] / 1e6);
  }
  latency_finish(&latency);
  uint64_t p50 = latency_quantile(&latency, 0.50), p99 = latency_quantile(&latency, 0.99);
  uint64_t p999 = latency_quantile(&latency, 0.999), max_ns = latency_max(&latency);
  double requests_per_s = (double)requests / elapsed_s;
  uint64_t updates = requests / update_every;

  printf("cache (%s): %" PRIu64 " entries, %.1f MB live, built in %.2f s\n", BENCH_ALLOCATOR_NAME,
         entries, live_mb, build_s);
  printf("  %" PRIu64 " requests (%" PRIu64 " replacements) in %.2f s: %.0f requests/s, %.1f MB"
         " served\n",
         requests, updates, elapsed_s, requests_per_s, (double)response_bytes / (1024.0 * 1024.0));
  printf("  latency: p50 %.2f us, p99 %.2f us, p99.9 %.2f us, slowest %.3f ms, %zu over 1 ms\n",
         (double)p50 / 1e3, (double)p99 / 1e3, (double)p999 / 1e3, (double)max_ns / 1e6,
         latency.slow_count);
  printf("  verified %zu entries\n", verified);

  char extra[640];
  int length = snprintf(extra, sizeof extra,
                        " entries=%" PRIu64 " live_mb=%.1f seconds=%.3f build_s=%.3f"
                        " requests=%" PRIu64 " requests_per_s=%.0f updates=%" PRIu64
                        " p50_ns=%" PRIu64 " p99_ns=%" PRIu64 " p999_ns=%" PRIu64
                        " max_ns=%" PRIu64 " over_1ms=%zu verified=%zu",
                        entries, live_mb, elapsed_s, build_s, requests, requests_per_s, updates,
                        p50, p99, p999, max_ns, latency.slow_count, verified);
#if defined(BENCH_SHADE)
  struct shade_stats stats;
  shade_get_stats(&stats);
  static const char *const mode_names[] = {"default", "stw", "incremental", "concurrent"};
  const char *mode = (stats.mode >= 0 && stats.mode <= 3) ? mode_names[stats.mode] : "unknown";
  printf("  shade: mode %s, longest stop-the-world pause %.3f ms, %" PRIu64 " cycles (%" PRIu64
         " concurrent), heap live %.1f MB, committed peak %.1f MB\n",
         mode, (double)stats.pause_max_ns / 1e6, (uint64_t)stats.cycles,
         (uint64_t)stats.concurrent_cycles, (double)stats.heap_live / (1024.0 * 1024.0),
         (double)stats.heap_committed_peak / (1024.0 * 1024.0));
  if (length > 0 && (size_t)length < sizeof extra)
    snprintf(extra + length, sizeof extra - (size_t)length,
             " mode=%s concurrent_cycles=%" PRIu64 " mark_assist_ns=%" PRIu64
             " mark_worker_ns=%" PRIu64 " heap_live_mb=%.1f heap_peak_mb=%.1f generational=%d"
             " young_collections=%" PRIu64 " full_collections=%" PRIu64
             " young_pause_max_ns=%" PRIu64 " full_pause_max_ns=%" PRIu64,
             mode, (uint64_t)stats.concurrent_cycles, (uint64_t)stats.mark_assist_ns,
             (uint64_t)stats.mark_worker_ns, (double)stats.heap_live / (1024.0 * 1024.0),
             (double)stats.heap_committed_peak / (1024.0 * 1024.0), stats.generational,
             (uint64_t)(stats.collections[0] - stats.collections[2]),
             (uint64_t)stats.collections[2], (uint64_t)stats.young_pause_max_ns,
             (uint64_t)stats.full_pause_max_ns);
#else
  (void)length;
#endif

#if BENCH_FREES_MEMORY
  for (uint64_t bucket = 0; bucket <= table_mask; bucket++) {
    struct entry *e = table[bucket];
    while (e != NULL) {
      struct entry *next = e->next;
      delete_entry(e);
      e = next;
    }
  }
  bench_free(table);
#endif
  free(versions);
  latency_free(&latency);
  bench_finish(extra);
  return 0;
}
