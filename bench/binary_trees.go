// binary_trees.go: the Go peer of binary_trees.c, the Computer Language Benchmarks Game's
// binary-trees, single-threaded like the C program (the Go runtime still collects on the other
// core). Idiomatic Go, GOGC left at its default; the output is the Benchmarks Game's, tab for tab,
// and ends with the BENCH line of go_common.go on stderr. Usage: bt_go [depth, default 21].
package main

import (
	"fmt"
	"os"
	"strconv"
)

type Node struct {
	left, right *Node
}

const minDepth = 4

func bottomUpTree(depth int) *Node {
	if depth <= 0 {
		return &Node{}
	}
	return &Node{bottomUpTree(depth - 1), bottomUpTree(depth - 1)}
}

func (n *Node) check() int {
	if n.left == nil {
		return 1
	}
	return 1 + n.left.check() + n.right.check()
}

func main() {
	maxDepth := 21
	if len(os.Args) > 1 {
		d, err := strconv.Atoi(os.Args[1])
		if err != nil || d < 0 || d > 30 {
			fmt.Fprintf(os.Stderr, "usage: %s [depth 0..30]\n", os.Args[0])
			os.Exit(2)
		}
		maxDepth = d
	}
	if maxDepth < minDepth+2 {
		maxDepth = minDepth + 2
	}

	stretchDepth := maxDepth + 1
	fmt.Printf("stretch tree of depth %d\t check: %d\n", stretchDepth, bottomUpTree(stretchDepth).check())

	longLivedTree := bottomUpTree(maxDepth)

	for depth := minDepth; depth <= maxDepth; depth += 2 {
		iterations := 1 << uint(maxDepth-depth+minDepth)
		check := 0
		for i := 0; i < iterations; i++ {
			check += bottomUpTree(depth).check()
		}
		fmt.Printf("%d\t trees of depth %d\t check: %d\n", iterations, depth, check)
	}
	fmt.Printf("long lived tree of depth %d\t check: %d\n", maxDepth, longLivedTree.check())

	benchFinish(fmt.Sprintf(" depth=%d", maxDepth))
}
