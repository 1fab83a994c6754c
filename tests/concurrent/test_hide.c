// test_hide.c (conc_hide_concurrent, conc_hide_incremental): adversarial mutators against the
// write barrier. HIDE_THREADS threads, in tight loops, keep moving the ONLY reference to each of
// their "tokens" between places the collector visits at different moments of a cycle, while
// cycles run back to back (tiny heap goal, SHADE_GC_PERCENT 5) so every move lands in every
// phase: before marking, while the roots/stacks are scanned, in the middle of the concurrent or
// incremental marking, at mark termination, and while sweeping.
//
// A token (a conservative or a typed object) holds two leaf chains (two leaves each). Its one
// reference lives in exactly one of these places ("slots"):
//   list      the payload word of a node of a long linked list (LIST nodes): the marker walks
//             the list from the head, so the head region is scanned early, the tail late;
//             tokens are moved from the tail region to the head region and back, one at a time
//             and in bursts (the textbook lost object: white object moved from an unscanned
//             holder into a scanned one);
//   stack     a local array of the thread (no barrier: stacks are scanned once per cycle);
//   global    a global array, through SHADE_STORE;
//   roots     a C-library array registered with shade_add_roots, through SHADE_STORE;
//   uncoll    an uncollectable object, through shade_write;
//   shelf     a typed (pointer bitmap) array, through shade_write;
//   interior  a global or a heap word holding an interior or one-past-the-end pointer
//             (token + 1, + 8, + 17, + size): the barrier must shade the object around it;
//   tls       a thread-local array (__thread), written without a barrier like the stack (it is
//             scanned with the thread's stack);
//   big       a 320 KB conservative array (a large object, which the markers scan in 128 KiB
//             pieces): tokens move between its first and its last slots, as in the list.
// A move either clears the source first and allocates (so a slice, an assist or a stop can
// come) while the token is held only in a local variable, then stores it at the destination;
// or stores first and clears afterwards. Other operations: swap leaf chains between two tokens
// (two structures exchange subtrees), swap a chain with a global exchange shared by all threads
// (subtrees change thread), replace a token by a new one (allocated black during marking) that
// takes over its chains, the old token's words cleared (the new object then holds the only
// references), replace a chain by a new one, a full collection now and then.
//
// Every token, leaf and list node carries a magic word, a key and a check word; the thread
// knows which key must be found where (side tables in C-library memory, which is not scanned
// and keeps nothing alive), and checks them on every access, and everything in full every
// few thousand operations and at the end. A token or leaf freed while reachable is reused
// (zeroed, refilled) and shows as a wrong magic or key; the heap verifier (SHADE_VERIFY=1) stops
// the program first if a reachable object was left unmarked.
//
// The run lasts until the collector has completed 1000 concurrent (incremental) cycles, scaled
// by SHADE_TEST_SCALE, or a time cap on a machine too busy for that (CONC_EXPECT_CYCLES).
#include "conc_test.h"

enum {
  HIDE_THREADS = 4,
  TOKENS = 96,
  HAND = 8,
  GLOBAL_SLOTS = 32,
  ROOT_SLOTS = 32,
  UNCOLL_SLOTS = 32,
  SHELF_SLOTS = 32,
  INTERIOR_SLOTS = 16,
  TLS_SLOTS = 16,
  BIG_SLOTS = 40000, // a large object: scanned by the markers in several 128 KiB pieces
  EXCHANGE = 16,
  REGION = 64, // the head and the tail regions of the list, in nodes
  FULL_CHECK_EVERY = 4096,
};

enum kind {
  K_LIST,
  K_STACK,
  K_GLOBAL,
  K_ROOTS,
  K_UNCOLL,
  K_SHELF,
  K_INTERIOR_GLOBAL,
  K_INTERIOR_HEAP,
  K_TLS,
  K_BIG,
  KINDS
};
static const char *const kind_names[KINDS] = {
    "list",  "stack", "global", "roots", "uncoll", "shelf", "interior-global", "interior-heap",
    "tls",   "big"};

#define TOKEN_MAGIC 0xF0CE70CE70CE70CEull
#define LEAF_MAGIC 0xF1EAF1EAF1EAF1EAull
#define LNODE_MAGIC 0xF15770DE15770DEull
#define ANCHOR_MAGIC 0xFA4C40FA4C40FA4Cull
#define UNCOLL_MAGIC 0xF4C0114C0114C011ull
#define BOX_MAGIC 0xFB0BB0BB0BB0BB0Bull

