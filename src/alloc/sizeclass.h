// sizeclass.h: object sizes from 8 bytes to 32 KiB are rounded up to one of SIZE_CLASS_COUNT - 1
// classes (class 0 means "large object"). The class sizes are Go's table (internal waste at most
// 12.5% for sizes above 128 bytes); the pages per span of each class are chosen at start-up as the
// fewest pages whose tail waste is at most 1/8 of the span.
#ifndef SHADE_ALLOC_SIZECLASS_H
#define SHADE_ALLOC_SIZECLASS_H
#include "base/base.h"

#define SIZE_CLASS_COUNT 68

struct size_class_info {
  uint32_t object_size;
  uint32_t span_pages;
  uint32_t objects_per_span;
  uint32_t divide_magic; // (offset * divide_magic) >> 32 == offset / object_size in a span
};

extern struct size_class_info size_classes[SIZE_CLASS_COUNT];
extern uint8_t size_class_by_8[MAX_SMALL_SIZE / 8 + 1];

void size_classes_init(void);

// Class of a small object of `size` bytes (size <= MAX_SMALL_SIZE).
static inline unsigned size_class_of(size_t size) {
  return size_class_by_8[(size + 7) >> 3];
}

#endif
