// os_memory.c: anonymous mappings. Reservations use MAP_NORESERVE, so the kernel commits a page
// only when it is first touched; releasing uses MADV_DONTNEED, after which the range reads as
// zeros (the page heap relies on that to skip zeroing released pages). os_release_lazily uses
// MADV_FREE instead (SHADE_MADV_FREE=1): the kernel frees the pages only under memory pressure and
// the range may keep its old contents, so the page heap zeroes such pages when it reuses them.
#include "os/os_memory.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

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

bool os_release_lazily(void *p, size_t size) {
#ifdef MADV_FREE
  if (madvise(p, size, MADV_FREE) == 0)
    return true;
#endif
  os_release(p, size);
  return false;
}

void os_fault_in_for_writing(void *p, size_t size) {
  const size_t os_page = 4096; // the smallest page size x86-64 Linux uses
  for (size_t offset = 0; offset < size; offset += os_page) {
    // An atomic OR of zero is a write to the CPU (it faults as one) that keeps whatever the
    // page holds; a load followed by a store would fault twice.
    __atomic_fetch_or((char *)p + offset, 0, __ATOMIC_RELAXED);
  }
}

size_t os_resident_bytes(void) {
  // No stdio: this may run on the scavenger thread at any time, and must not allocate.
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  char text[128];
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0)
    return 0;
  text[n] = '\0';
  char *field = text;
  strtoul(field, &field, 10); // size; the second field is the resident pages
  unsigned long pages = strtoul(field, NULL, 10);
  return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}