struct leaf {
  uint64_t magic;
  uint64_t key; // tagged; the second leaf of a chain has the first one's key + 1
  struct leaf *next;
};

struct token {
  uint64_t magic;
  uint64_t key;             // tagged
  struct leaf *child[2];    // two chains
  uint64_t check;           // conc_hash(key)
};
// Typed tokens: words 2 and 3 are pointers.
static const uint64_t token_bitmap[1] = {0x0C};
static const struct shade_type token_type = {"hide token", sizeof(struct token), token_bitmap,
                                             NULL, 0};

struct lnode {
  uint64_t magic;
  uint64_t key; // tagged position in the list
  struct lnode *next;
  struct token *payload;
};

struct shelf_entry {
  uint64_t tag;
  struct token *token;
};
static const uint64_t shelf_bitmap[1] = {0x2};
static const struct shade_type shelf_type = {"hide shelf", sizeof(struct shelf_entry), shelf_bitmap,
                                             NULL, 0};

struct uncoll {
  uint64_t magic;
  struct token *slot[UNCOLL_SLOTS];
};

struct box {
  uint64_t magic;
  char *slot[INTERIOR_SLOTS];
};

struct big {
  uint64_t magic;
  struct token *slot[BIG_SLOTS];
};

struct anchor {
  uint64_t magic;
  struct big *big;
  struct lnode *head;
  struct uncoll *uncoll;
  struct shelf_entry *shelf;
  struct box *box;
};

// Globals (roots: every pointer store into them goes through SHADE_STORE).
static struct anchor *hide_anchor[HIDE_THREADS];
static struct token *hide_globals[HIDE_THREADS][GLOBAL_SLOTS];
static char *hide_interior[HIDE_THREADS][INTERIOR_SLOTS];
// Thread-local: scanned with the thread's stack, and written like the stack, without a barrier.
static __thread struct token *hide_tls[TLS_SLOTS];
static struct leaf *exchange[EXCHANGE];
static uint64_t exchange_key[EXCHANGE]; // guarded by exchange_lock, as exchange
static pthread_mutex_t exchange_lock = PTHREAD_MUTEX_INITIALIZER;

static atomic_ullong next_leaf_id;
static atomic_long bad_objects;
static atomic_int stop;
static atomic_long total_ops, total_moves, total_bursts, total_swaps, total_exchanges,
    total_replacements, total_full_checks;

// What a thread knows: C-library memory, never scanned.
struct hide_thread {
  int index;
  uint64_t rng;
  uint64_t seed;
  size_t list_length;
  struct lnode **node_by_id; // the list keeps them alive; this only finds them
  void **roots;              // the shade_add_roots range
  size_t slot_count[KINDS];
  int16_t *occupant[KINDS]; // token index in each slot, or -1
  uint8_t where_kind[TOKENS];
  uint32_t where_index[TOKENS];
  uint8_t offset[2][INTERIOR_SLOTS]; // byte offset of the interior pointer in each interior slot
  uint64_t token_key[TOKENS];
  uint64_t chain_key[TOKENS][2];
  uint64_t serial;
  long ops, moves, bursts, swaps, exchanges, replacements, full_checks;
};

static struct hide_thread threads_state[HIDE_THREADS];

// The thread's own roots: on its stack.
struct hide_local {
  struct anchor *anchor;
  struct token *hand[HAND];
};

// ---------------------------------------------------------------------------------------------
// Checking

static void report(struct hide_thread *ht, const char *where, const char *what, const void *p,
                   uint64_t seen, uint64_t expected) {
  if (atomic_fetch_add(&bad_objects, 1) < 20)
    fprintf(stderr,
            "thread %d (%s): bad %s %p: saw %#" PRIx64 ", expected %#" PRIx64
            " (shade_base %p, shade_size %zu)\n",
            ht ? ht->index : -1, where, what, p, seen, expected, p ? shade_base(p) : NULL,
            p ? shade_size(p) : 0);
}

