// snapshot_graph.c: builds a known object graph and writes heap snapshots of it, for
// check_snapshot.js to read back with an independent parser (run_snapshot_test.sh).
//
//   snapshot_graph api <snapshot> <facts.json>   shade_write_heap_snapshot(<snapshot>)
//   snapshot_graph env <facts.json>              SHADE_HEAP_SNAPSHOT{,_SIGNAL} from the
//                                                environment: raises the signal, waits for
//                                                <snapshot>.1, then exits (<snapshot> at exit)
//
// The graph: 1000 "Node"s in a list held by the global list_head; the first 10 hold an atomic
// buffer each; two "Cycle" objects pointing at each other, held by a user root range; an
// uncollectable object holding a "Leaf"; a "Traced" object (trace callback) held by a global,
// visiting nodes 0 and 999; a conservative object held only through an interior pointer in a
// global; a "Local" object held only by main's stack; 500 "Garbage" objects that must not appear
// (allocated by a thread that has exited, so no stale stack word can keep them).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <shade.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NODES 1000
#define BUFFERS 10
#define GARBAGE 500

struct node {
  struct node *next;
  void *buffer;
  long value;
};
static const uint64_t node_bitmap[1] = {0x3};
static const struct shade_type node_type = {.name = "Node", .size = sizeof(struct node),
                                            .pointer_bitmap = node_bitmap};
static const struct shade_type cycle_type = {.name = "Cycle", .size = sizeof(struct node),
                                             .pointer_bitmap = node_bitmap};
static const struct shade_type leaf_type = {.name = "Leaf", .size = sizeof(struct node),
                                            .pointer_bitmap = node_bitmap};
static const struct shade_type local_type = {.name = "Local", .size = sizeof(struct node),
                                             .pointer_bitmap = node_bitmap};
static const struct shade_type garbage_type = {.name = "Garbage", .size = sizeof(struct node),
                                               .pointer_bitmap = node_bitmap};

struct traced {
  long tag;
  struct node *first, *last;
};
static void trace_traced(void *object, size_t size, shade_visit_fn visit, void *context) {
  (void)size;
  struct traced *t = object;
  visit(t->first, context);
  visit(t->last, context);
}
static const struct shade_type traced_type = {.name = "Traced", .size = sizeof(struct traced),
                                              .trace = trace_traced};

struct node *list_head;
struct traced *traced_global;
char *interior_global;

static uint64_t id_of(const void *p) { return 2 * (((uintptr_t)p / 8) & 0x7fffffffu) + 1; }

// The offset of a global from its object's load address, as the snapshot names the edge.
static uintptr_t global_offset(const void *address) {
  Dl_info info;
  if (!dladdr(address, &info))
    return 0;
  return (uintptr_t)address - (uintptr_t)info.dli_fbase;
}

// The snapshot thread writes the file while the program runs on: it is complete when it ends as
// a snapshot ends.
static bool file_is_complete(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f)
    return false;
  char tail[4] = "";
  bool complete = fseek(f, -3, SEEK_END) == 0 && fread(tail, 1, 3, f) == 3 &&
                  strcmp(tail, "]}\n") == 0;
  fclose(f);
  return complete;
}

static void *make_garbage(void *unused) {
  (void)unused;
  struct node *g = NULL;
  for (int i = 0; i < GARBAGE; i++) {
    struct node *n = shade_malloc_typed(sizeof *n, &garbage_type);
    n->next = g;
    g = n;
  }
  return NULL;
}

// The list and the Traced object, built in a frame of their own: main's frame holds no pointer
// to a node (a debug build keeps every local there, and a stale node pointer on the stack is a
// path to the list as short as the global's).
static __attribute__((noinline)) void build_list(uint64_t *node_ids, uint64_t *buffer_ids) {
  struct node *last = NULL;
  for (int i = NODES - 1; i >= 0; i--) {
    struct node *n = shade_malloc_typed(sizeof *n, &node_type);
    n->value = i;
    n->next = list_head;
    if (i < BUFFERS) {
      n->buffer = shade_malloc_atomic(100);
      buffer_ids[i] = id_of(n->buffer);
    }
    list_head = n;
    node_ids[i] = id_of(n);
    if (last == NULL)
      last = n;
  }
  traced_global = shade_malloc_typed(sizeof *traced_global, &traced_type);
  traced_global->first = list_head;
  traced_global->last = last;
}

// The frames of build_list and of the allocations it made held node pointers; frames that later
// land there (the snapshot's own) may leave such a slot unwritten. Zeroing the region first
// makes the expected paths the only ones.
static __attribute__((noinline)) void clear_stack_below(void) {
  volatile char area[64 * 1024];
  memset((char *)area, 0, sizeof area);
  __asm__ volatile("" : : "r"(area) : "memory");
}

