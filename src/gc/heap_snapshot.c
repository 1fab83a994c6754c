// heap_snapshot.c: the live heap written as a V8 heap snapshot (the JSON that Chrome DevTools'
// Memory panel loads), so that its Retainers view answers "why is this object alive?".
//
// The graph is the one marking follows. Nodes: a synthetic root; under it "(GC roots)"; under
// that one synthetic node per root (the stack, registers and TLS of each registered thread, each
// writable data segment named by its object's path, each shade_add_roots range, and
// "(uncollectable objects)"); then every live object. Edges: every word marking would follow
// that lands in a live object (conservative and uncollectable objects: every aligned word,
// interior pointers included; typed: the bitmap's words or the trace callback's visits; atomic:
// none), as "element" edges named by the word's index ([3]; trace visits by their order), and
// root words as "property" edges named by their offset ("sp+0x40", "+0x4010" from the data
// segment's load address, which is what nm and gdb print for a global).
//
// When: collector_collect_inspecting runs a full collection and calls snapshot_in_pause right
// after marking, world stopped: "live" is "marked" (and allocated). Memory for the walk is mapped
// from the OS and output goes through a buffer to write(2) (a stopped thread may hold malloc's
// or stdio's lock).
//
// Node indices: 0 root, 1 (GC roots), 2.. the root nodes, then the objects span by span in the
// order of the central lists and the large list, by address within a span. An edge names its
// target by index, so a word is turned into a node index in O(1): the span's record (a hash of
// span records) holds its first node's index, a bitmap of its live objects and, per bitmap
// word, the live objects before it; the object's index is the sum plus a popcount.
//
// Node ids (V8: odd for heap objects, even for synthetic nodes; DevTools reads them as 32-bit):
// synthetic node i has id 2(i+1); an object at address a has id 2((a/8) mod 2^31) + 1, unique
// while the heap spans less than 16 GiB and stable across snapshots (objects do not move), which
// DevTools' Comparison view uses. A wider heap falls back to 2(node index) + 1.
//
// Passes, all in the pause: list the roots; record the spans; count each node's edges (the
// header gives the counts first); write the nodes; walk again writing the edges; write the
// strings. Walking twice costs a second scan of the heap but no memory per edge.
#define _GNU_SOURCE
#include "gc/heap_snapshot.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "alloc/arena.h"
#include "alloc/central.h"
#include "alloc/large.h"
#include "gc/collector.h"
#include "gc/roots.h"
#include "gc/snapshot_output.h"
#include "gc/snapshot_strings.h"
#include "os/os_memory.h"

// The V8 format's field lists (meta), and the indices of the types used.
#define NODE_FIELD_COUNT 7
enum { NODE_HIDDEN = 0, NODE_OBJECT = 3, NODE_NATIVE = 8, NODE_SYNTHETIC = 9 };
enum { EDGE_ELEMENT = 1, EDGE_PROPERTY = 2 };
#define SYNTHETIC_BASE_NODES 2 // the root and (GC roots)

enum root_node_kind { ROOT_NODE_THREAD, ROOT_NODE_SEGMENT, ROOT_NODE_USER, ROOT_NODE_UNCOLLECTABLE };

struct root_node {
  enum root_node_kind kind;
  struct shade_thread *thread; // threads
  uintptr_t stack_from;        // threads: where the live stack starts
  uintptr_t lo, hi;            // segments and user ranges
  uintptr_t load_base;         // segments
  const char *path;            // segments
};

struct span_nodes {
  struct span *span;
  uint32_t first_node; // index of the span's first live object
  uint32_t name;       // string index of its objects' name (all but typed objects)
  uint64_t *live;      // allocated and marked, one bit per object
  uint32_t *rank;      // per bitmap word: live objects in the words before it
};

enum pass { PASS_COUNT, PASS_WRITE };