// A chain is right when both leaves carry the expected keys (and the magic).
static int check_chain(struct hide_thread *ht, const struct leaf *l, uint64_t key,
                       const char *where) {
  if (l == NULL) {
    report(ht, where, "chain (NULL)", l, 0, key);
    return 0;
  }
  uint64_t magic = l->magic, seen_key = l->key;
  if (magic != LEAF_MAGIC) {
    report(ht, where, "leaf magic", l, magic, LEAF_MAGIC);
    return 0;
  }
  if (seen_key != key) {
    report(ht, where, "leaf key", l, seen_key, key);
    return 0;
  }
  const struct leaf *second = l->next;
  if (second == NULL) {
    report(ht, where, "second leaf (NULL)", l, 0, key + 1);
    return 0;
  }
  magic = second->magic;
  seen_key = second->key;
  if (magic != LEAF_MAGIC || seen_key != key + 1 || second->next != NULL) {
    report(ht, where, magic != LEAF_MAGIC ? "second leaf magic" : "second leaf key", second,
           magic != LEAF_MAGIC ? magic : seen_key, magic != LEAF_MAGIC ? LEAF_MAGIC : key + 1);
    return 0;
  }
  return 1;
}

static int check_token(struct hide_thread *ht, int i, const struct token *p, const char *where) {
  if (p == NULL) {
    report(ht, where, "token (NULL)", p, 0, ht->token_key[i]);
    return 0;
  }
  uint64_t magic = p->magic, key = p->key, check = p->check;
  if (magic != TOKEN_MAGIC) {
    report(ht, where, "token magic", p, magic, TOKEN_MAGIC);
    return 0;
  }
  if (key != ht->token_key[i]) {
    report(ht, where, "token key", p, key, ht->token_key[i]);
    return 0;
  }
  if (check != conc_hash(key)) {
    report(ht, where, "token check", p, check, conc_hash(key));
    return 0;
  }
  return check_chain(ht, p->child[0], ht->chain_key[i][0], where) &&
         check_chain(ht, p->child[1], ht->chain_key[i][1], where);
}

static struct lnode *list_node(struct hide_thread *ht, uint32_t id, const char *where) {
  struct lnode *n = ht->node_by_id[id];
  uint64_t magic = n->magic, key = n->key;
  if (magic != LNODE_MAGIC || key != (CONC_TAG | id))
    report(ht, where, magic != LNODE_MAGIC ? "list node magic" : "list node key", n,
           magic != LNODE_MAGIC ? magic : key, magic != LNODE_MAGIC ? LNODE_MAGIC : CONC_TAG | id);
  return n;
}

static struct anchor *check_anchor(struct hide_thread *ht, struct hide_local *local,
                                   const char *where) {
  struct anchor *a = local->anchor;
  if (a->magic != ANCHOR_MAGIC)
    report(ht, where, "anchor", a, a->magic, ANCHOR_MAGIC);
  if (a->uncoll->magic != UNCOLL_MAGIC)
    report(ht, where, "uncollectable holder", a->uncoll, a->uncoll->magic, UNCOLL_MAGIC);
  if (a->box->magic != BOX_MAGIC)
    report(ht, where, "interior box", a->box, a->box->magic, BOX_MAGIC);
  if (a->big->magic != BOX_MAGIC)
    report(ht, where, "big array", a->big, a->big->magic, BOX_MAGIC);
  return a;
}

// ---------------------------------------------------------------------------------------------
// Slots

// The address of slot `index` of `kind`, and the object it is in (NULL: a root).
static void **slot_of(struct hide_thread *ht, struct hide_local *local, int kind, uint32_t index,
                      void **owner, const char *where) {
  struct anchor *a = local->anchor;
  *owner = NULL;
  switch (kind) {
  case K_LIST: {
    struct lnode *n = list_node(ht, index, where);
    *owner = n;
    return (void **)&n->payload;
  }
  case K_STACK:
    return (void **)&local->hand[index];
  case K_GLOBAL:
    return (void **)&hide_globals[ht->index][index];
  case K_ROOTS:
    return &ht->roots[index];
  case K_UNCOLL:
    *owner = a->uncoll;
    return (void **)&a->uncoll->slot[index];
  case K_SHELF:
    *owner = a->shelf;
    return (void **)&a->shelf[index].token;
  case K_INTERIOR_GLOBAL:
    return (void **)&hide_interior[ht->index][index];
  case K_INTERIOR_HEAP:
    *owner = a->box;
    return (void **)&a->box->slot[index];
  case K_TLS:
    return (void **)&hide_tls[index];
  case K_BIG:
    *owner = a->big;
    return (void **)&a->big->slot[index];
  }
  abort();
}

