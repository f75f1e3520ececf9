// Package embcache is the bi-encoder's embedding cache: a sharded LRU of
// embeddings keyed by (model, pipeline scope, text), bounded in bytes. A hit
// lets a query or passage skip tokenization and inference; a passage seen
// with another query is a hit, which is where a bi-encoder saves most.
package embcache

import (
	"container/list"
	"github.com/crossrank/crossrank/sidecar/internal/cache"
	"sync"
)

// Key identifies one embedded text: a 128-bit hash of the model, the
// pipeline scope and the text (two independent 64-bit hashes, as the score
// cache does).
type Key = cache.Key

const shards = 16

// EntryOverhead is the bytes counted per entry besides its vector: the key,
// the list element, the map slot and the slice header, rounded up.
const EntryOverhead = 128

// Cache is an LRU of embeddings bounded by bytes: each entry counts
// 4 bytes per dimension plus EntryOverhead. It is safe for concurrent use.
// A nil *Cache is a valid cache that never hits.
type Cache struct {
	hash  cache.Hasher
	shard [shards]shard
}

type shard struct {
	mu    sync.Mutex
	max   int64
	used  int64
	ll    *list.List
	items map[Key]*list.Element
}

type entry struct {
	key Key
	vec []float32
}

// New returns a cache holding at most maxBytes (spread evenly over its
// shards). maxBytes <= 0 returns nil: no cache.
func New(maxBytes int64) *Cache {
	if maxBytes <= 0 {
		return nil
	}
	c := &Cache{hash: cache.NewHasher()}
	per := (maxBytes + shards - 1) / shards
	for i := range c.shard {
		c.shard[i] = shard{max: per, ll: list.New(), items: make(map[Key]*list.Element)}
	}
	return c
}

// Key hashes a text's identity; parts are length-prefixed.
func (c *Cache) Key(model, scope, text string) Key {
	if c == nil {
		return Key{}
	}
	return c.hash.Key(model, scope, text)
}

func size(v []float32) int64 { return int64(4*len(v)) + EntryOverhead }

func (c *Cache) shardOf(k Key) *shard { return &c.shard[k.Shard(shards)] }

// Get returns the embedding cached under k (shared: callers must not
// modify it) and marks it recently used.
func (c *Cache) Get(k Key) ([]float32, bool) {
	if c == nil {
		return nil, false
	}
	s := c.shardOf(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.items[k]
	if !ok {
		return nil, false
	}
	s.ll.MoveToFront(el)
	return el.Value.(*entry).vec, true
}

// Put stores v under k (the cache keeps v: callers must not modify it
// afterwards) and evicts the least recently used entries of its shard
// until it fits. A vector larger than a shard's share is not stored.
func (c *Cache) Put(k Key, v []float32) {
	if c == nil {
		return
	}
	s := c.shardOf(k)
	n := size(v)
	if n > s.max {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.items[k]; ok {
		e := el.Value.(*entry)
		s.used += n - size(e.vec)
		e.vec = v
		s.ll.MoveToFront(el)
	} else {
		s.items[k] = s.ll.PushFront(&entry{key: k, vec: v})
		s.used += n
	}
	for s.used > s.max {
		el := s.ll.Back()
		e := el.Value.(*entry)
		s.ll.Remove(el)
		delete(s.items, e.key)
		s.used -= size(e.vec)
	}
}

// Len returns the number of cached embeddings.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shard {
		s := &c.shard[i]
		s.mu.Lock()
		n += len(s.items)
		s.mu.Unlock()
	}
	return n
}

// Bytes returns the bytes the cached embeddings count for (at most the
// bound given to New).
func (c *Cache) Bytes() int64 {
	if c == nil {
		return 0
	}
	var n int64
	for i := range c.shard {
		s := &c.shard[i]
		s.mu.Lock()
		n += s.used
		s.mu.Unlock()
	}
	return n
}
