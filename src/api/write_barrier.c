// write_barrier.c: the public slow path of the write barrier (the inline part is in shade.h;
// the algorithm is gc/barrier.c).
#include "api/api_internal.h"
#include "gc/barrier.h"

SHADE_API void shade_write_slow_(void *old_value, void *new_value) {
  barrier_record(api_thread("shade_write"), old_value, new_value);
}
