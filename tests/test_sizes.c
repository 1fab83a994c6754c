// test_sizes.c (core_sizes): every size class and large sizes give usable, zeroed objects of at
// least the requested size, whose interior resolves to their start, and whose contents survive
// collections. Also: what shade_base/shade_size/shade_is_heap_pointer say about pointers Shade
// did not hand out, shade_malloc(0), shade_realloc, shade_strdup.
#include "test_util.h"

#define SMALL_LIMIT 32768

// The sizes tried: every size up to 1 KiB, then a stride that lands on many different classes,
// plus each power of two and its neighbours.
static size_t small_sizes[8192];
static size_t small_size_count;

static void add_size(size_t size) {
  if (size >= 1 && size <= SMALL_LIMIT && small_size_count < sizeof small_sizes / sizeof *small_sizes)
    small_sizes[small_size_count++] = size;
}

static void choose_sizes(void) {
  small_size_count = 0;
  for (size_t size = 1; size <= 1024; size++)
    add_size(size);
  for (size_t size = 1031; size <= SMALL_LIMIT; size += 37)
    add_size(size);
  for (size_t power = 2048; power <= SMALL_LIMIT; power *= 2) {
    add_size(power - 1);
    add_size(power);
    add_size(power + 1);
  }
  add_size(SMALL_LIMIT);
}

static unsigned char pattern_byte(size_t size, size_t i) {
  return (unsigned char)(size * 131 + i * 7 + 1) | 1; // never zero
}

static void fill(unsigned char *p, size_t size) {
  for (size_t i = 0; i < size; i++)
    p[i] = pattern_byte(size, i);
}

static int is_filled(const unsigned char *p, size_t size) {
  for (size_t i = 0; i < size; i++)
    if (p[i] != pattern_byte(size, i))
      return 0;
  return 1;
}

static int is_zero(const unsigned char *p, size_t size) {
  for (size_t i = 0; i < size; i++)
    if (p[i] != 0)
      return 0;
  return 1;
}

// The alignment any C object of `size` bytes can need: its size is a multiple of its alignment,
// which is at most 8 here (malloc gives 16; Shade promises words).
static size_t natural_alignment(size_t size) {
  size_t lowest_bit = size & -size;
  return lowest_bit == 0 || lowest_bit > 8 ? 8 : lowest_bit;
}

// A fresh object of `size`: zeroed, at least `size` usable bytes, aligned, and every
// interior address (first, middle, last byte) resolves to its start.
static void expect_well_formed(unsigned char *p, size_t size, const char *kind, int zeroed) {
  SHADE_TEST_EXPECTF(p != NULL, "%s(%zu) returned NULL", kind, size);
  if (p == NULL)
    return;
  SHADE_TEST_EXPECTF((uintptr_t)p % natural_alignment(size) == 0,
                     "%s(%zu) = %p is not aligned to %zu", kind, size, (void *)p,
                     natural_alignment(size));
  if (zeroed)
    SHADE_TEST_EXPECTF(is_zero(p, size), "%s(%zu) = %p is not zeroed", kind, size, (void *)p);
  SHADE_TEST_EXPECTF(shade_size(p) >= size, "%s(%zu): shade_size = %zu", kind, size,
                     shade_size(p));
  SHADE_TEST_EXPECTF(shade_base(p) == p, "%s(%zu): shade_base(p) = %p, p = %p", kind, size,
                     shade_base(p), (void *)p);
  SHADE_TEST_EXPECTF(shade_base(p + size / 2) == p, "%s(%zu): shade_base(p + %zu) = %p, p = %p",
                     kind, size, size / 2, shade_base(p + size / 2), (void *)p);
  SHADE_TEST_EXPECTF(shade_base(p + size - 1) == p, "%s(%zu): shade_base(last byte) = %p, p = %p",
                     kind, size, shade_base(p + size - 1), (void *)p);
  SHADE_TEST_EXPECTF(shade_size(p + size - 1) == shade_size(p),
                     "%s(%zu): shade_size(last byte) = %zu, shade_size(p) = %zu", kind, size,
                     shade_size(p + size - 1), shade_size(p));
  SHADE_TEST_EXPECTF(shade_is_heap_pointer(p) == 1, "%s(%zu): shade_is_heap_pointer(p) = %d",
                     kind, size, shade_is_heap_pointer(p));
}

