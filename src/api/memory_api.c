// memory_api.c: the public calls about memory returned to the OS and memory limits:
// shade_free_os_memory, shade_set_memory_limit, shade_set_heap_limit. The policy is in
// gc/memory_limits.c, the background thread in gc/scavenger.c.
#include "api/api_internal.h"
#include "gc/memory_limits.h"

SHADE_API void shade_free_os_memory(void) {
  api_thread("shade_free_os_memory");
  memory_free_os_memory();
}

SHADE_API size_t shade_set_memory_limit(size_t bytes) {
  api_thread("shade_set_memory_limit");
  return memory_set_soft_limit(bytes);
}

SHADE_API size_t shade_set_heap_limit(size_t bytes) {
  api_thread("shade_set_heap_limit");
  return memory_set_hard_limit(bytes);
}
