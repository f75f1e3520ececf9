// Package cache is the sidecar's score cache: a sharded, size-bounded LRU of
// cross-encoder logits keyed by (model, pipeline, query, passage). A hit lets a
// pair skip tokenization and inference.
package cache

import (
	"container/list"
	"hash/maphash"
	"sync"
)

// Key identifies one scored pair. It is a 128-bit hash of the model, pipeline,
// query and passage texts, built by Cache.Key; two independent 64-bit hashes
// make a collision between different pairs negligible (about 2^-64 for a cache
// of a billion entries).
type Key struct{ a, b uint64 }

const shards = 16

// Cache is an LRU of logits bounded by a number of entries. It is safe for
// concurrent use. The zero value is not usable; call New.
type Cache struct {
	hash  Hasher
	shard [shards]shard
}

type shard struct {
	mu    sync.Mutex
	max   int
	ll    *list.List
	items map[Key]*list.Element
}

type entry struct {
	key   Key
	logit float32
}

// New returns a cache holding at most size entries (spread over shards). A
// size of zero or less returns nil, and a nil *Cache is a valid cache that
// never hits.
func New(size int) *Cache {
	if size <= 0 {
		return nil
	}
	c := &Cache{hash: NewHasher()}
	per := (size + shards - 1) / shards
	for i := range c.shard {
		c.shard[i] = shard{max: per, ll: list.New(), items: make(map[Key]*list.Element)}
	}
	return c
}

// Key hashes the four parts of a pair's identity. Parts are length-prefixed so
// ("ab","c") and ("a","bc") differ.
func (c *Cache) Key(model, pipeline, query, passage string) Key {
	if c == nil {
		return Key{}
	}
	return c.hash.Key(model, pipeline, query, passage)
}

// Hasher makes Keys: two independent 64-bit hashes (random seeds) of
// length-prefixed parts, so ("ab","c") and ("a","bc") differ. The score
// cache and the embedding cache key their entries with it.
type Hasher struct{ seedA, seedB maphash.Seed }

// NewHasher returns a Hasher with fresh random seeds.
func NewHasher() Hasher { return Hasher{seedA: maphash.MakeSeed(), seedB: maphash.MakeSeed()} }

// Key hashes parts.
func (h Hasher) Key(parts ...string) Key {
	return Key{a: sum(h.seedA, parts), b: sum(h.seedB, parts)}
}

// Shard is the key's shard among n.
func (k Key) Shard(n int) int { return int(k.a % uint64(n)) }

func sum(seed maphash.Seed, parts []string) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	var n [8]byte
	for _, p := range parts {
		l := uint64(len(p))
		for i := range n {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:])
		h.WriteString(p)
	}
	return h.Sum64()
}

func (c *Cache) shardOf(k Key) *shard { return &c.shard[k.a%shards] }

// Get returns the cached logit for k and marks it recently used.
func (c *Cache) Get(k Key) (float32, bool) {
	if c == nil {
		return 0, false
	}
	s := c.shardOf(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.items[k]
	if !ok {
		return 0, false
	}
	s.ll.MoveToFront(e)
	return e.Value.(*entry).logit, true
}

// Put stores a logit, evicting the least recently used entry of its shard
// when the shard is full.
func (c *Cache) Put(k Key, logit float32) {
	if c == nil {
		return
	}
	s := c.shardOf(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.items[k]; ok {
		e.Value.(*entry).logit = logit
		s.ll.MoveToFront(e)
		return
	}
	s.items[k] = s.ll.PushFront(&entry{key: k, logit: logit})
	for s.ll.Len() > s.max {
		old := s.ll.Back()
		s.ll.Remove(old)
		delete(s.items, old.Value.(*entry).key)
	}
}

// Len returns the number of cached entries.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shard {
		s := &c.shard[i]
		s.mu.Lock()
		n += s.ll.Len()
		s.mu.Unlock()
	}
	return n
}