// Every small size: well formed and zeroed, writable over its whole requested size, and (half of
// them kept, half dropped) the kept ones intact after collections. The second round reuses the
// memory of the dropped ones and must still get zeroed objects.
static void test_every_small_size_is_usable_zeroed_and_survives(void) {
  choose_sizes();
  unsigned char **objects = shade_malloc(small_size_count * sizeof *objects);
  SHADE_TEST_EXPECT(objects != NULL);
  for (int round = 0; round < 3; round++) {
    for (size_t i = 0; i < small_size_count; i++) {
      size_t size = small_sizes[i];
      if (round > 0 && i % 2 == 0) // kept from round 0
        continue;
      unsigned char *p = shade_malloc(size);
      expect_well_formed(p, size, "shade_malloc", 1);
      if (p == NULL)
        continue;
      fill(p, size);
      objects[i] = p;
    }
    // Drop the odd half (written over in the next round), then collect twice.
    for (size_t i = 1; i < small_size_count; i += 2)
      objects[i] = NULL;
    shade_collect();
    shade_collect();
    for (size_t i = 0; i < small_size_count; i += 2) {
      if (objects[i] == NULL)
        continue;
      SHADE_TEST_EXPECTF(is_filled(objects[i], small_sizes[i]),
                         "round %d: object of %zu bytes at %p lost its contents", round,
                         small_sizes[i], (void *)objects[i]);
      SHADE_TEST_EXPECTF(shade_is_heap_pointer(objects[i]) == 1,
                         "round %d: object of %zu bytes at %p is not live", round, small_sizes[i],
                         (void *)objects[i]);
    }
  }
}

// Atomic, uncollectable and typed objects are sized and resolved like the others.
static void test_every_small_size_of_every_kind_is_well_formed(void) {
  static const uint64_t one_pointer_bitmap[1] = {1};
  static const struct shade_type word_type = {"word", 8, one_pointer_bitmap, NULL, 0};
  choose_sizes();
  for (size_t i = 0; i < small_size_count; i += 3) {
    size_t size = small_sizes[i];
    unsigned char *atomic = shade_malloc_atomic(size);
    if (size >= 16) // below 16 bytes, see test_tiny_atomic_objects_share_16_byte_blocks
      expect_well_formed(atomic, size, "shade_malloc_atomic", 0);
    if (atomic)
      fill(atomic, size);
    unsigned char *uncollectable = shade_malloc_uncollectable(size);
    expect_well_formed(uncollectable, size, "shade_malloc_uncollectable", 1);
    if (uncollectable) {
      fill(uncollectable, size);
      shade_free(uncollectable);
    }
    size_t typed_size = (size + 7) & ~(size_t)7;
    unsigned char *typed = shade_malloc_typed(typed_size, &word_type);
    expect_well_formed(typed, typed_size, "shade_malloc_typed", 1);
    if (typed)
      fill(typed, typed_size);
  }
}

