// test_alloc_during_mark.c (conc_alloc_during_mark_concurrent, _incremental): objects allocated
// while a marking is under way (allocated black) are linked into the live structure, take over
// references from older objects, and must all survive, with their contents.
//
// ALLOC_THREADS threads each keep a bag (a conservative Shade object) of CHAINS chains of items,
// at most MAX_LENGTH long, and change them constantly while cycles run back to back (small heap
// goal, SHADE_GC_PERCENT 10): push a new item at the head; replace the head by a new item that
// takes over the old head's successor (the old head's link then cleared, so the black new item
// holds the only reference to a maybe-white older one); insert a new item in the middle;
// grow an item with shade_realloc (the copy of its pointer words is the collector's job: the
// old item is unlinked afterwards, so if the copy was not shaded the rest of the chain is lost);
// build a whole chain of new items known only to this thread's stack, allocate a lot, and only
// then link it in; swap chains; drop chains.
//
// Items come in every kind and many sizes: conservative (shade_malloc, shade_calloc), typed with
// a pointer bitmap and typed with a trace callback, from 56 bytes to about 100 KiB (large objects are
// over 32 KiB). Each item points to a blob: atomic (shade_malloc_atomic, 1 byte to 70 KiB, tiny
// ones packed in shared blocks, or shade_strdup), filled with a pattern of the item's key.
// Every item's header (magic, key, shape, check), its payload pattern and its blob are checked:
// sampled on each walk, every byte in periodic full checks and at the end.
#include "conc_test.h"

enum { ALLOC_THREADS = 3, CHAINS = 64, MAX_LENGTH = 12, FULL_CHECK_EVERY = 20000 };

#define ITEM_MAGIC 0xF17E3F17E3F17E3Full
#define BAG_MAGIC 0xFBA6FBA6FBA6FBA6ull

enum item_kind { IK_PLAIN, IK_CALLOC, IK_BITMAP, IK_TRACE, IK_KINDS };
static const char *const item_kind_names[IK_KINDS] = {"shade_malloc", "shade_calloc",
                                                      "typed bitmap", "typed trace"};

struct item {
  uint64_t magic;
  uint64_t key;       // tagged, unique
  uint64_t shape;     // tagged: size << 8 | kind
  uint64_t check;     // conc_hash(key ^ shape)
  struct item *next;  // word 4
  unsigned char *blob; // word 5: atomic, filled from the key
  uint64_t blob_size; // tagged
  // then the payload up to `size`: shade_test_pattern_byte(key, offset) at each byte offset
};

static const uint64_t item_bitmap[1] = {0x30}; // words 4 and 5 of every 7-word element
static const struct shade_type item_bitmap_type = {"item (bitmap)", sizeof(struct item),
                                                   item_bitmap, NULL, 0};

// Runs on marking threads, in parallel with the mutators in concurrent mode: it reads the two
// pointer words as the collector reads conservative objects, without synchronisation (hence no
// TSan instrumentation here; the collector's own scanning is not instrumented either).
// It runs while the program writes the fields it reads (documented in shade.h).
CONC_NO_TSAN static void trace_item(void *object, size_t object_size, shade_visit_fn visit, void *context) {
  if (object_size < sizeof(struct item))
    return;
  struct item *volatile *words = (struct item *volatile *)object;
  void *next = words[4], *blob = words[5];
  if (next != NULL)
    visit(next, context);
  if (blob != NULL)
    visit(blob, context);
}
static const struct shade_type item_trace_type = {"item (trace)", 8, NULL, trace_item, 0};

struct bag {
  uint64_t magic;
  struct item *chain[CHAINS];
};

struct alloc_thread {
  int index;
  uint64_t rng;
  uint64_t length[CHAINS];
  uint64_t keys[CHAINS][MAX_LENGTH + 1]; // expected keys of each chain, head first
  long ops, pushes, replaced_heads, inserts, reallocs, off_heap_chains, swaps, drops, large_items,
      large_blobs, full_checks, items_checked;
};

