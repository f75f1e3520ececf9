package testenv

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

func TestRoot(t *testing.T) {
	root := Root(t)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("Root = %s without go.mod", root)
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "testenv", "testenv.go")); err != nil {
		t.Fatalf("Root = %s is not this repository", root)
	}
}

// TestEnsure builds a missing folder once even when many goroutines (each
// with its own lock file description, like separate test binaries) ask at
// once, and rebuilds it when it goes stale.
func TestEnsure(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "model")
	var builds atomic.Int32
	fresh := func(d string) bool {
		b, err := os.ReadFile(filepath.Join(d, "stamp"))
		return err == nil && string(b) == "v1"
	}
	build := func(tmp string) error {
		builds.Add(1)
		if err := os.MkdirAll(tmp, 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(tmp, "stamp"), []byte("v1"), 0o644)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ensure(dir, fresh, build); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if builds.Load() != 1 {
		t.Fatalf("built %d times, want 1", builds.Load())
	}
	if err := os.WriteFile(filepath.Join(dir, "stamp"), []byte("v0"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ensure(dir, fresh, build); err != nil {
		t.Fatal(err)
	}
	if builds.Load() != 2 || !fresh(dir) {
		t.Fatalf("stale folder not rebuilt (builds %d)", builds.Load())
	}
	entries, _ := os.ReadDir(filepath.Dir(dir))
	for _, e := range entries {
		if e.Name() != "model" && e.Name() != "model.lock" {
			t.Errorf("left behind %s", e.Name())
		}
	}
}

func TestSyntheticPairs(t *testing.T) {
	a, b := SyntheticPairs(50, 32, 9), SyntheticPairs(50, 32, 9)
	c := SyntheticPairs(50, 32, 10)
	same := true
	for i := range a.IDs {
		if a.IDs[i] != b.IDs[i] || a.Types[i] != b.Types[i] || a.Mask[i] != b.Mask[i] {
			t.Fatal("same seed gave different pairs")
		}
		same = same && a.IDs[i] == c.IDs[i]
	}
	if same {
		t.Error("seeds 9 and 10 gave the same pairs")
	}
	for i := 0; i < a.N; i++ {
		ids, mask, types := a.Row(i)
		n := a.Lens[i]
		if n < 5 || n > a.L {
			t.Fatalf("row %d: length %d", i, n)
		}
		if ids[0] != 101 || ids[n-1] != 102 || types[n-1] != 1 || types[0] != 0 {
			t.Fatalf("row %d is not [CLS] q [SEP] p [SEP]: %v %v", i, ids[:n], types[:n])
		}
		seps := 0
		for j := 0; j < a.L; j++ {
			if (j < n) != (mask[j] == 1) {
				t.Fatalf("row %d: mask %v for length %d", i, mask, n)
			}
			if ids[j] == 102 {
				seps++
			}
			if j > 0 && j < n && types[j] < types[j-1] {
				t.Fatalf("row %d: type ids go down: %v", i, types[:n])
			}
		}
		if seps != 2 {
			t.Fatalf("row %d has %d [SEP]", i, seps)
		}
	}
}