struct walk {
  struct snapshot_strings strings;
  struct snapshot_output out;
  int error;
  // roots
  struct root_node *roots;
  uint32_t root_count, root_capacity;
  struct shade_thread *self;
  uintptr_t self_stack_pointer;
  // spans and their objects
  struct span_nodes *spans;
  uint32_t span_count, span_capacity;
  uint32_t *span_slots; // open addressing, span record index + 1
  uint32_t span_slot_count;
  uint64_t *bits;       // every span's live bitmap, then every span's ranks, carved out in order
  size_t bit_words, bit_words_used;
  uint32_t *ranks;
  struct span_nodes *last_lookup;
  // nodes and edges
  uint32_t node_count;
  bool address_ids;
  uint32_t *edge_counts; // by node index
  uint64_t edge_total;
  enum pass pass;
  uint32_t node;         // the node whose edges are being walked
  uint32_t visit_order;  // trace callbacks: visits so far in this object
  uint64_t edges_written;
  char program[4096];    // the program's path, for its data segments (the loader names it "")
};

// ---- memory ---------------------------------------------------------------------------------

static void *walk_map(struct walk *w, size_t bytes) {
  if (bytes == 0)
    bytes = 1;
  void *p = os_map(bytes);
  if (p == NULL)
    w->error = ENOMEM;
  return p;
}

static void walk_unmap(void *p, size_t bytes) {
  if (p)
    os_unmap(p, bytes ? bytes : 1);
}

// ---- roots ----------------------------------------------------------------------------------

static void add_root(struct walk *w, struct root_node root) {
  if (w->root_count < w->root_capacity)
    w->roots[w->root_count++] = root;
}

static void count_range(enum root_range_kind kind, const char *name, uintptr_t load_base,
                        uintptr_t lo, uintptr_t hi, void *context) {
  (void)kind, (void)name, (void)load_base, (void)lo, (void)hi;
  ((struct walk *)context)->root_capacity++;
}

static void add_range(enum root_range_kind kind, const char *name, uintptr_t load_base,
                      uintptr_t lo, uintptr_t hi, void *context) {
  struct walk *w = context;
  if (kind == ROOT_DATA_SEGMENT)
    add_root(w, (struct root_node){.kind = ROOT_NODE_SEGMENT, .lo = lo, .hi = hi,
                                   .load_base = load_base, .path = name});
  else
    add_root(w, (struct root_node){.kind = ROOT_NODE_USER, .lo = lo, .hi = hi});
}

static void list_roots(struct walk *w) {
  w->root_capacity = 1; // (uncollectable objects)
  for (struct shade_thread *t = threads_first(); t; t = t->next)
    w->root_capacity++;
  roots_for_each_range(count_range, w);
  w->roots = walk_map(w, w->root_capacity * sizeof *w->roots);
  if (w->roots == NULL)
    return;
  for (struct shade_thread *t = threads_first(); t; t = t->next)
    add_root(w, (struct root_node){.kind = ROOT_NODE_THREAD, .thread = t,
                                   .stack_from = t == w->self ? w->self_stack_pointer
                                                              : t->stack_pointer});
  roots_for_each_range(add_range, w);
  add_root(w, (struct root_node){.kind = ROOT_NODE_UNCOLLECTABLE});
}

// ---- spans: which objects are live, and their node indices ---------------------------------

static bool span_is_walked(const struct span *s) { return s->kind != KIND_MANUAL; }

static void count_span(struct span *s, void *context) {
  struct walk *w = context;
  if (!span_is_walked(s))
    return;
  w->span_capacity++;
  w->bit_words += span_bitmap_words(s);
}

static void for_each_span(struct walk *w, void (*fn)(struct span *, void *)) {
  for (unsigned c = 0; c < SPAN_CLASS_COUNT; c++)
    if (c / KIND_COUNT != 0) // size class 0 is the large objects'
      central_for_each_span(c, fn, w);
  for (struct span *s = large_first(); s; s = s->next)
    fn(s, w);
}