int main(int argc, char **argv) {
  if (argc < 3 || (strcmp(argv[1], "api") != 0 && strcmp(argv[1], "env") != 0)) {
    fprintf(stderr, "usage: %s api <snapshot> <facts.json> | env <facts.json>\n", argv[0]);
    return 2;
  }
  bool from_env = strcmp(argv[1], "env") == 0;
  const char *facts_path = from_env ? argv[2] : argv[3];
  if (shade_init(NULL) != 0)
    return 1;
  pthread_t thread;
  shade_pthread_create(&thread, NULL, make_garbage, NULL);
  pthread_join(thread, NULL);

  // The ids go to the C library's heap, which is not a root (an array of the pointers in a
  // global would be the shortest path to every node).
  uint64_t *node_ids = malloc(NODES * sizeof *node_ids);
  uint64_t *buffer_ids = malloc(BUFFERS * sizeof *buffer_ids);
  build_list(node_ids, buffer_ids);
  clear_stack_below();
  void **cycle_roots = malloc(2 * sizeof(void *)); // C heap: a root only as a user range
  struct node *a = shade_malloc_typed(sizeof *a, &cycle_type);
  struct node *b = shade_malloc_typed(sizeof *b, &cycle_type);
  a->next = b;
  b->next = a;
  cycle_roots[0] = a;
  cycle_roots[1] = NULL;
  shade_add_roots(cycle_roots, cycle_roots + 2);
  a = b = NULL;
  struct node **holder = shade_malloc_uncollectable(sizeof(void *));
  struct node *leaf = shade_malloc_typed(sizeof *leaf, &leaf_type);
  *holder = leaf;
  uint64_t leaf_id = id_of(leaf);
  leaf = NULL;
  char *block = shade_malloc(200);
  interior_global = block + 72;
  struct node *volatile local = shade_malloc_typed(sizeof *local, &local_type);

  clear_stack_below();
  FILE *facts = fopen(facts_path, "w");
  if (!facts)
    return 1;
  fprintf(facts, "{\"nodes\":[");
  for (int i = 0; i < NODES; i++)
    fprintf(facts, "%s%llu", i ? "," : "", (unsigned long long)node_ids[i]);
  fprintf(facts, "],\n\"buffers\":[");
  for (int i = 0; i < BUFFERS; i++)
    fprintf(facts, "%s%llu", i ? "," : "", (unsigned long long)buffer_ids[i]);
  char program[4096] = "";
  ssize_t length = readlink("/proc/self/exe", program, sizeof program - 1);
  (void)length;
  fprintf(facts, "],\n\"cycle\":[%llu,%llu],\n", (unsigned long long)id_of(cycle_roots[0]),
          (unsigned long long)id_of(((struct node *)cycle_roots[0])->next));
  fprintf(facts, "\"user_range\":\"user roots 0x%012lx-0x%012lx\",\n",
          (unsigned long)(uintptr_t)cycle_roots, (unsigned long)(uintptr_t)(cycle_roots + 2));
  fprintf(facts, "\"holder\":%llu,\"leaf\":%llu,\"traced\":%llu,\"block\":%llu,\"local\":%llu,\n",
          (unsigned long long)id_of(holder), (unsigned long long)leaf_id,
          (unsigned long long)id_of(traced_global), (unsigned long long)id_of(block),
          (unsigned long long)id_of(local));
  fprintf(facts, "\"program\":\"%s\",\"list_head_edge\":\"+0x%lx\",\"interior_edge\":\"+0x%lx\","
          "\"main_thread\":\"stack of thread %d (main)\"}\n",
          program, (unsigned long)global_offset(&list_head),
          (unsigned long)global_offset(&interior_global), (int)getpid());
  fclose(facts);

  if (!from_env) {
    if (shade_write_heap_snapshot(argv[2]) != 0) {
      perror("shade_write_heap_snapshot");
      return 1;
    }
  } else {
    const char *path = getenv("SHADE_HEAP_SNAPSHOT");
    char first[4096];
    snprintf(first, sizeof first, "%s.1", path ? path : "");
    unlink(first);
    raise(SIGUSR2);
    for (int i = 0; i < 3000 && !file_is_complete(first); i++) // 30 s at most
      usleep(10000);
  }
  __asm__ volatile("" : : "r"(local) : "memory");
  if (!from_env) { // (the exit snapshot still needs the cycle's root range)
    shade_remove_roots(cycle_roots, cycle_roots + 2);
    free(cycle_roots);
  }
  free(node_ids);
  free(buffer_ids);
  return 0;
}