static struct alloc_thread alloc_state[ALLOC_THREADS];
static struct bag *bags[ALLOC_THREADS]; // global: SHADE_STORE
static atomic_ullong next_key;
static atomic_long bad_items;
static atomic_int stop;

// ---------------------------------------------------------------------------------------------
// Items

static size_t item_size(const struct item *it) { return (size_t)((it->shape & ~CONC_TAG) >> 8); }
static int item_kind(const struct item *it) { return (int)(it->shape & 0xFF); }

static size_t random_item_size(uint64_t *rng, int *large) {
  uint64_t r = shade_test_random(rng) % 1000;
  *large = r >= 975;
  if (r < 850)
    return (size_t)shade_test_random_between(rng, sizeof(struct item), 600);
  if (r < 975)
    return (size_t)shade_test_random_between(rng, 601, 8000);
  return (size_t)shade_test_random_between(rng, 32769, 100000);
}

static size_t random_blob_size(uint64_t *rng, int *large) {
  uint64_t r = shade_test_random(rng) % 1000;
  *large = r >= 985;
  if (r < 600)
    return (size_t)shade_test_random_between(rng, 1, 40); // the tiny allocator's range, and more
  if (r < 985)
    return (size_t)shade_test_random_between(rng, 41, 5000);
  return (size_t)shade_test_random_between(rng, 32769, 70000);
}

static size_t round_up(size_t n, size_t unit) { return (n + unit - 1) / unit * unit; }

static void fill_payload(struct item *it, size_t from, size_t to, uint64_t key) {
  unsigned char *bytes = (unsigned char *)it;
  for (size_t i = from; i < to; i++)
    bytes[i] = shade_test_pattern_byte(key, i);
}

static void seal(struct item *it, size_t size, int kind) {
  it->shape = CONC_TAG | (uint64_t)size << 8 | (uint64_t)kind;
  it->check = conc_hash(it->key ^ it->shape);
}

static void fail_item(struct alloc_thread *at, const char *where, const struct item *it,
                      const char *what, uint64_t seen, uint64_t expected) {
  if (atomic_fetch_add(&bad_items, 1) < 20) {
    int known = it != NULL && it->magic == ITEM_MAGIC && item_kind(it) < IK_KINDS;
    fprintf(stderr,
            "thread %d (%s): item %p (%s, %zu bytes, blob %p): %s: saw %#" PRIx64
            ", expected %#" PRIx64 " (shade_base %p, shade_size %zu)\n",
            at ? at->index : -1, where, (const void *)it,
            known ? item_kind_names[item_kind(it)] : "?", known ? item_size(it) : 0,
            known ? (void *)it->blob : NULL, what, seen, expected, it ? shade_base(it) : NULL,
            it ? shade_size(it) : 0);
  }
}

// A new item, not linked anywhere; `next` becomes its successor.
static struct item *new_item(struct alloc_thread *at, struct item *next) {
  int large = 0, large_blob = 0;
  size_t size = random_item_size(&at->rng, &large);
  int kind = (int)(shade_test_random(&at->rng) % IK_KINDS);
  struct item *it;
  switch (kind) {
  case IK_PLAIN:
    it = shade_malloc(size);
    break;
  case IK_CALLOC:
    it = shade_calloc(1, size);
    break;
  case IK_BITMAP:
    size = round_up(size, sizeof(struct item));
    it = shade_malloc_typed(size, &item_bitmap_type);
    break;
  default:
    size = round_up(size, 8);
    it = shade_malloc_typed(size, &item_trace_type);
    break;
  }
  if (it == NULL) {
    fprintf(stderr, "out of memory (%zu bytes)\n", size);
    abort();
  }
  at->large_items += large;
  it->magic = ITEM_MAGIC;
  it->key = CONC_TAG | atomic_fetch_add(&next_key, 1);
  fill_payload(it, sizeof *it, size, it->key);
  seal(it, size, kind);

