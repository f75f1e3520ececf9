package embcache_test

import (
	"fmt"
	"testing"

	"github.com/crossrank/crossrank/sidecar/internal/embcache"
)

func vec(d int, v float32) []float32 {
	out := make([]float32, d)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestBoundedInBytes(t *testing.T) {
	const d = 384
	per := int64(4*d + embcache.EntryOverhead)
	tests := []struct {
		name     string
		maxBytes int64
		puts     int
	}{
		{"fits", 1000 * per, 100},
		{"evicts", 64 * per, 1000},
		{"tiny", 16 * per, 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := embcache.New(tc.maxBytes)
			for i := range tc.puts {
				c.Put(c.Key("m", "", fmt.Sprint(i)), vec(d, float32(i)))
				if b := c.Bytes(); b > tc.maxBytes {
					t.Fatalf("after %d puts: %d bytes > bound %d", i+1, b, tc.maxBytes)
				}
			}
			if got := int64(c.Len()) * per; got != c.Bytes() {
				t.Fatalf("Len %d × %d = %d, Bytes %d", c.Len(), per, got, c.Bytes())
			}
			if tc.puts*int(per) <= int(tc.maxBytes)/2 && c.Len() != tc.puts {
				t.Fatalf("Len = %d, want %d (nothing evicted)", c.Len(), tc.puts)
			}
			// The most recent entry is always there, with its value.
			last := tc.puts - 1
			v, ok := c.Get(c.Key("m", "", fmt.Sprint(last)))
			if !ok || v[0] != float32(last) {
				t.Fatalf("last entry: %v %v", ok, v[:1])
			}
		})
	}
}

func TestKeysAndLRU(t *testing.T) {
	c := embcache.New(1 << 20)
	k := c.Key("m", "p", "text")
	for _, other := range []embcache.Key{c.Key("m2", "p", "text"), c.Key("m", "", "ptext"), c.Key("m", "p", "text2")} {
		if other == k {
			t.Fatal("distinct identities share a key")
		}
	}
	if _, ok := c.Get(k); ok {
		t.Fatal("hit on an empty cache")
	}
	c.Put(k, []float32{1, 2})
	if v, ok := c.Get(k); !ok || v[1] != 2 {
		t.Fatalf("Get = %v %v", v, ok)
	}
	var nilCache *embcache.Cache
	nilCache.Put(k, []float32{1})
	if _, ok := nilCache.Get(k); ok || nilCache.Len() != 0 || embcache.New(0) != nil {
		t.Fatal("a nil cache must never hit")
	}
}