static size_t interior_offset(struct hide_thread *ht, int kind, uint32_t index) {
  if (kind == K_INTERIOR_GLOBAL)
    return ht->offset[0][index];
  if (kind == K_INTERIOR_HEAP)
    return ht->offset[1][index];
  return 0;
}

static struct token *slot_get(struct hide_thread *ht, struct hide_local *local, int kind,
                              uint32_t index, const char *where) {
  void *owner;
  void **slot = slot_of(ht, local, kind, index, &owner, where);
  char *value = *(void *volatile *)slot;
  return value == NULL ? NULL : (struct token *)(value - interior_offset(ht, kind, index));
}

static void slot_put(struct hide_thread *ht, struct hide_local *local, int kind, uint32_t index,
                     struct token *p, const char *where) {
  if (p != NULL && (kind == K_INTERIOR_GLOBAL || kind == K_INTERIOR_HEAP)) {
    // an interior pointer: just past the header, inside a field, or one past the end
    static const uint8_t offsets[] = {1, 8, 17, 31, sizeof(struct token)};
    ht->offset[kind == K_INTERIOR_HEAP][index] =
        offsets[shade_test_random(&ht->rng) % sizeof offsets];
  }
  void *owner;
  void **slot = slot_of(ht, local, kind, index, &owner, where);
  void *value = p == NULL ? NULL : (char *)p + interior_offset(ht, kind, index);
  if (kind == K_STACK || kind == K_TLS)
    *(void *volatile *)slot = value; // a stack or thread-local word: no barrier
  else
    shade_write(owner, slot, value);
}

static void occupy(struct hide_thread *ht, int token, int kind, uint32_t index) {
  ht->occupant[kind][index] = (int16_t)token;
  ht->where_kind[token] = (uint8_t)kind;
  ht->where_index[token] = index;
}

// A random free slot of `kind` within [lo, hi) (hi 0: the whole kind); 0 if none found.
static int find_free(struct hide_thread *ht, int kind, uint32_t lo, uint32_t hi, uint32_t *index) {
  if (hi == 0)
    hi = (uint32_t)ht->slot_count[kind];
  for (int tries = 0; tries < 16; tries++) {
    uint32_t i = lo + (uint32_t)(shade_test_random(&ht->rng) % (hi - lo));
    if (ht->occupant[kind][i] < 0) {
      *index = i;
      return 1;
    }
  }
  return 0;
}

static int random_kind(struct hide_thread *ht) {
  // the list most often (the head/tail game), every other kind regularly
  uint64_t r = shade_test_random(&ht->rng) % 16;
  if (r < 6)
    return K_LIST;
  if (r < 8) // the ends of the big array, or anywhere in it
    return K_BIG;
  return (int)(1 + (r - 8) % (K_BIG - 1));
}

// A destination for a token now at (kind, index): from one end of the list to the other half
// of the time, else anywhere.
static int pick_destination(struct hide_thread *ht, int kind, uint32_t index, int *dest_kind,
                            uint32_t *dest_index) {
  if ((kind == K_LIST || kind == K_BIG) && shade_test_random(&ht->rng) % 2 == 0) {
    uint32_t length = (uint32_t)ht->slot_count[kind];
    *dest_kind = kind;
    if (index >= length - REGION)
      return find_free(ht, kind, 0, REGION, dest_index);
    if (index < REGION)
      return find_free(ht, kind, length - REGION, length, dest_index);
  }
  *dest_kind = random_kind(ht);
  return find_free(ht, *dest_kind, 0, 0, dest_index);
}

// ---------------------------------------------------------------------------------------------
// Objects

static struct leaf *new_chain(struct hide_thread *ht, uint64_t *key) {
  uint64_t id = atomic_fetch_add(&next_leaf_id, 2);
  *key = CONC_TAG | id;
  struct leaf *second = shade_malloc(sizeof *second);
  struct leaf *first = shade_malloc(sizeof *first);
  if (first == NULL || second == NULL) {
    fprintf(stderr, "out of memory\n");
    abort();
  }
  second->magic = LEAF_MAGIC;
  second->key = *key + 1;
  first->magic = LEAF_MAGIC;
  first->key = *key;
  shade_write(first, (void **)&first->next, second);
  (void)ht;
  return first;
}