  // the blob
  unsigned char *blob;
  size_t blob_size;
  if (shade_test_random(&at->rng) % 10 == 0) {
    char text[200];
    blob_size = (size_t)shade_test_random_between(&at->rng, 1, sizeof text - 1);
    for (size_t i = 0; i < blob_size; i++)
      text[i] = (char)shade_test_pattern_byte(it->key, i);
    text[blob_size] = '\0';
    blob = (unsigned char *)shade_strdup(text);
  } else {
    blob_size = random_blob_size(&at->rng, &large_blob);
    blob = shade_malloc_atomic(blob_size);
    if (blob != NULL)
      shade_test_fill(blob, blob_size, it->key);
  }
  if (blob == NULL) {
    fprintf(stderr, "out of memory (blob of %zu bytes)\n", blob_size);
    abort();
  }
  at->large_blobs += large_blob;
  it->blob_size = CONC_TAG | blob_size;
  shade_write(it, (void **)&it->blob, blob);
  shade_write(it, (void **)&it->next, next);
  return it;
}

static int bytes_match(const unsigned char *bytes, uint64_t key, size_t from, size_t to,
                       size_t base_offset, size_t *bad_at) {
  for (size_t i = from; i < to; i++)
    if (bytes[i] != shade_test_pattern_byte(key, i + base_offset)) {
      *bad_at = i;
      return 0;
    }
  return 1;
}

// Checks an item's header, and its payload and blob: all bytes when `full`, else both ends
// and a random stretch.
static int check_item(struct alloc_thread *at, const struct item *it, uint64_t key, int full,
                      const char *where) {
  if (it == NULL) {
    fail_item(at, where, it, "missing item", 0, key);
    return 0;
  }
  uint64_t magic = it->magic, seen_key = it->key, shape = it->shape, check = it->check;
  if (magic != ITEM_MAGIC) {
    fail_item(at, where, it, "magic", magic, ITEM_MAGIC);
    return 0;
  }
  if (seen_key != key) {
    fail_item(at, where, it, "key", seen_key, key);
    return 0;
  }
  if (check != conc_hash(seen_key ^ shape)) {
    fail_item(at, where, it, "check word", check, conc_hash(seen_key ^ shape));
    return 0;
  }
  size_t size = item_size(it);
  if (shade_base(it) != it || shade_size(it) < size) {
    fail_item(at, where, it, "not a live object of its size", shade_size(it), size);
    return 0;
  }
  const unsigned char *bytes = (const unsigned char *)it;
  size_t bad_at = 0;
  size_t lo = sizeof *it, hi = size;
  int ok;
  if (full || hi - lo <= 256) {
    ok = bytes_match(bytes, key, lo, hi, 0, &bad_at);
  } else {
    size_t mid = lo + (size_t)(shade_test_random(&at->rng) % (hi - lo - 64));
    ok = bytes_match(bytes, key, lo, lo + 64, 0, &bad_at) &&
         bytes_match(bytes, key, hi - 64, hi, 0, &bad_at) &&
         bytes_match(bytes, key, mid, mid + 64, 0, &bad_at);
  }
  if (!ok) {
    fail_item(at, where, it, "payload byte", bytes[bad_at], shade_test_pattern_byte(key, bad_at));
    return 0;
  }
  const unsigned char *blob = it->blob;
  size_t blob_size = (size_t)(it->blob_size & ~CONC_TAG);
  if (blob == NULL || shade_size(blob) < blob_size) {
    fail_item(at, where, it, blob == NULL ? "blob missing" : "blob not live",
              blob ? shade_size(blob) : 0, blob_size);
    return 0;
  }
  if (full || blob_size <= 256) {
    ok = bytes_match(blob, key, 0, blob_size, 0, &bad_at);
  } else {
    size_t mid = (size_t)(shade_test_random(&at->rng) % (blob_size - 64));
    ok = bytes_match(blob, key, 0, 64, 0, &bad_at) &&
         bytes_match(blob, key, blob_size - 64, blob_size, 0, &bad_at) &&
         bytes_match(blob, key, mid, mid + 64, 0, &bad_at);
  }
  if (!ok) {
    fail_item(at, where, it, "blob byte", blob[bad_at], shade_test_pattern_byte(key, bad_at));
    return 0;
  }
  at->items_checked++;
  return 1;
}

