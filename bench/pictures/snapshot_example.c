// snapshot_example.c: a small program whose heap snapshot is recognisable in Chrome DevTools'
// Memory panel (the picture docs/images/heap-snapshot-*.png; bench/pictures/make_pictures.sh
// builds and runs it). Usage: snapshot_example <snapshot path>
//
// The graph, with typed objects so that DevTools' Summary shows their names as constructors:
//   the global `registry` (a root: this program's data segment)
//     -> Registry {sessions[8]}
//          -> Session {user, history, buffer}     8 sessions
//               -> User {name}                   "alice", "bob", ...: the name is an atomic string
//               -> Node {next, value, payload}   a list of 200 nodes per session
//                    -> Payload {data[6]}        every fourth node has one (6 words of numbers)
//               -> buffer: 4 KiB atomic (a byte array: no edges)
//   a local `Node` list of 1000 nodes held only by main's stack (a root: the stack of the main
//   thread), and 50 conservative 48-byte objects in a ring from an uncollectable anchor.
// Then it drops sessions 2 and 3 (garbage: not in the snapshot) and writes the snapshot.
#include <shade.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct node {
  struct node *next;
  int64_t value;
  struct payload *payload;
};
struct payload {
  int64_t data[6];
};
struct user {
  char *name;
};
struct session {
  struct user *user;
  struct node *history;
  unsigned char *buffer;
};
struct registry {
  struct session *sessions[8];
};

// Bitmaps: bit i set means word i is a pointer.
static const uint64_t node_bits[] = {(1u << 0) | (1u << 2)};
static const uint64_t payload_bits[] = {0};
static const uint64_t user_bits[] = {1u << 0};
static const uint64_t session_bits[] = {(1u << 0) | (1u << 1) | (1u << 2)};
static const uint64_t registry_bits[] = {0xff};

static const struct shade_type node_type = {"Node", sizeof(struct node), node_bits, NULL, 0};
static const struct shade_type payload_type = {"Payload", sizeof(struct payload), payload_bits,
                                               NULL, 0};
static const struct shade_type user_type = {"User", sizeof(struct user), user_bits, NULL, 0};
static const struct shade_type session_type = {"Session", sizeof(struct session), session_bits,
                                               NULL, 0};
static const struct shade_type registry_type = {"Registry", sizeof(struct registry),
                                                registry_bits, NULL, 0};

struct registry *registry; // the root DevTools' Retainers view ends at

static struct node *make_list(int count, int with_payloads) {
  struct node *head = NULL;
  for (int i = count - 1; i >= 0; i--) {
    struct node *n = shade_malloc_typed(sizeof *n, &node_type);
    n->next = head;
    n->value = i;
    if (with_payloads && i % 4 == 0) {
      n->payload = shade_malloc_typed(sizeof *n->payload, &payload_type);
      for (int k = 0; k < 6; k++)
        n->payload->data[k] = i * 6 + k;
    }
    head = n;
  }
  return head;
}

static char *atomic_string(const char *s) {
  size_t len = strlen(s) + 1;
  char *copy = shade_malloc_atomic(len);
  memcpy(copy, s, len);
  return copy;
}

static void make_sessions(void) {
  static const char *names[8] = {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"};
  registry = shade_malloc_typed(sizeof *registry, &registry_type);
  for (int i = 0; i < 8; i++) {
    struct session *s = shade_malloc_typed(sizeof *s, &session_type);
    s->user = shade_malloc_typed(sizeof *s->user, &user_type);
    s->user->name = atomic_string(names[i]);
    s->history = make_list(200, 1);
    s->buffer = shade_malloc_atomic(4096);
    memset(s->buffer, 0, 4096);
    registry->sessions[i] = s;
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s <snapshot path>\n", argv[0]);
    return 2;
  }
  if (shade_init(NULL) != 0) {
    perror("shade_init");
    return 1;
  }
  make_sessions();
  // Only main's stack holds this list (volatile: it stays in the frame).
  struct node *volatile local_list = make_list(1000, 0);

  void **anchor = shade_malloc_uncollectable(sizeof(void *));
  void **first = shade_malloc(48), **ring = first;
  for (int i = 1; i < 50; i++) {
    void **next = shade_malloc(48);
    ring[0] = next;
    ring = next;
  }
  ring[0] = first;
  anchor[0] = first;

  // Garbage from here on. (Not the last sessions made: a stale copy of the last pointer may stay
  // in a stack slot, and the conservative stack scan would keep it.)
  registry->sessions[2] = NULL;
  registry->sessions[3] = NULL;

  if (shade_write_heap_snapshot(argv[1]) != 0) {
    perror("shade_write_heap_snapshot");
    return 1;
  }
  printf("snapshot written to %s (list head %p)\n", argv[1], (void *)local_list);
  return 0;
}