// Atomic objects under 16 bytes are packed into shared 16-byte blocks (Go's tiny allocator):
// each lies wholly inside its block, shade_base gives the block's start and shade_size its 16
// bytes, pieces never overlap, and small pieces allocated in a row do share blocks.
static void test_tiny_atomic_objects_share_16_byte_blocks(void) {
  enum { PER_SIZE = 4 };
  unsigned char *pieces[15 * PER_SIZE];
  size_t sizes[15 * PER_SIZE], count = 0, outside = 0, shared = 0;
  for (size_t size = 1; size < 16; size++) {
    for (int i = 0; i < PER_SIZE; i++) {
      unsigned char *p = shade_malloc_atomic(size);
      SHADE_TEST_EXPECT(p != NULL);
      if (p == NULL)
        continue;
      SHADE_TEST_EXPECT((uintptr_t)p % natural_alignment(size) == 0);
      memset(p, (int)count, size);
      unsigned char *block = shade_base(p);
      if (block == NULL || p < block || p + size > block + 16 || shade_size(p) != 16 ||
          shade_base(p + size - 1) != block)
        outside++;
      if (count > 0 && block != NULL && shade_base(pieces[count - 1]) == block)
        shared++;
      pieces[count] = p;
      sizes[count++] = size;
    }
  }
  SHADE_TEST_EXPECTF(outside == 0, "%zu of %zu tiny objects are not inside their 16-byte block",
                     outside, count);
  SHADE_TEST_EXPECTF(shared > 0, "no two tiny objects allocated in a row share a block");
  for (size_t i = 0; i < count; i++) // no piece was overwritten by a later one
    for (size_t j = 0; j < sizes[i]; j++)
      SHADE_TEST_EXPECTF(pieces[i][j] == (unsigned char)i, "tiny object %zu overlaps another", i);
}

static const size_t large_sizes[] = {SMALL_LIMIT + 1, 100 * 1000, 1024 * 1024,
                                     1024 * 1024 + 3, 16 * 1024 * 1024};
#define LARGE_COUNT (sizeof large_sizes / sizeof *large_sizes)

// Large objects: zeroed, at least the requested size, interior resolves to the start, contents
// survive collections; and their memory, once dropped and reused, comes back zeroed.
static void test_large_objects_are_usable_zeroed_and_survive(void) {
  unsigned char *objects[LARGE_COUNT];
  for (int round = 0; round < 2; round++) {
    for (size_t i = 0; i < LARGE_COUNT; i++) {
      objects[i] = shade_malloc(large_sizes[i]);
      expect_well_formed(objects[i], large_sizes[i], "shade_malloc", 1);
      if (objects[i])
        fill(objects[i], large_sizes[i]);
    }
    shade_collect();
    shade_collect();
    for (size_t i = 0; i < LARGE_COUNT; i++) {
      if (objects[i] == NULL)
        continue;
      SHADE_TEST_EXPECTF(is_filled(objects[i], large_sizes[i]),
                         "large object of %zu bytes lost its contents", large_sizes[i]);
      SHADE_TEST_EXPECT(shade_is_heap_pointer(objects[i] + large_sizes[i] / 3) == 1);
    }
    memset(objects, 0, sizeof objects);
    shade_test_collect_clean();
  }
  unsigned char *atomic = shade_malloc_atomic(1024 * 1024);
  expect_well_formed(atomic, 1024 * 1024, "shade_malloc_atomic", 0);
}

static int some_global;

// Pointers Shade did not hand out: no base, no size, not heap pointers.
static void test_foreign_pointers_have_no_base_and_no_size(void) {
  int on_stack = 0;
  char *from_malloc = malloc(64);
  const void *foreign[] = {NULL, &on_stack, from_malloc, &some_global, (const void *)(uintptr_t)&choose_sizes,
                           (void *)1, (void *)(uintptr_t)-8};
  for (size_t i = 0; i < sizeof foreign / sizeof *foreign; i++) {
    SHADE_TEST_EXPECTF(shade_base(foreign[i]) == NULL, "shade_base(%p) = %p", foreign[i],
                       shade_base(foreign[i]));
    SHADE_TEST_EXPECTF(shade_size(foreign[i]) == 0, "shade_size(%p) = %zu", foreign[i],
                       shade_size(foreign[i]));
    SHADE_TEST_EXPECTF(shade_is_heap_pointer(foreign[i]) == 0, "shade_is_heap_pointer(%p) = %d",
                       foreign[i], shade_is_heap_pointer(foreign[i]));
  }
  free(from_malloc);
}

