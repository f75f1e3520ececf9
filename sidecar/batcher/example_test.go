package batcher_test

import (
	"fmt"

	"github.com/crossrank/crossrank/sidecar/batcher"
)

// Group picks the batch around the most urgent pair (index 2, 40 tokens)
// from a queue sorted by length: the three pairs of 38-41 tokens, not the
// 90-token one that would double the padded size.
func ExampleGroup() {
	lengths := []int{12, 38, 40, 41, 90}
	lo, hi := batcher.Group(lengths, 2, 16, 16*512, 32)
	fmt.Println(lengths[lo:hi])
	// Output: [38 40 41]
}
