package convert_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/crossrank/crossrank/internal/convert"
)

func TestCached(t *testing.T) {
	src := smallTwin(t)
	cache := t.TempDir()
	ctx := context.Background()

	// Concurrent first calls: one folder, every caller gets it.
	var wg sync.WaitGroup
	paths := make([]string, 3)
	errs := make([]error, 3)
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths[i], _, errs[i] = convert.Cached(ctx, src, cache, convert.Options{})
		}()
	}
	wg.Wait()
	for i := range paths {
		if errs[i] != nil || paths[i] != paths[0] {
			t.Fatalf("call %d: %q, %v (first %q)", i, paths[i], errs[i], paths[0])
		}
	}
	if !convert.Complete(paths[0]) {
		t.Fatalf("%s is not a complete conversion", paths[0])
	}
	ents, _ := os.ReadDir(cache)
	if len(ents) != 1 {
		t.Errorf("cache holds %d entries, want 1 (no temporary folders left)", len(ents))
	}

	// Reused next time.
	p, converted, err := convert.Cached(ctx, src, cache, convert.Options{})
	if err != nil || converted || p != paths[0] {
		t.Errorf("second call: %q converted=%v err=%v", p, converted, err)
	}
	// int8 is another entry.
	q, converted, err := convert.Cached(ctx, src, cache, convert.Options{Int8: true})
	if err != nil || !converted || q == p {
		t.Errorf("int8: %q converted=%v err=%v", q, converted, err)
	}
	// A replaced checkpoint converts again.
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(filepath.Join(src, "model.safetensors"), later, later); err != nil {
		t.Fatal(err)
	}
	r, converted, err := convert.Cached(ctx, src, cache, convert.Options{})
	if err != nil || !converted || r == p {
		t.Errorf("after replacing the checkpoint: %q converted=%v err=%v", r, converted, err)
	}
	// A broken checkpoint leaves nothing in the cache.
	bad := copyDir(t, src)
	if err := os.Truncate(filepath.Join(bad, "model.safetensors"), 1000); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	if _, _, err := convert.Cached(ctx, bad, empty, convert.Options{}); err == nil {
		t.Error("converted a truncated checkpoint")
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Errorf("a failed conversion left %d entries in the cache", len(ents))
	}
}