static struct token *new_token_object(struct hide_thread *ht, int i) {
  int typed = shade_test_random(&ht->rng) % 3 == 0;
  struct token *p = typed ? shade_malloc_typed(sizeof *p, &token_type) : shade_malloc(sizeof *p);
  if (p == NULL) {
    fprintf(stderr, "out of memory\n");
    abort();
  }
  ht->token_key[i] = CONC_TAG | ((uint64_t)ht->index << 48) | ht->serial++;
  p->magic = TOKEN_MAGIC;
  p->key = ht->token_key[i];
  p->check = conc_hash(p->key);
  return p;
}

// ---------------------------------------------------------------------------------------------
// Operations

// Moves token i to a free slot, clearing the source first or last.
static void move_token(struct hide_thread *ht, struct hide_local *local, int i) {
  int kind = ht->where_kind[i];
  uint32_t index = ht->where_index[i];
  int dest_kind;
  uint32_t dest_index;
  if (!pick_destination(ht, kind, index, &dest_kind, &dest_index))
    return;
  struct token *p = slot_get(ht, local, kind, index, "move");
  if (!check_token(ht, i, p, "move (source)"))
    return;
  if (shade_test_random(&ht->rng) % 2 == 0) {
    slot_put(ht, local, kind, index, NULL, "move");
    ht->occupant[kind][index] = -1;
    conc_garbage(&ht->rng); // the token is in a local variable only
    slot_put(ht, local, dest_kind, dest_index, p, "move");
  } else {
    slot_put(ht, local, dest_kind, dest_index, p, "move");
    conc_garbage(&ht->rng);
    slot_put(ht, local, kind, index, NULL, "move");
    ht->occupant[kind][index] = -1;
  }
  occupy(ht, i, dest_kind, dest_index);
  p = NULL;
  ht->moves++;
}

// Every token in one end region of the list goes to the other end, all taken out first.
static void burst(struct hide_thread *ht, struct hide_local *local) {
  uint32_t length = (uint32_t)ht->list_length;
  int tail_to_head = shade_test_random(&ht->rng) % 2 == 0;
  uint32_t from = tail_to_head ? length - REGION : 0, to = tail_to_head ? 0 : length - REGION;
  struct token *in_flight[REGION];
  int which[REGION];
  int n = 0;
  for (uint32_t id = from; id < from + REGION; id++) {
    int i = ht->occupant[K_LIST][id];
    if (i < 0)
      continue;
    struct token *p = slot_get(ht, local, K_LIST, id, "burst");
    if (!check_token(ht, i, p, "burst (source)"))
      continue;
    slot_put(ht, local, K_LIST, id, NULL, "burst");
    ht->occupant[K_LIST][id] = -1;
    in_flight[n] = p;
    which[n++] = i;
  }
  for (int g = 0; g < 32; g++) // while they are on this stack only
    conc_garbage(&ht->rng);
  for (int k = 0; k < n; k++) {
    uint32_t dest;
    if (!find_free(ht, K_LIST, to, to + REGION, &dest) && !find_free(ht, K_LIST, 0, 0, &dest)) {
      for (dest = 0; ht->occupant[K_LIST][dest] >= 0; dest++) {
      }
    }
    slot_put(ht, local, K_LIST, dest, in_flight[k], "burst");
    in_flight[k] = NULL;
    occupy(ht, which[k], K_LIST, dest);
  }
  ht->bursts++;
}

// Tokens a and b exchange one chain each.
static void swap_chains(struct hide_thread *ht, struct hide_local *local, int a, int b) {
  struct token *pa = slot_get(ht, local, ht->where_kind[a], ht->where_index[a], "swap");
  struct token *pb = slot_get(ht, local, ht->where_kind[b], ht->where_index[b], "swap");
  if (!check_token(ht, a, pa, "swap (a)") || !check_token(ht, b, pb, "swap (b)"))
    return;
  int sa = (int)(shade_test_random(&ht->rng) % 2), sb = (int)(shade_test_random(&ht->rng) % 2);
  struct leaf *la = pa->child[sa], *lb = pb->child[sb];
  shade_write(pa, (void **)&pa->child[sa], lb);
  conc_garbage(&ht->rng); // la is held by this frame only
  shade_write(pb, (void **)&pb->child[sb], la);
  uint64_t key = ht->chain_key[a][sa];
  ht->chain_key[a][sa] = ht->chain_key[b][sb];
  ht->chain_key[b][sb] = key;
  ht->swaps++;
}

