// snapshot_bench.c: the cost and size of a heap snapshot (docs/observability.md).
//   snapshot_bench <objects> <bytes each> <snapshot path>
// Builds <objects> conservative objects, each holding two pointers to earlier ones (a random
// graph, all live from a global array), then times shade_collect and shade_write_heap_snapshot.
#include <shade.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void **objects;

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s <objects> <bytes each> <snapshot path>\n", argv[0]);
    return 2;
  }
  size_t count = strtoull(argv[1], NULL, 10), size = strtoull(argv[2], NULL, 10);
  shade_init(NULL);
  objects = shade_malloc(count * sizeof(void *));
  unsigned long long seed = 88172645463325252ull;
  for (size_t i = 0; i < count; i++) {
    void **o = shade_malloc(size);
    for (int k = 0; k < 2 && i > 0; k++) {
      seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
      o[k] = objects[seed % i];
    }
    objects[i] = o;
  }
  double t0 = now();
  shade_collect();
  double t1 = now();
  if (shade_write_heap_snapshot(argv[3]) != 0)
    return 1;
  double t2 = now();
  struct stat st;
  stat(argv[3], &st);
  struct shade_stats stats;
  shade_get_stats(&stats);
  printf("objects %zu x %zu bytes, live %.0f MB: collect %.2f s, snapshot %.2f s "
         "(pause %.2f s), file %.0f MB\n",
         count, size, (double)stats.heap_live / 1e6, t1 - t0, t2 - t1,
         (double)stats.last_pause_ns / 1e9, (double)st.st_size / 1e6);
  return 0;
}