// Walks chain c, checking every item; returns the item at position `want` (or NULL).
static struct item *walk(struct alloc_thread *at, struct bag *bag, int c, uint64_t want, int full,
                         const char *where) {
  struct item *it = bag->chain[c], *wanted = NULL;
  uint64_t n = 0;
  for (; it != NULL && n < at->length[c]; it = it->next, n++) {
    if (!check_item(at, it, at->keys[c][n], full, where))
      return NULL;
    if (n == want)
      wanted = it;
  }
  if (n != at->length[c] || it != NULL) {
    fail_item(at, where, it, "chain length", n, at->length[c]);
    return NULL;
  }
  return wanted;
}

static struct bag *check_bag(struct alloc_thread *at, struct bag *bag) {
  if (bag->magic != BAG_MAGIC)
    fail_item(at, "bag", NULL, "bag magic", bag->magic, BAG_MAGIC);
  return bag;
}

// ---------------------------------------------------------------------------------------------
// Operations on chain c

static void cut_to_max(struct alloc_thread *at, struct bag *bag, int c) {
  if (at->length[c] <= MAX_LENGTH)
    return;
  struct item *last = walk(at, bag, c, MAX_LENGTH - 1, 0, "cut");
  if (last != NULL)
    shade_write(last, (void **)&last->next, NULL);
  at->length[c] = MAX_LENGTH;
}

static void push(struct alloc_thread *at, struct bag *bag, int c) {
  struct item *it = new_item(at, bag->chain[c]);
  shade_write(bag, (void **)&bag->chain[c], it);
  memmove(&at->keys[c][1], &at->keys[c][0], at->length[c] * sizeof(uint64_t));
  at->keys[c][0] = it->key;
  at->length[c]++;
  cut_to_max(at, bag, c);
  at->pushes++;
}

static void replace_head(struct alloc_thread *at, struct bag *bag, int c) {
  struct item *head = walk(at, bag, c, 0, 0, "replace head");
  if (head == NULL)
    return;
  struct item *it = new_item(at, head->next);
  shade_write(bag, (void **)&bag->chain[c], it);
  shade_write(head, (void **)&head->next, NULL); // the new item holds the only link now
  at->keys[c][0] = it->key;
  at->replaced_heads++;
}

static void insert(struct alloc_thread *at, struct bag *bag, int c) {
  uint64_t k = shade_test_random(&at->rng) % at->length[c];
  struct item *before = walk(at, bag, c, k, 0, "insert");
  if (before == NULL)
    return;
  struct item *it = new_item(at, before->next);
  shade_write(before, (void **)&before->next, it);
  memmove(&at->keys[c][k + 2], &at->keys[c][k + 1], (at->length[c] - k - 1) * sizeof(uint64_t));
  at->keys[c][k + 1] = it->key;
  at->length[c]++;
  cut_to_max(at, bag, c);
  at->inserts++;
}