// Token i swaps a chain with the global exchange: chains travel between threads.
static void swap_with_exchange(struct hide_thread *ht, struct hide_local *local, int i) {
  struct token *p = slot_get(ht, local, ht->where_kind[i], ht->where_index[i], "exchange");
  if (!check_token(ht, i, p, "exchange (token)"))
    return;
  int side = (int)(shade_test_random(&ht->rng) % 2);
  int e = (int)(shade_test_random(&ht->rng) % EXCHANGE);
  shade_test_lock(&exchange_lock);
  struct leaf *theirs = exchange[e];
  uint64_t their_key = exchange_key[e];
  if (check_chain(ht, theirs, their_key, "exchange (chain)")) {
    struct leaf *mine = p->child[side];
    SHADE_STORE(exchange[e], NULL);
    shade_write(p, (void **)&p->child[side], theirs);
    conc_garbage(&ht->rng); // mine is held by this frame only
    SHADE_STORE(exchange[e], mine);
    exchange_key[e] = ht->chain_key[i][side];
    ht->chain_key[i][side] = their_key;
  }
  pthread_mutex_unlock(&exchange_lock);
  ht->exchanges++;
}

// Token i is replaced by a new object that takes its chains; the old one's words are cleared,
// so the new (black) object holds the only references to the (maybe white) chains.
static void replace_token(struct hide_thread *ht, struct hide_local *local, int i) {
  int kind = ht->where_kind[i];
  uint32_t index = ht->where_index[i];
  struct token *old = slot_get(ht, local, kind, index, "replace");
  if (!check_token(ht, i, old, "replace (old)"))
    return;
  uint64_t old_key = ht->token_key[i];
  struct token *fresh = new_token_object(ht, i);
  shade_write(fresh, (void **)&fresh->child[0], old->child[0]);
  shade_write(fresh, (void **)&fresh->child[1], old->child[1]);
  shade_write(old, (void **)&old->child[0], NULL);
  shade_write(old, (void **)&old->child[1], NULL);
  conc_garbage(&ht->rng);
  slot_put(ht, local, kind, index, fresh, "replace");
  (void)old_key;
  if (shade_test_random(&ht->rng) % 4 == 0) { // and a chain is replaced by a new one
    int side = (int)(shade_test_random(&ht->rng) % 2);
    uint64_t key;
    struct leaf *chain = new_chain(ht, &key);
    shade_write(fresh, (void **)&fresh->child[side], chain);
    ht->chain_key[i][side] = key;
  }
  ht->replacements++;
}

// Everything this thread owns, in full.
static void full_check(struct hide_thread *ht, struct hide_local *local, const char *where) {
  struct anchor *a = check_anchor(ht, local, where);
  // the list: every node in order, and no token where none should be
  size_t count = 0;
  for (struct lnode *n = a->head; n != NULL && count < ht->list_length; n = n->next, count++) {
    if (n != ht->node_by_id[count]) {
      report(ht, where, "list link", n, (uint64_t)(uintptr_t)n,
             (uint64_t)(uintptr_t)ht->node_by_id[count]);
      break;
    }
    list_node(ht, (uint32_t)count, where);
  }
  if (count != ht->list_length)
    report(ht, where, "list length", a->head, count, ht->list_length);
  for (int kind = 0; kind < KINDS; kind++)
    for (uint32_t index = 0; index < ht->slot_count[kind]; index++) {
      struct token *p = slot_get(ht, local, kind, index, where);
      int i = ht->occupant[kind][index];
      if (i < 0 && p != NULL)
        report(ht, where, kind_names[kind], p, (uint64_t)(uintptr_t)p, 0);
      else if (i >= 0)
        check_token(ht, i, p, kind_names[kind]);
    }
  ht->full_checks++;
}

// ---------------------------------------------------------------------------------------------
// The thread