static void format_kind_name(char *out, size_t room, const struct span *s) {
  static const char *const kinds[KIND_COUNT] = {"conservative", "atomic", "typed",
                                                "uncollectable", "manual"};
  const char *kind = kinds[s->kind];
  size_t n = strlen(kind);
  memcpy(out, kind, n);
  if (s->state == SPAN_LARGE) {
    memcpy(out + n, " large", 7);
    return;
  }
  out[n++] = ' ';
  n += format_uint(out + n, s->object_size);
  memcpy(out + n, " bytes", 7);
  (void)room;
}

static void record_span(struct span *s, void *context) {
  struct walk *w = context;
  if (!span_is_walked(s) || w->span_count == w->span_capacity)
    return;
  uint32_t words = span_bitmap_words(s);
  if (w->bit_words_used + words > w->bit_words)
    return;
  uint64_t *live = w->bits + w->bit_words_used;
  uint32_t *rank = w->ranks + w->bit_words_used;
  uint32_t count = 0;
  for (uint32_t i = 0; i < s->object_count; i++)
    if (span_object_is_allocated(s, i) && span_object_is_marked(s, i))
      live[i / 64] |= (uint64_t)1 << (i % 64);
  for (uint32_t k = 0; k < words; k++) {
    rank[k] = count;
    count += (uint32_t)__builtin_popcountll(live[k]);
  }
  if (count == 0) {
    memset(live, 0, words * sizeof *live);
    return;
  }
  w->bit_words_used += words;
  char name[64];
  format_kind_name(name, sizeof name, s);
  w->spans[w->span_count++] = (struct span_nodes){
      .span = s, .first_node = w->node_count, .name = snapshot_strings_intern_text(&w->strings,
                                                                                  name),
      .live = live, .rank = rank};
  w->node_count += count;
}

static uint32_t span_slot_of(const struct walk *w, const struct span *s) {
  uint64_t h = (uint64_t)(uintptr_t)s * 0x9e3779b97f4a7c15ull;
  return (uint32_t)(h >> 32) & (w->span_slot_count - 1);
}

static void index_spans(struct walk *w) {
  w->span_slot_count = 16;
  while (w->span_slot_count < 2 * w->span_count)
    w->span_slot_count *= 2;
  w->span_slots = walk_map(w, w->span_slot_count * sizeof *w->span_slots);
  if (w->span_slots == NULL)
    return;
  for (uint32_t i = 0; i < w->span_count; i++) {
    uint32_t slot = span_slot_of(w, w->spans[i].span);
    while (w->span_slots[slot])
      slot = (slot + 1) & (w->span_slot_count - 1);
    w->span_slots[slot] = i + 1;
  }
}

static struct span_nodes *span_nodes_of(struct walk *w, const struct span *s) {
  if (w->last_lookup && w->last_lookup->span == s)
    return w->last_lookup;
  for (uint32_t slot = span_slot_of(w, s); w->span_slots[slot];
       slot = (slot + 1) & (w->span_slot_count - 1)) {
    struct span_nodes *sn = &w->spans[w->span_slots[slot] - 1];
    if (sn->span == s)
      return w->last_lookup = sn;
  }
  return NULL;
}

static void record_spans(struct walk *w) {
  for_each_span(w, count_span);
  w->spans = walk_map(w, w->span_capacity * sizeof *w->spans);
  w->bits = walk_map(w, w->bit_words * sizeof *w->bits);
  w->ranks = walk_map(w, w->bit_words * sizeof *w->ranks);
  if (w->error)
    return;
  w->node_count = SYNTHETIC_BASE_NODES + w->root_count;
  for_each_span(w, record_span);
  index_spans(w);
}

// The node of the live object `word` points into, if any.
static bool node_of_word(struct walk *w, uintptr_t word, uint32_t *node) {
  uint32_t index;
  struct span *s = arena_object_of(word, &index);
  if (s == NULL || !span_is_walked(s))
    return false;
  struct span_nodes *sn = span_nodes_of(w, s);
  if (sn == NULL)
    return false;
  uint64_t bits = sn->live[index / 64], bit = (uint64_t)1 << (index % 64);
  if (!(bits & bit))
    return false;
  *node = sn->first_node + sn->rank[index / 64] + (uint32_t)__builtin_popcountll(bits & (bit - 1));
  return true;
}