// shade_malloc(0) returns a unique object each time.
static void test_malloc_of_zero_bytes_returns_unique_objects(void) {
  void *volatile a = shade_malloc(0);
  void *volatile b = shade_malloc(0);
  SHADE_TEST_EXPECT(a != NULL);
  SHADE_TEST_EXPECT(b != NULL);
  SHADE_TEST_EXPECT(a != b);
  SHADE_TEST_EXPECT(shade_base(a) == a);
  shade_collect();
  SHADE_TEST_EXPECT(shade_is_heap_pointer(a) == 1);
  SHADE_TEST_EXPECT(shade_is_heap_pointer(b) == 1);
}

// shade_realloc keeps the contents up to the smaller size, across small and large sizes.
static void test_realloc_keeps_contents(void) {
  unsigned char *p = shade_realloc(NULL, 10);
  SHADE_TEST_EXPECT(p != NULL && shade_size(p) >= 10);
  for (int i = 0; i < 10; i++)
    p[i] = (unsigned char)(i + 1);
  static const size_t steps[] = {100, 5000, 200000, 40000, 64, 3};
  size_t previous = 10;
  for (size_t s = 0; s < sizeof steps / sizeof *steps; s++) {
    size_t size = steps[s];
    p = shade_realloc(p, size);
    SHADE_TEST_EXPECTF(p != NULL && shade_size(p) >= size, "realloc to %zu", size);
    if (p == NULL)
      return;
    size_t kept = previous < size ? previous : size;
    size_t valid = kept < 10 ? kept : 10;
    for (size_t i = 0; i < valid; i++)
      SHADE_TEST_EXPECTF(p[i] == i + 1, "realloc to %zu lost byte %zu", size, i);
    shade_collect();
    previous = size;
  }
}

// shade_strdup copies the string into a Shade object.
static void test_strdup_copies(void) {
  const char *text = "conservative collection";
  char *copy = shade_strdup(text);
  SHADE_TEST_EXPECT(copy != NULL && copy != text);
  SHADE_TEST_EXPECT(copy != NULL && strcmp(copy, text) == 0);
  SHADE_TEST_EXPECT(shade_size(copy) >= strlen(text) + 1);
  shade_collect();
  SHADE_TEST_EXPECT(copy != NULL && strcmp(copy, text) == 0);
}

// Many objects of one small size tile their spans: neighbours do not overlap.
static void test_objects_do_not_overlap(void) {
  enum { COUNT = 4096 };
  static const size_t sizes[] = {8, 16, 24, 48, 96, 500, 1000, 4000};
  for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
    unsigned char **objects = shade_malloc(COUNT * sizeof *objects);
    for (size_t i = 0; i < COUNT; i++) {
      objects[i] = shade_malloc(sizes[s]);
      memset(objects[i], (int)(i % 251) + 1, sizes[s]);
    }
    size_t damaged = 0;
    for (size_t i = 0; i < COUNT; i++)
      for (size_t b = 0; b < sizes[s]; b++)
        damaged += objects[i][b] != (unsigned char)((i % 251) + 1);
    SHADE_TEST_EXPECTF(damaged == 0, "size %zu: %zu bytes overwritten by neighbours", sizes[s],
                       damaged);
  }
}

int main(void) {
  SHADE_TEST_RUN(test_every_small_size_is_usable_zeroed_and_survives);
  SHADE_TEST_RUN(test_every_small_size_of_every_kind_is_well_formed);
  SHADE_TEST_RUN(test_tiny_atomic_objects_share_16_byte_blocks);
  SHADE_TEST_RUN(test_large_objects_are_usable_zeroed_and_survive);
  SHADE_TEST_RUN(test_foreign_pointers_have_no_base_and_no_size);
  SHADE_TEST_RUN(test_malloc_of_zero_bytes_returns_unique_objects);
  SHADE_TEST_RUN(test_realloc_keeps_contents);
  SHADE_TEST_RUN(test_strdup_copies);
  SHADE_TEST_RUN(test_objects_do_not_overlap);
  return shade_test_finish();
}