// Grows the item at a random position with shade_realloc and links the result in its place.
static void grow(struct alloc_thread *at, struct bag *bag, int c) {
  uint64_t k = shade_test_random(&at->rng) % at->length[c];
  struct item *before = k > 0 ? walk(at, bag, c, k - 1, 0, "grow") : NULL;
  if (k > 0 && before == NULL)
    return;
  struct item *it = k > 0 ? before->next : bag->chain[c];
  if (!check_item(at, it, at->keys[c][k], 0, "grow (before)"))
    return;
  size_t old_size = item_size(it);
  int kind = item_kind(it);
  if (old_size > 48000)
    return; // large enough
  size_t new_size = old_size + (size_t)shade_test_random_between(&at->rng, 1, 3000);
  if (shade_test_random(&at->rng) % 20 == 0)
    new_size = old_size + 40000; // into the large objects
  if (kind == IK_BITMAP)
    new_size = round_up(new_size, sizeof(struct item));
  else if (kind == IK_TRACE)
    new_size = round_up(new_size, 8);
  struct item *grown = shade_realloc(it, new_size);
  if (grown == NULL) {
    fprintf(stderr, "shade_realloc to %zu bytes failed\n", new_size);
    abort();
  }
  it = NULL;
  // the copy must carry everything over: header, payload, and the two pointers
  if (grown->magic != ITEM_MAGIC || grown->key != at->keys[c][k] || item_size(grown) != old_size)
    fail_item(at, "grow (copy)", grown, "header after shade_realloc", grown->key, at->keys[c][k]);
  fill_payload(grown, old_size, new_size, grown->key);
  seal(grown, new_size, kind);
  if (k > 0)
    shade_write(before, (void **)&before->next, grown);
  else
    shade_write(bag, (void **)&bag->chain[c], grown);
  at->reallocs++;
}

// A chain of new items built while only this stack knows it, linked in after a lot of
// allocation (cycles begin and end meanwhile); the old chain is dropped.
static SHADE_TEST_NOINLINE void replace_chain_off_heap(struct alloc_thread *at, struct bag *bag,
                                                       int c) {
  uint64_t length = shade_test_random_between(&at->rng, 1, MAX_LENGTH);
  struct item *head = NULL;
  uint64_t keys[MAX_LENGTH];
  for (uint64_t n = length; n-- > 0;) {
    head = new_item(at, head);
    keys[n] = head->key;
    for (int g = 0; g < 16; g++)
      conc_garbage(&at->rng);
  }
  for (int g = 0; g < 256; g++)
    conc_garbage(&at->rng);
  shade_write(bag, (void **)&bag->chain[c], head);
  memcpy(at->keys[c], keys, length * sizeof(uint64_t));
  at->length[c] = length;
  at->off_heap_chains++;
}

static void swap_chains(struct alloc_thread *at, struct bag *bag, int c, int d) {
  struct item *first = bag->chain[c];
  shade_write(bag, (void **)&bag->chain[c], bag->chain[d]);
  conc_garbage(&at->rng);
  shade_write(bag, (void **)&bag->chain[d], first);
  uint64_t keys[MAX_LENGTH + 1], length = at->length[c];
  memcpy(keys, at->keys[c], sizeof keys);
  memcpy(at->keys[c], at->keys[d], sizeof keys);
  memcpy(at->keys[d], keys, sizeof keys);
  at->length[c] = at->length[d];
  at->length[d] = length;
  at->swaps++;
}

static void full_check(struct alloc_thread *at, struct bag *bag, const char *where) {
  check_bag(at, bag);
  for (int c = 0; c < CHAINS; c++)
    walk(at, bag, c, 0, 1, where);
  at->full_checks++;
}

static void *alloc_worker(void *arg) {
  struct alloc_thread *at = arg;
  struct bag *bag = shade_malloc(sizeof *bag);
  bag->magic = BAG_MAGIC;
  SHADE_STORE(bags[at->index], bag);
  for (int c = 0; c < CHAINS; c++)
    push(at, bag, c);

  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    int c = (int)(shade_test_random(&at->rng) % CHAINS);
    uint64_t r = shade_test_random(&at->rng) % 1000;
    if (at->length[c] == 0 || r < 250) {
      push(at, bag, c);
    } else if (r < 450) {
      replace_head(at, bag, c);
    } else if (r < 600) {
      insert(at, bag, c);
    } else if (r < 700) {
      grow(at, bag, c);
    } else if (r < 720) {
      replace_chain_off_heap(at, bag, c);
    } else if (r < 760) {
      swap_chains(at, bag, c, (int)(shade_test_random(&at->rng) % CHAINS));
    } else if (r < 780) {
      shade_write(bag, (void **)&bag->chain[c], NULL);
      at->length[c] = 0;
      at->drops++;
    } else {
      walk(at, check_bag(at, bag), c, 0, 0, "walk");
    }
    for (int g = 0; g < 4; g++)
      conc_garbage(&at->rng);
    if (++at->ops % FULL_CHECK_EVERY == 0)
      full_check(at, bag, "periodic");
  }
  full_check(at, bag, "at the end");
  return NULL;
}

