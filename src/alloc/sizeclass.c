// sizeclass.c: the size-class table and its lookup array. See sizeclass.h.
#include "alloc/sizeclass.h"

static const uint32_t class_sizes[SIZE_CLASS_COUNT] = {
    0,     8,     16,    24,    32,    48,    64,    80,    96,    112,   128,   144,
    160,   176,   192,   208,   224,   240,   256,   288,   320,   352,   384,   416,
    448,   480,   512,   576,   640,   704,   768,   896,   1024,  1152,  1280,  1408,
    1536,  1792,  2048,  2304,  2688,  3072,  3200,  3456,  4096,  4864,  5376,  6144,
    6528,  6784,  6912,  8192,  9472,  9728,  10240, 10880, 12288, 13568, 14336, 16384,
    18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768};

struct size_class_info size_classes[SIZE_CLASS_COUNT];
uint8_t size_class_by_8[MAX_SMALL_SIZE / 8 + 1];

static uint32_t pages_for_class(uint32_t size) {
  for (uint32_t pages = 1;; pages++) {
    size_t span_bytes = pages * PAGE_SIZE;
    if (span_bytes < size)
      continue;
    if (span_bytes % size <= span_bytes / 8)
      return pages;
  }
}

void size_classes_init(void) {
  for (unsigned c = 1; c < SIZE_CLASS_COUNT; c++) {
    struct size_class_info *info = &size_classes[c];
    info->object_size = class_sizes[c];
    info->span_pages = pages_for_class(class_sizes[c]);
    info->objects_per_span = (uint32_t)(info->span_pages * PAGE_SIZE / class_sizes[c]);
    info->divide_magic = (uint32_t)(((uint64_t)1 << 32) / class_sizes[c] + 1);
  }
  unsigned c = 1;
  for (size_t i = 0; i <= MAX_SMALL_SIZE / 8; i++) {
    size_t size = i * 8;
    while (class_sizes[c] < size)
      c++;
    size_class_by_8[i] = (uint8_t)c;
  }
  size_class_by_8[0] = 1; // zero-byte objects take the smallest class
}
