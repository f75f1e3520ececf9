package cache

import (
	"fmt"
	"sync"
	"testing"
)

func TestGetPut(t *testing.T) {
	c := New(64)
	tests := []struct {
		model, pipeline, query, passage string
		logit                           float32
	}{
		{"m", "", "q", "p", 1.5},
		{"m", "", "q", "p2", -2},
		{"m2", "", "q", "p", 3},
		{"m", "clean", "q", "p", 4},
		{"m", "", "qp", "", 5},
		{"m", "", "q", "p\x00", 6},
	}
	for _, tt := range tests {
		c.Put(c.Key(tt.model, tt.pipeline, tt.query, tt.passage), tt.logit)
	}
	for _, tt := range tests {
		got, ok := c.Get(c.Key(tt.model, tt.pipeline, tt.query, tt.passage))
		if !ok || got != tt.logit {
			t.Errorf("Get(%q,%q,%q,%q) = %v,%v; want %v", tt.model, tt.pipeline, tt.query, tt.passage, got, ok, tt.logit)
		}
	}
	if _, ok := c.Get(c.Key("m", "", "q", "missing")); ok {
		t.Error("hit for a key never stored")
	}
}

func TestBoundAndLRU(t *testing.T) {
	c := New(shards) // one entry per shard
	keys := make([]Key, 0, 1000)
	for i := range 1000 {
		k := c.Key("m", "", "q", fmt.Sprint(i))
		keys = append(keys, k)
		c.Put(k, float32(i))
	}
	if n := c.Len(); n > shards {
		t.Fatalf("Len = %d, want <= %d", n, shards)
	}
	// The most recent key is always kept.
	if v, ok := c.Get(keys[999]); !ok || v != 999 {
		t.Fatalf("latest entry evicted: %v %v", v, ok)
	}
	// Touching an entry protects it from the next eviction in its shard.
	c2 := New(2 * shards)
	k0 := c2.Key("m", "", "q", "first")
	c2.Put(k0, 1)
	for i := range 200 {
		c2.Get(k0)
		c2.Put(c2.Key("m", "", "q", fmt.Sprint(i)), 0)
	}
	if _, ok := c2.Get(k0); !ok {
		t.Fatal("recently used entry was evicted")
	}
}

func TestNilCache(t *testing.T) {
	var c *Cache = New(0)
	c.Put(c.Key("a", "b", "c", "d"), 1)
	if _, ok := c.Get(c.Key("a", "b", "c", "d")); ok || c.Len() != 0 {
		t.Fatal("nil cache must never hit")
	}
}

func TestConcurrent(t *testing.T) {
	c := New(128)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				k := c.Key("m", "", fmt.Sprint(g), fmt.Sprint(i%50))
				c.Put(k, float32(i%50))
				if v, ok := c.Get(k); ok && v != float32(i%50) {
					t.Errorf("wrong value %v", v)
				}
			}
		})
	}
	wg.Wait()
}

func ExampleCache() {
	c := New(1000)
	k := c.Key("twin", "", "what is go", "Go is a programming language.")
	c.Put(k, 2.5)
	v, ok := c.Get(k)
	fmt.Println(v, ok)
	// Output: 2.5 true
}

func BenchmarkGetHit(b *testing.B) {
	c := New(10000)
	k := c.Key("twin", "", "what is go", "Go is a programming language designed at Google.")
	c.Put(k, 1)
	for b.Loop() {
		c.Get(c.Key("twin", "", "what is go", "Go is a programming language designed at Google."))
	}
}