// ---- edges ----------------------------------------------------------------------------------

static void edge(struct walk *w, unsigned type, uint32_t name_or_index, uint32_t target) {
  if (w->pass == PASS_COUNT) {
    w->edge_counts[w->node]++;
    return;
  }
  struct snapshot_output *o = &w->out;
  if (w->edges_written++)
    snapshot_output_text(o, ",\n");
  snapshot_output_uint(o, type);
  snapshot_output_char(o, ',');
  snapshot_output_uint(o, name_or_index);
  snapshot_output_char(o, ',');
  snapshot_output_uint(o, (uint64_t)target * NODE_FIELD_COUNT);
}

// A property edge named prefix + "0x" + hex offset (interned only when writing).
static void named_edge(struct walk *w, const char *prefix, uintptr_t offset, uint32_t target) {
  uint32_t name = 0;
  if (w->pass == PASS_WRITE) {
    char text[64];
    size_t n = strlen(prefix);
    memcpy(text, prefix, n);
    text[n++] = '0';
    text[n++] = 'x';
    int shift = 60;
    while (shift > 0 && ((offset >> shift) & 15) == 0)
      shift -= 4;
    for (; shift >= 0; shift -= 4)
      text[n++] = "0123456789abcdef"[(offset >> shift) & 15];
    name = snapshot_strings_intern(&w->strings, text, n);
  }
  edge(w, EDGE_PROPERTY, name, target);
}

// Roots: every aligned word of [lo, hi) that lands in a live object.
SHADE_NO_SANITIZE static void root_range_edges(struct walk *w, uintptr_t lo, uintptr_t hi,
                                               const char *prefix, uintptr_t name_base,
                                               bool by_element) {
  lo = align_up(lo, WORD_SIZE);
  for (uintptr_t p = lo; p + WORD_SIZE <= hi; p += WORD_SIZE) {
    uint32_t target;
    if (!node_of_word(w, *(volatile uintptr_t *)p, &target))
      continue;
    if (by_element)
      edge(w, EDGE_ELEMENT, (uint32_t)((p - lo) / WORD_SIZE), target);
    else
      named_edge(w, prefix, p - name_base, target);
  }
}

static void uncollectable_edges(struct walk *w) {
  uint32_t order = 0;
  for (uint32_t i = 0; i < w->span_count; i++) {
    const struct span_nodes *sn = &w->spans[i];
    if (sn->span->kind != KIND_UNCOLLECTABLE)
      continue;
    uint32_t node = sn->first_node;
    for (uint32_t k = 0; k < span_bitmap_words(sn->span); k++)
      for (uint64_t bits = sn->live[k]; bits; bits &= bits - 1)
        edge(w, EDGE_ELEMENT, order++, node++);
  }
}

static void root_node_edges(struct walk *w, const struct root_node *r) {
  switch (r->kind) {
  case ROOT_NODE_THREAD: {
    struct shade_thread *t = r->thread;
    if (r->stack_from >= t->stack_low && r->stack_from <= t->stack_high)
      root_range_edges(w, r->stack_from, t->stack_high, "sp+", align_up(r->stack_from, WORD_SIZE),
                       false);
    for (unsigned i = 0; i < t->tls_range_count; i++)
      root_range_edges(w, t->tls_ranges[i][0], t->tls_ranges[i][1], "tls+",
                       t->tls_ranges[i][0], false);
    return;
  }
  case ROOT_NODE_SEGMENT:
    root_range_edges(w, r->lo, r->hi, "+", r->load_base, false);
    return;
  case ROOT_NODE_USER:
    root_range_edges(w, r->lo, r->hi, NULL, 0, true);
    return;
  case ROOT_NODE_UNCOLLECTABLE:
    uncollectable_edges(w);
    return;
  }
}

