# rc_cycles.py: the cost of a full cycle collection per tracked object, CPython's gc.
#
# The same structures as rc_cycles.c, with the same generator (see there): rings of 100, doubly
# linked circular lists of 100, random graphs of 1000 nodes with two edges each; LIVE objects
# kept, GARBAGE objects made again and dropped before each round; each round times one
# gc.collect() (a full collection) and divides by the tracked objects at its start.
#   BENCH rc_cycles impl=cpython tracked=<n> found=<n> ns_per_object=<x>
# Usage: python3 rc_cycles.py [live [garbage [rounds]]]
import gc
import sys
import time


class Node:
    __slots__ = ("a", "b")

    def __init__(self):
        self.a = None
        self.b = None


rng = 42
MASK = (1 << 64) - 1


def next_random():
    global rng
    rng = (rng * 6364136223846793005 + 1442695040888963407) & MASK
    return rng >> 33


def build(roots, count):
    made = 0
    while made < count:
        ring = [Node() for _ in range(100)]
        for i in range(100):
            ring[i].a = ring[(i + 1) % 100]
        roots.append(ring[0])
        dl = [Node() for _ in range(100)]
        for i in range(100):
            dl[i].a = dl[(i + 1) % 100]
            dl[i].b = dl[(i + 99) % 100]
        roots.append(dl[0])
        graph = [Node() for _ in range(1000)]
        for i in range(1000):
            graph[i].a = graph[next_random() % 1000]
            graph[i].b = graph[next_random() % 1000]
        roots.append(graph)
        made += 1201
        del ring, dl


def main():
    live = int(sys.argv[1]) if len(sys.argv) > 1 else 500000
    garbage = int(sys.argv[2]) if len(sys.argv) > 2 else 500000
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    gc.disable()
    live_roots = []
    build(live_roots, live)
    gc.collect()
    per_object = []
    tracked = found = 0
    for r in range(rounds):
        garbage_roots = []
        build(garbage_roots, garbage)
        if garbage_roots:
            garbage_roots[0].b = garbage_roots  # a cycle through the root list too
        del garbage_roots
        tracked = len(gc.get_objects())
        t0 = time.perf_counter_ns()
        found = gc.collect()
        t1 = time.perf_counter_ns()
        per_object.append((t1 - t0) / tracked)
        print(f"round {r}: tracked={tracked} found={found} collect_ms={(t1 - t0) / 1e6:.1f} "
              f"ns_per_object={per_object[-1]:.2f}", file=sys.stderr)
    per_object.sort()
    print(f"BENCH rc_cycles impl=cpython tracked={tracked} found={found} "
          f"ns_per_object={per_object[rounds // 2]:.2f}")


main()