static void test_objects_allocated_during_marking_survive(void) {
  uint64_t seed = shade_test_seed();
  const uint64_t target_cycles = shade_test_scaled(600, 30);
  fprintf(stderr, "%d threads, %d chains each, waiting for %" PRIu64 " concurrent cycles\n",
          ALLOC_THREADS, CHAINS, target_cycles);
  atomic_store(&next_key, 1);
  struct shade_stats before = shade_test_stats();
  pthread_t threads[ALLOC_THREADS];
  for (int t = 0; t < ALLOC_THREADS; t++) {
    alloc_state[t] = (struct alloc_thread){.index = t, .rng = seed + 0x9E3779B9u * (uint64_t)(t + 1)};
    SHADE_TEST_EXPECT(shade_pthread_create(&threads[t], NULL, alloc_worker, &alloc_state[t]) == 0);
  }
  double start = shade_test_now(), cap = conc_cap(25.0);
  struct shade_stats now = conc_wait_for_cycles(&before, target_cycles, cap);
  atomic_store(&stop, 1);
  for (int t = 0; t < ALLOC_THREADS; t++)
    pthread_join(threads[t], NULL);
  struct shade_stats after = shade_test_stats();

  // After a full collection, every chain again, in full, from here.
  shade_test_collect_clean();
  for (int t = 0; t < ALLOC_THREADS; t++)
    full_check(&alloc_state[t], bags[t], "after the threads ended and a collection");

  long ops = 0, pushes = 0, heads = 0, inserts = 0, reallocs = 0, off_heap = 0, swaps = 0,
       drops = 0, large_items = 0, large_blobs = 0, checked = 0;
  for (int t = 0; t < ALLOC_THREADS; t++) {
    struct alloc_thread *at = &alloc_state[t];
    ops += at->ops, pushes += at->pushes, heads += at->replaced_heads, inserts += at->inserts;
    reallocs += at->reallocs, off_heap += at->off_heap_chains, swaps += at->swaps;
    drops += at->drops, large_items += at->large_items, large_blobs += at->large_blobs;
    checked += at->items_checked;
  }
  fprintf(stderr,
          "%.1f s: %ld operations: %ld pushes, %ld new heads, %ld inserts, %ld reallocs, "
          "%ld chains built off the heap, %ld swaps, %ld drops; %ld large items, %ld large "
          "blobs; %ld item checks\n",
          shade_test_now() - start, ops, pushes, heads, inserts, reallocs, off_heap, swaps, drops,
          large_items, large_blobs, checked);
  conc_print_stats("alloc_during_mark", &before, &after);
  SHADE_TEST_EXPECTF(atomic_load(&bad_items) == 0, "%ld damaged or missing items",
                     atomic_load(&bad_items));
  CONC_EXPECT_CYCLES(now.concurrent_cycles - before.concurrent_cycles, target_cycles, cap,
                     now.cycles - before.cycles);
  SHADE_TEST_EXPECT(reallocs > 0 && large_items > 0 && large_blobs > 0);
}

int main(int argc, char **argv) {
  conc_start(conc_mode_from_args(argc, argv),
             (struct conc_pacing){.gc_percent = 10, .min_heap_goal = (size_t)2 << 20});
  SHADE_TEST_RUN(test_objects_allocated_during_marking_survive);
  return shade_test_finish();
}