static size_t object_size(const struct span *s) {
  return s->state == SPAN_LARGE ? align_up(s->large_requested, WORD_SIZE) : s->object_size;
}

SHADE_NO_SANITIZE static void conservative_edges(struct walk *w, uintptr_t base, size_t size) {
  for (size_t i = 0; i < size / WORD_SIZE; i++) {
    uint32_t target;
    if (node_of_word(w, ((const uintptr_t *)base)[i], &target))
      edge(w, EDGE_ELEMENT, (uint32_t)i, target);
  }
}

static void visit_from_trace(void *pointer, void *context) {
  struct walk *w = context;
  uint32_t target;
  uint32_t order = w->visit_order++;
  if (node_of_word(w, (uintptr_t)pointer, &target))
    edge(w, EDGE_ELEMENT, order, target);
}

static const struct shade_type *type_of(const struct span *s, uint32_t index) {
  return s->state == SPAN_LARGE ? s->large_type : s->types[index];
}

SHADE_NO_SANITIZE static void typed_edges(struct walk *w, const struct shade_type *type,
                                          uintptr_t base, size_t size) {
  if (type == NULL)
    return;
  if (type->pointer_bitmap == NULL) {
    if (type->trace) {
      w->visit_order = 0;
      type->trace((void *)base, size, visit_from_trace, w);
    }
    return;
  }
  size_t element_words = type->size / WORD_SIZE;
  if (element_words == 0)
    return;
  for (size_t i = 0, in_element = 0; i < size / WORD_SIZE; i++) {
    uint32_t target;
    if (((type->pointer_bitmap[in_element / 64] >> (in_element % 64)) & 1) &&
        node_of_word(w, ((const uintptr_t *)base)[i], &target))
      edge(w, EDGE_ELEMENT, (uint32_t)i, target);
    if (++in_element == element_words)
      in_element = 0;
  }
}

static void object_edges(struct walk *w, struct span *s, uint32_t index) {
  uintptr_t base = span_object_address(s, index);
  switch (s->kind) {
  case KIND_CONSERVATIVE:
  case KIND_UNCOLLECTABLE:
    conservative_edges(w, base, object_size(s));
    return;
  case KIND_TYPED:
    typed_edges(w, type_of(s, index), base, object_size(s));
    return;
  default: // atomic: never scanned
    return;
  }
}

// Every node's edges, in node order: counted (PASS_COUNT) or written (PASS_WRITE).
static void walk_edges(struct walk *w, enum pass pass) {
  w->pass = pass;
  w->node = 0;
  edge(w, EDGE_ELEMENT, 1, 1); // root -> (GC roots)
  w->node = 1;
  for (uint32_t i = 0; i < w->root_count; i++)
    edge(w, EDGE_ELEMENT, i + 1, SYNTHETIC_BASE_NODES + i);
  for (uint32_t i = 0; i < w->root_count; i++) {
    w->node = SYNTHETIC_BASE_NODES + i;
    root_node_edges(w, &w->roots[i]);
  }
  for (uint32_t i = 0; i < w->span_count; i++) {
    struct span_nodes *sn = &w->spans[i];
    w->node = sn->first_node;
    for (uint32_t k = 0; k < span_bitmap_words(sn->span); k++) {
      for (uint64_t bits = sn->live[k]; bits; bits &= bits - 1) {
        object_edges(w, sn->span, k * 64 + (uint32_t)__builtin_ctzll(bits));
        w->node++;
      }
    }
  }
}

// ---- nodes ----------------------------------------------------------------------------------