static SHADE_TEST_NOINLINE void set_up(struct hide_thread *ht, struct hide_local *local) {
  size_t length = ht->list_length;
  ht->node_by_id = calloc(length, sizeof *ht->node_by_id);
  ht->roots = calloc(ROOT_SLOTS, sizeof *ht->roots);
  const size_t counts[KINDS] = {length,       HAND,           GLOBAL_SLOTS,   ROOT_SLOTS,
                                UNCOLL_SLOTS, SHELF_SLOTS,    INTERIOR_SLOTS, INTERIOR_SLOTS,
                                TLS_SLOTS,    BIG_SLOTS};
  for (int k = 0; k < KINDS; k++) {
    ht->slot_count[k] = counts[k];
    ht->occupant[k] = malloc(counts[k] * sizeof(int16_t));
    for (size_t i = 0; i < counts[k]; i++)
      ht->occupant[k][i] = -1;
  }
  if (ht->node_by_id == NULL || ht->roots == NULL) {
    fprintf(stderr, "out of C memory\n");
    abort();
  }
  shade_add_roots(ht->roots, ht->roots + ROOT_SLOTS);

  struct anchor *a = shade_malloc(sizeof *a);
  a->magic = ANCHOR_MAGIC;
  local->anchor = a;
  SHADE_STORE(hide_anchor[ht->index], a);
  struct uncoll *u = shade_malloc_uncollectable(sizeof *u);
  u->magic = UNCOLL_MAGIC;
  shade_write(a, (void **)&a->uncoll, u);
  shade_write(a, (void **)&a->shelf, shade_malloc_typed(SHELF_SLOTS * sizeof(struct shelf_entry),
                                                        &shelf_type));
  for (int i = 0; i < SHELF_SLOTS; i++)
    a->shelf[i].tag = CONC_TAG | (uint64_t)i;
  struct box *b = shade_malloc(sizeof *b);
  b->magic = BOX_MAGIC;
  shade_write(a, (void **)&a->box, b);
  struct big *big = shade_malloc(sizeof *big);
  big->magic = BOX_MAGIC;
  shade_write(a, (void **)&a->big, big);

  // the list, built from its tail
  struct lnode *next = NULL;
  for (size_t id = length; id-- > 0;) {
    struct lnode *n = shade_malloc(sizeof *n);
    n->magic = LNODE_MAGIC;
    n->key = CONC_TAG | id;
    shade_write(n, (void **)&n->next, next);
    ht->node_by_id[id] = n;
    next = n;
  }
  shade_write(a, (void **)&a->head, next);

  // the tokens, spread over every kind of slot
  for (int i = 0; i < TOKENS; i++) {
    struct token *p = new_token_object(ht, i);
    for (int side = 0; side < 2; side++) {
      uint64_t key;
      struct leaf *chain = new_chain(ht, &key);
      shade_write(p, (void **)&p->child[side], chain);
      ht->chain_key[i][side] = key;
    }
    int kind = i % KINDS;
    uint32_t index;
    if (!find_free(ht, kind, 0, 0, &index)) {
      kind = K_LIST;
      while (!find_free(ht, kind, 0, 0, &index)) {
      }
    }
    slot_put(ht, local, kind, index, p, "set up");
    occupy(ht, i, kind, index);
  }
}

static SHADE_TEST_NOINLINE void tear_down(struct hide_thread *ht, struct hide_local *local) {
  shade_remove_roots(ht->roots, ht->roots + ROOT_SLOTS);
  struct anchor *a = local->anchor;
  struct uncoll *u = a->uncoll;
  shade_write(a, (void **)&a->uncoll, NULL);
  shade_free(u);
  free(ht->roots);
  free(ht->node_by_id);
  for (int k = 0; k < KINDS; k++)
    free(ht->occupant[k]);
}

static void *hide_worker(void *arg) {
  struct hide_thread *ht = arg;
  struct hide_local local;
  memset(&local, 0, sizeof local);
  set_up(ht, &local);
  full_check(ht, &local, "after set-up");

  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    uint64_t r = shade_test_random(&ht->rng) % 1000;
    int i = (int)(shade_test_random(&ht->rng) % TOKENS);
    if (r < 500) {
      move_token(ht, &local, i);
    } else if (r < 540) {
      burst(ht, &local);
    } else if (r < 700) {
      int j = (int)(shade_test_random(&ht->rng) % TOKENS);
      if (j != i)
        swap_chains(ht, &local, i, j);
    } else if (r < 740) {
      swap_with_exchange(ht, &local, i);
    } else if (r < 800) {
      replace_token(ht, &local, i);
    } else if (r < 999) {
      struct token *p = slot_get(ht, &local, ht->where_kind[i], ht->where_index[i], "look");
      check_token(ht, i, p, "look");
    } else if (shade_test_random(&ht->rng) % 128 == 0) {
      shade_collect(); // now and then a full collection, finishing the marking under way
    }
    conc_garbage(&ht->rng);
    if (++ht->ops % FULL_CHECK_EVERY == 0)
      full_check(ht, &local, "periodic");
  }

  full_check(ht, &local, "at the end");
  shade_collect();
  full_check(ht, &local, "after a last shade_collect");
  tear_down(ht, &local);
  atomic_fetch_add(&total_ops, ht->ops);
  atomic_fetch_add(&total_moves, ht->moves);
  atomic_fetch_add(&total_bursts, ht->bursts);
  atomic_fetch_add(&total_swaps, ht->swaps);
  atomic_fetch_add(&total_exchanges, ht->exchanges);
  atomic_fetch_add(&total_replacements, ht->replacements);
  atomic_fetch_add(&total_full_checks, ht->full_checks);
  return NULL;
}

