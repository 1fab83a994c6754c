// os_memory.c: anonymous mappings. Reservations use MAP_NORESERVE, so the kernel commits a page
// only when it is first touched; releasing uses MADV_DONTNEED, after which the range reads as
// zeros (the page heap relies on that to skip zeroing released pages).
#include "os/os_memory.h"

#include <stdint.h>
#include <sys/mman.h>

void *os_map(size_t size) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

void os_unmap(void *p, size_t size) { munmap(p, size); }

void *os_reserve_aligned(size_t size, size_t alignment) {
  if (size + alignment < size)
    return NULL;
  char *raw = os_map(size + alignment);
  if (raw == NULL)
    return NULL;
  uintptr_t start = ((uintptr_t)raw + alignment - 1) & ~(uintptr_t)(alignment - 1);
  size_t head = start - (uintptr_t)raw;
  size_t tail = alignment - head;
  if (head)
    munmap(raw, head);
  if (tail)
    munmap((char *)start + size, tail);
  return (void *)start;
}

void os_release(void *p, size_t size) { madvise(p, size, MADV_DONTNEED); }
