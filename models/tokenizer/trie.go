package tokenizer

import (
	"slices"
	"strings"
)

// byteTrie is a read-only trie over byte strings for common-prefix search
// (every vocabulary entry that is a prefix of a text, shortest first, as
// the reference's trie yields them). Nodes keep their children in one
// sorted edge array; the root has a direct 256-entry table.
type byteTrie struct {
	nodes []trieNode
	label []byte
	child []int32
	root  [256]int32 // child of the root for each byte, -1 for none
}

type trieNode struct {
	first, n int32 // edges [first, first+n)
	id       int32 // the entry ending here, -1 for none
}

// newByteTrie builds the trie of keys; ids[i] is the value of keys[i]
// (with duplicate keys, the last wins).
func newByteTrie(keys []string, ids []int32) *byteTrie {
	type kv struct {
		k  string
		id int32
	}
	sorted := make([]kv, 0, len(keys))
	total := 0
	for i, k := range keys {
		if k != "" {
			sorted = append(sorted, kv{k, ids[i]})
			total += len(k)
		}
	}
	// sorted by key, duplicates in input order: keep the last of each
	slices.SortStableFunc(sorted, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	w := 0
	for i := range sorted {
		if w > 0 && sorted[w-1].k == sorted[i].k {
			sorted[w-1] = sorted[i]
			continue
		}
		sorted[w] = sorted[i]
		w++
	}
	sorted = sorted[:w]
	t := &byteTrie{
		nodes: make([]trieNode, 0, total+1),
		label: make([]byte, 0, total),
		child: make([]int32, 0, total),
	}
	for i := range t.root {
		t.root[i] = -1
	}
	// build node for sorted[lo:hi], all sharing a prefix of length depth
	var build func(lo, hi, depth int) int32
	build = func(lo, hi, depth int) int32 {
		idx := int32(len(t.nodes))
		t.nodes = append(t.nodes, trieNode{id: -1})
		if lo < hi && len(sorted[lo].k) == depth {
			t.nodes[idx].id = sorted[lo].id
			lo++
		}
		// children: one edge per distinct byte at depth, laid out first
		first := int32(len(t.label))
		for i := lo; i < hi; {
			c := sorted[i].k[depth]
			t.label = append(t.label, c)
			t.child = append(t.child, -1)
			for i < hi && sorted[i].k[depth] == c {
				i++
			}
		}
		n := int32(len(t.label)) - first
		t.nodes[idx].first, t.nodes[idx].n = first, n
		k := first
		for i := lo; i < hi; k++ {
			c := sorted[i].k[depth]
			j := i
			for j < hi && sorted[j].k[depth] == c {
				j++
			}
			t.child[k] = build(i, j, depth+1)
			i = j
		}
		return idx
	}
	build(0, len(sorted), 0)
	n := t.nodes[0]
	for k := n.first; k < n.first+n.n; k++ {
		t.root[t.label[k]] = t.child[k]
	}
	return t
}

// next returns the child of node for byte c, or -1.
func (t *byteTrie) next(node int32, c byte) int32 {
	if node == 0 {
		return t.root[c]
	}
	n := t.nodes[node]
	lab := t.label[n.first : n.first+n.n]
	if len(lab) <= 8 {
		for i, l := range lab {
			if l == c {
				return t.child[n.first+int32(i)]
			}
		}
		return -1
	}
	lo, hi := 0, len(lab)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if lab[m] < c {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(lab) && lab[lo] == c {
		return t.child[n.first+int32(lo)]
	}
	return -1
}