static void node(struct walk *w, unsigned type, uint32_t name, uint64_t id, uint64_t self_size,
                 uint32_t node_index) {
  struct snapshot_output *o = &w->out;
  snapshot_output_uint(o, type);
  snapshot_output_char(o, ',');
  snapshot_output_uint(o, name);
  snapshot_output_char(o, ',');
  snapshot_output_uint(o, id);
  snapshot_output_char(o, ',');
  snapshot_output_uint(o, self_size);
  snapshot_output_char(o, ',');
  snapshot_output_uint(o, w->edge_counts[node_index]);
  snapshot_output_text(o, node_index + 1 == w->node_count ? ",0,0\n" : ",0,0,\n");
}

static uint32_t root_node_name(struct walk *w, const struct root_node *r) {
  char text[128];
  size_t n;
  switch (r->kind) {
  case ROOT_NODE_THREAD:
    memcpy(text, "stack of thread ", n = 16);
    n += format_uint(text + n, (uint64_t)r->thread->tid);
    if (r->thread->tid == getpid()) {
      memcpy(text + n, " (main)", 7);
      n += 7;
    }
    return snapshot_strings_intern(&w->strings, text, n);
  case ROOT_NODE_SEGMENT:
    return snapshot_strings_intern_text(&w->strings, r->path[0] ? r->path : w->program);
  case ROOT_NODE_USER:
    memcpy(text, "user roots ", n = 11);
    for (int half = 0; half < 2; half++) {
      uintptr_t address = half ? r->hi : r->lo;
      text[n++] = '0';
      text[n++] = 'x';
      for (int shift = 44; shift >= 0; shift -= 4)
        text[n++] = "0123456789abcdef"[(address >> shift) & 15];
      if (!half)
        text[n++] = '-';
    }
    return snapshot_strings_intern(&w->strings, text, n);
  case ROOT_NODE_UNCOLLECTABLE:
    break;
  }
  return snapshot_strings_intern_text(&w->strings, "(uncollectable objects)");
}

static uint64_t object_id(const struct walk *w, uintptr_t address, uint32_t node_index) {
  if (!w->address_ids)
    return 2 * (uint64_t)node_index + 1;
  return 2 * ((address / 8) & 0x7fffffffu) + 1;
}

static void write_nodes(struct walk *w) {
  node(w, NODE_SYNTHETIC, snapshot_strings_intern_text(&w->strings, ""), 2, 0, 0);
  node(w, NODE_SYNTHETIC, snapshot_strings_intern_text(&w->strings, "(GC roots)"), 4, 0, 1);
  for (uint32_t i = 0; i < w->root_count; i++)
    node(w, NODE_SYNTHETIC, root_node_name(w, &w->roots[i]), 2 * (SYNTHETIC_BASE_NODES + i + 1),
         0, SYNTHETIC_BASE_NODES + i);
  const struct shade_type *last_type = NULL;
  uint32_t last_type_name = 0;
  for (uint32_t i = 0; i < w->span_count; i++) {
    const struct span_nodes *sn = &w->spans[i];
    struct span *s = sn->span;
    unsigned type = s->kind == KIND_ATOMIC ? NODE_NATIVE : NODE_OBJECT;
    uint32_t node_index = sn->first_node;
    for (uint32_t k = 0; k < span_bitmap_words(s); k++) {
      for (uint64_t bits = sn->live[k]; bits; bits &= bits - 1) {
        uint32_t index = k * 64 + (uint32_t)__builtin_ctzll(bits);
        uint32_t name = sn->name;
        if (s->kind == KIND_TYPED) {
          const struct shade_type *t = type_of(s, index);
          if (t && t->name && t != last_type) {
            last_type = t;
            last_type_name = snapshot_strings_intern_text(&w->strings, t->name);
          }
          if (t && t->name)
            name = last_type_name;
        }
        node(w, type, name, object_id(w, span_object_address(s, index), node_index),
             object_size(s), node_index);
        node_index++;
      }
    }
  }
}

// ---- the file -------------------------------------------------------------------------------

