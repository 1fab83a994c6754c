// finalizers.c: a finalizer-heavy workload (the shape of Whippet's finalizers benchmark), for
// Shade and bdwgc only.
//
// ROUNDS times: build a list of NODES pairs (car: a 16-byte atomic object, cdr: the rest of the
// list), each pair with an unordered finalizer whose data is its car; keep the list across one
// collection (nothing may be finalized), then drop it, collect, and run the finalizers on this
// thread (Shade: on demand, shade_run_finalizers; bdwgc: GC_finalize_on_demand,
// GC_invoke_finalizers). Each finalizer checks that its pair still holds its car. Prints the
// count finalized per round and a BENCH line with finalized= (of= made), live_finalized= (pairs
// of the list being kept that were finalized: must be 0) and the collections' counts and pauses.
//
//   finalizers_<allocator> [NODES] [ROUNDS]     (default 1000000 4)
#if !defined(BENCH_SHADE) && !defined(BENCH_BDWGC)
#error "finalizers.c is for the collectors: BENCH_SHADE or BENCH_BDWGC"
#endif
#include "allocator.h"

struct pair {
  void *car;
  struct pair *cdr;
};

static size_t finalized, broken;
static uint64_t alive_round = UINT64_MAX; // the round whose list is kept now, if any
static size_t finalized_while_alive;

static void finalize_pair(void *object, void *car) {
  struct pair *p = object;
  broken += p->car != car;
  finalized++;
  finalized_while_alive += *(uint64_t *)car == alive_round; // the car records its round
}

#if defined(BENCH_SHADE)
static void set_finalizer(struct pair *p) {
  shade_set_finalizer(p, finalize_pair, p->car, SHADE_FINALIZE_UNORDERED);
}
static void collect(void) { shade_collect(); }
static void run_finalizers(void) { shade_run_finalizers(); }
static void on_demand(void) { shade_set_finalize_on_demand(1); }
#else
static void bdwgc_finalizer(void *object, void *data) { finalize_pair(object, data); }
static void set_finalizer(struct pair *p) {
  GC_register_finalizer_no_order(p, bdwgc_finalizer, p->car, NULL, NULL);
}
static void collect(void) { GC_gcollect(); }
static void run_finalizers(void) { GC_invoke_finalizers(); }
static void on_demand(void) { GC_set_finalize_on_demand(1); }
#endif

static struct pair *volatile list; // a root (data segment)

static BENCH_NOINLINE struct pair *make_list(size_t nodes, uint64_t round) {
  struct pair *head = NULL;
  for (size_t i = 0; i < nodes; i++) {
    struct pair *p = bench_alloc(sizeof *p);
    p->car = bench_alloc_atomic(16);
    *(uint64_t *)p->car = round;
    p->cdr = head;
    set_finalizer(p);
    head = p;
  }
  return head;
}

static BENCH_NOINLINE void clear_stack(void) {
  volatile char buffer[64 * 1024];
  for (size_t i = 0; i < sizeof buffer; i += 64)
    buffer[i] = 0;
}

int main(int argc, char **argv) {
  bench_start();
  on_demand();
  size_t nodes = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
  int rounds = argc > 2 ? atoi(argv[2]) : 4;
  size_t total = 0;
  for (int r = 0; r < rounds; r++) {
    alive_round = (uint64_t)r;
    list = make_list(nodes, (uint64_t)r);
    collect();
    run_finalizers();
    alive_round = UINT64_MAX;
    list = NULL;
    clear_stack();
    size_t before = finalized;
    collect();
    run_finalizers();
    printf("round %d: %zu finalized after the list was dropped (%zu lists made)\n", r,
           finalized - before, (size_t)r + 1);
    total += nodes;
  }
  char extra[160];
  snprintf(extra, sizeof extra, " finalized=%zu of=%zu live_finalized=%zu broken=%zu", finalized,
           total, finalized_while_alive, broken);
  bench_finish(extra);
  return broken || finalized_while_alive ? 1 : 0;
}
