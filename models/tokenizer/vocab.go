package tokenizer

import "math/bits"

// vocabTable is a read-only open-addressing hash table from byte strings to
// ids, faster than a Go map for the WordPiece lookups: entries sit in the
// slots themselves and keys of up to 8 bytes are packed into them, so a
// lookup usually touches one cache line.
type vocabTable struct {
	slots []vocabEnt
	mask  uint32
	keys  []byte // longer keys
}

type vocabEnt struct {
	key8 uint64 // the key, little-endian, when n <= 8
	hash uint32
	id   int32
	off  uint32 // in keys, when n > 8
	n    uint32 // key length; 0 marks an empty slot
}

func pack8(b []byte) uint64 {
	var k uint64
	for i := len(b) - 1; i >= 0; i-- {
		k = k<<8 | uint64(b[i])
	}
	return k
}

// FNV-1a, computed incrementally by the fused BERT loop, then finished
// with an avalanche (hashFinish).
const (
	fnvOffset = uint32(2166136261)
	fnvPrime  = uint32(16777619)
)

func hashFinish(h uint32) uint32 {
	h ^= h >> 15
	h *= 0x2c1b3c6d
	h ^= h >> 12
	return h
}

// hashBytes hashes a key.
func hashBytes[T string | []byte](b T) uint32 {
	h := fnvOffset
	for i := 0; i < len(b); i++ {
		h ^= uint32(b[i])
		h *= fnvPrime
	}
	return hashFinish(h)
}

func newVocabTable(m map[string]int32) *vocabTable {
	size := 1 << bits.Len(uint(len(m)*2+1))
	t := &vocabTable{slots: make([]vocabEnt, size), mask: uint32(size - 1)}
	for k, id := range m {
		if k == "" {
			continue // never looked up: words are not empty
		}
		e := vocabEnt{hash: hashBytes(k), id: id, n: uint32(len(k))}
		if len(k) <= 8 {
			e.key8 = pack8([]byte(k))
		} else {
			e.off = uint32(len(t.keys))
			t.keys = append(t.keys, k...)
		}
		i := e.hash & t.mask
		for t.slots[i].n != 0 {
			i = (i + 1) & t.mask
		}
		t.slots[i] = e
	}
	return t
}

// get returns the id of key b.
func (t *vocabTable) get(b []byte) (int32, bool) {
	return t.getHashed(b, hashBytes(b))
}

// getHashed is get with b's hash already computed.
func (t *vocabTable) getHashed(b []byte, h uint32) (int32, bool) {
	n := uint32(len(b))
	var k8 uint64
	if n <= 8 {
		k8 = pack8(b)
	}
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		e := &t.slots[i]
		if e.n == 0 {
			return 0, false
		}
		if e.hash != h || e.n != n {
			continue
		}
		if n <= 8 {
			if e.key8 == k8 {
				return e.id, true
			}
		} else if string(t.keys[e.off:e.off+n]) == string(b) {
			return e.id, true
		}
	}
}
