// test_deep_list.c (core_deep_list): marking uses explicit worklists, never recursion, so very
// long chains mark without overflowing a stack and survive intact: a 10,000,000-element list of
// conservative nodes (times SHADE_TEST_SCALE), and 1,000,000-element lists of typed nodes traced
// by a bitmap and by a callback, and a chain linked through interior pointers. The collections
// also run on a thread with a small (256 KiB) stack, where recursion would fail much earlier.
#include "test_util.h"

struct node {
  struct node *next;
  uint64_t index;
};

// The heads are globals: the lists are reachable only through the heap from here.
static struct node *conservative_head;
static struct node *bitmap_head;
static struct node *trace_head;
static struct node *interior_head;

static const uint64_t node_bitmap[1] = {0x1};
static const struct shade_type bitmap_node_type = {"bitmap node", sizeof(struct node), node_bitmap,
                                                   NULL, 0};

static void trace_node(void *object, size_t size, shade_visit_fn visit, void *context) {
  (void)size;
  struct node *node = object;
  if (node->next != NULL)
    visit(node->next, context);
}
static const struct shade_type trace_node_type = {"traced node", sizeof(struct node), NULL,
                                                  trace_node, 0};

// Builds the list n-1 -> ... -> 0 by prepending; index i at distance n-1-i from the head.
static struct node *build_list(size_t n, const struct shade_type *type, int interior) {
  struct node *head = NULL;
  for (size_t i = 0; i < n; i++) {
    struct node *node = type ? shade_malloc_typed(sizeof *node, type) : shade_malloc(sizeof *node);
    if (node == NULL)
      return NULL;
    // With `interior`, next points to the middle (the index field) of the following node.
    node->next = interior && head ? (struct node *)&head->index : head;
    node->index = i;
    head = node;
  }
  return head;
}

// The number of nodes found, walking from head, whose indices count down to 0 without a gap.
static size_t intact_length(struct node *head, int interior) {
  size_t length = 0;
  uint64_t expected = head ? head->index : 0;
  for (struct node *node = head; node != NULL; length++) {
    if (node->index != expected)
      return length;
    expected--;
    node = interior && node->next ? (struct node *)((char *)node->next - offsetof(struct node, index))
                                  : node->next;
  }
  return length;
}

static void *collect_on_small_stack(void *unused) {
  (void)unused;
  shade_collect();
  return NULL;
}

// Collections from the main thread and from a registered thread with a small stack.
static void collect_everywhere(void) {
  shade_collect();
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setstacksize(&attributes, 256 * 1024);
  pthread_t thread;
  SHADE_TEST_EXPECT(shade_pthread_create(&thread, &attributes, collect_on_small_stack, NULL) == 0);
  pthread_join(thread, NULL);
  pthread_attr_destroy(&attributes);
}

static void expect_list_intact(struct node *head, size_t n, int interior, const char *what) {
  size_t length = intact_length(head, interior);
  SHADE_TEST_EXPECTF(length == n, "%s: %zu of %zu nodes intact", what, length, n);
}

static void test_ten_million_element_list_marks_and_survives(void) {
  size_t n = shade_test_scaled(10 * 1000 * 1000, 10000);
  conservative_head = build_list(n, NULL, 0);
  SHADE_TEST_EXPECT(conservative_head != NULL);
  collect_everywhere();
  expect_list_intact(conservative_head, n, 0, "conservative list");
  conservative_head = NULL;
  shade_collect();
}

static void test_million_element_typed_lists_mark_and_survive(void) {
  size_t n = shade_test_scaled(1000 * 1000, 10000);
  bitmap_head = build_list(n, &bitmap_node_type, 0);
  trace_head = build_list(n, &trace_node_type, 0);
  SHADE_TEST_EXPECT(bitmap_head != NULL && trace_head != NULL);
  collect_everywhere();
  expect_list_intact(bitmap_head, n, 0, "bitmap-typed list");
  expect_list_intact(trace_head, n, 0, "trace-typed list");
  bitmap_head = trace_head = NULL;
  shade_collect();
}

static void test_million_element_chain_of_interior_pointers_survives(void) {
  size_t n = shade_test_scaled(1000 * 1000, 10000);
  interior_head = build_list(n, NULL, 1);
  SHADE_TEST_EXPECT(interior_head != NULL);
  collect_everywhere();
  expect_list_intact(interior_head, n, 1, "interior-pointer chain");
  interior_head = NULL;
  shade_collect();
}

int main(void) {
  SHADE_TEST_RUN(test_ten_million_element_list_marks_and_survives);
  SHADE_TEST_RUN(test_million_element_typed_lists_mark_and_survive);
  SHADE_TEST_RUN(test_million_element_chain_of_interior_pointers_survives);
  return shade_test_finish();
}