static const char snapshot_meta[] =
    "{\"snapshot\":{\"meta\":{"
    "\"node_fields\":[\"type\",\"name\",\"id\",\"self_size\",\"edge_count\",\"trace_node_id\","
    "\"detachedness\"],"
    "\"node_types\":[[\"hidden\",\"array\",\"string\",\"object\",\"code\",\"closure\",\"regexp\","
    "\"number\",\"native\",\"synthetic\",\"concatenated string\",\"sliced string\",\"symbol\","
    "\"bigint\",\"object shape\"],\"string\",\"number\",\"number\",\"number\",\"number\","
    "\"number\"],"
    "\"edge_fields\":[\"type\",\"name_or_index\",\"to_node\"],"
    "\"edge_types\":[[\"context\",\"element\",\"property\",\"internal\",\"hidden\",\"shortcut\","
    "\"weak\"],\"string_or_number\",\"node\"],"
    "\"trace_function_info_fields\":[\"function_id\",\"name\",\"script_name\",\"script_id\","
    "\"line\",\"column\"],"
    "\"trace_node_fields\":[\"id\",\"function_info_index\",\"count\",\"size\",\"children\"],"
    "\"sample_fields\":[\"timestamp_us\",\"last_assigned_id\"],"
    "\"location_fields\":[\"object_index\",\"script_id\",\"line\",\"column\"]},\n";

static void write_file(struct walk *w) {
  struct snapshot_output *o = &w->out;
  snapshot_output_text(o, snapshot_meta);
  snapshot_output_text(o, "\"node_count\":");
  snapshot_output_uint(o, w->node_count);
  snapshot_output_text(o, ",\"edge_count\":");
  snapshot_output_uint(o, w->edge_total);
  snapshot_output_text(o, ",\"trace_function_count\":0},\n\"nodes\":[");
  write_nodes(w);
  snapshot_output_text(o, "],\n\"edges\":[");
  walk_edges(w, PASS_WRITE);
  snapshot_output_text(o, "],\n\"trace_function_infos\":[],\n\"trace_tree\":[],\n"
                          "\"samples\":[],\n\"locations\":[],\n\"strings\":[");
  snapshot_strings_write(&w->strings, o);
  snapshot_output_text(o, "]}\n");
}

static void snapshot_in_pause(struct shade_thread *self, uintptr_t stack_pointer, void *context) {
  struct walk *w = context;
  w->self = self;
  w->self_stack_pointer = stack_pointer;
  w->address_ids = heap_highest_address() - heap_lowest_address() < ((uintptr_t)1 << 34);
  list_roots(w);
  if (!w->error)
    record_spans(w);
  if (!w->error)
    w->edge_counts = walk_map(w, w->node_count * sizeof *w->edge_counts);
  if (w->error)
    return;
  walk_edges(w, PASS_COUNT);
  for (uint32_t i = 0; i < w->node_count; i++)
    w->edge_total += w->edge_counts[i];
  write_file(w);
}

int heap_snapshot_write(int fd) {
  struct walk w;
  memset(&w, 0, sizeof w);
  snapshot_strings_begin(&w.strings);
  ssize_t length = readlink("/proc/self/exe", w.program, sizeof w.program - 1);
  memcpy(w.program, "(program)", length > 0 ? 0 : 10);
  int error = snapshot_output_begin(&w.out, fd);
  if (error)
    return error;
  collector_collect_inspecting(snapshot_in_pause, &w);
  error = snapshot_output_end(&w.out);
  if (w.error)
    error = w.error;
  else if (w.strings.error)
    error = w.strings.error;
  snapshot_strings_end(&w.strings);
  walk_unmap(w.roots, w.root_capacity * sizeof *w.roots);
  walk_unmap(w.spans, w.span_capacity * sizeof *w.spans);
  walk_unmap(w.span_slots, w.span_slot_count * sizeof *w.span_slots);
  walk_unmap(w.bits, w.bit_words * sizeof *w.bits);
  walk_unmap(w.ranks, w.bit_words * sizeof *w.ranks);
  walk_unmap(w.edge_counts, w.node_count * sizeof *w.edge_counts);
  return error;
}