static SHADE_TEST_NOINLINE void fill_exchange(uint64_t *rng) {
  for (int e = 0; e < EXCHANGE; e++) {
    uint64_t key;
    struct leaf *chain = new_chain(NULL, &key);
    shade_test_lock(&exchange_lock);
    SHADE_STORE(exchange[e], chain);
    exchange_key[e] = key;
    pthread_mutex_unlock(&exchange_lock);
    conc_garbage(rng);
  }
}

static void test_hidden_references_survive_every_phase(void) {
  uint64_t seed = shade_test_seed();
  uint64_t rng = seed;
  const uint64_t target_cycles = shade_test_scaled(1000, 40);
  const size_t list_length = shade_test_scaled(8192, 512);
  fprintf(stderr, "%d threads, %d tokens each, list of %zu nodes, waiting for %" PRIu64
          " concurrent cycles\n", HIDE_THREADS, TOKENS, list_length, target_cycles);
  atomic_store(&next_leaf_id, 2);
  fill_exchange(&rng);

  struct shade_stats before = shade_test_stats();
  pthread_t threads[HIDE_THREADS];
  for (int t = 0; t < HIDE_THREADS; t++) {
    threads_state[t] = (struct hide_thread){
        .index = t, .rng = seed + 0x1000193u * (uint64_t)(t + 1), .list_length = list_length};
    SHADE_TEST_EXPECT(shade_pthread_create(&threads[t], NULL, hide_worker, &threads_state[t]) == 0);
  }
  double start = shade_test_now(), cap = conc_cap(25.0);
  struct shade_stats now = conc_wait_for_cycles(&before, target_cycles, cap);
  atomic_store(&stop, 1);
  for (int t = 0; t < HIDE_THREADS; t++)
    pthread_join(threads[t], NULL);
  struct shade_stats after = shade_test_stats();

  fprintf(stderr,
          "%.1f s: %ld operations: %ld moves, %ld bursts, %ld chain swaps, %ld exchanges, "
          "%ld replacements, %ld full checks\n",
          shade_test_now() - start, atomic_load(&total_ops), atomic_load(&total_moves),
          atomic_load(&total_bursts), atomic_load(&total_swaps), atomic_load(&total_exchanges),
          atomic_load(&total_replacements), atomic_load(&total_full_checks));
  conc_print_stats("hide", &before, &after);
  SHADE_TEST_EXPECTF(atomic_load(&bad_objects) == 0, "%ld damaged or missing objects seen",
                     atomic_load(&bad_objects));
  CONC_EXPECT_CYCLES(now.concurrent_cycles - before.concurrent_cycles, target_cycles, cap,
                     now.cycles - before.cycles);
  SHADE_TEST_EXPECT(atomic_load(&total_moves) > 0 && atomic_load(&total_bursts) > 0);

  // The chains left in the exchange are intact, after one more full collection.
  shade_test_collect_clean();
  shade_test_lock(&exchange_lock);
  for (int e = 0; e < EXCHANGE; e++)
    check_chain(NULL, exchange[e], exchange_key[e], "exchange at the end");
  pthread_mutex_unlock(&exchange_lock);
  SHADE_TEST_EXPECTF(atomic_load(&bad_objects) == 0, "%ld damaged or missing objects in all",
                     atomic_load(&bad_objects));
}

int main(int argc, char **argv) {
  conc_start(conc_mode_from_args(argc, argv),
             (struct conc_pacing){.gc_percent = 5, .min_heap_goal = (size_t)1 << 20});
  SHADE_TEST_RUN(test_hidden_references_survive_every_phase);
  return shade_test_finish();
}
