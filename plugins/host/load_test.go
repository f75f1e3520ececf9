package host_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crossrank/crossrank/plugins"
	"github.com/crossrank/crossrank/plugins/host"
)

// TestConcurrentNoCrossTalk sends 64 concurrent requests, each with its own
// query and documents, through one pipeline whose pools are smaller than the
// load; every answer must be its own request's.
func TestConcurrentNoCrossTalk(t *testing.T) {
	h := newHost(t, host.Config{PoolSize: 3})
	if err := h.Load(context.Background(), map[string][]host.Step{"p": {
		{Plugin: "fields", Config: map[string]any{"template": "{id}: {body}"}},
		{Plugin: "html"},
		{Plugin: "normalize"},
		{Plugin: "truncate", Config: map[string]any{"max_tokens": 7}},
	}}, "p"); err != nil {
		t.Fatal(err)
	}
	p, _ := h.Pipeline("")
	const clients, rounds, ndocs = 64, 4, 5
	var wg sync.WaitGroup
	errs := make(chan error, clients*rounds)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				in := plugins.Input{Query: fmt.Sprintf("Ｑ%d", c*100+r)}
				want := make([]string, ndocs)
				for d := 0; d < ndocs; d++ {
					id := fmt.Sprintf("c%dr%dd%d", c, r, d)
					in.Documents = append(in.Documents, []byte(fmt.Sprintf(`{"id":%q,"body":"<p>%s  one</p> two three four five"}`, id, id)))
					// id(1) :(1) id(1) one(1) two(1) three(1) four(1) = 7 tokens
					want[d] = fmt.Sprintf("%s: %s one two three four", id, id)
				}
				out, err := p.Prepare(context.Background(), wordTok{}, in)
				if err != nil {
					errs <- err
					return
				}
				if out.Query != fmt.Sprintf("Q%d", c*100+r) {
					errs <- fmt.Errorf("client %d round %d: query %q", c, r, out.Query)
				}
				for d := range want {
					if out.Passages[d] != want[d] {
						errs <- fmt.Errorf("client %d round %d doc %d: %q, want %q", c, r, d, out.Passages[d], want[d])
					}
				}
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil { // atomic, as deployments should replace plugins
		t.Fatal(err)
	}
}

// TestReloadUnderLoad replaces a plugin file while requests run: the
// watcher picks it up, explicit Reloads happen too, and no request fails.
func TestReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	plugin := filepath.Join(dir, "clean.wasm")
	copyFile(t, wasmPath(t, "example-go"), plugin) // snippet: keeps "&amp;"
	h := newHost(t, host.Config{PluginDir: dir, WatchInterval: 20 * time.Millisecond, PoolSize: 2})
	if err := h.Load(context.Background(), map[string][]host.Step{"p": {{Plugin: "clean"}}}, "p"); err != nil {
		t.Fatal(err)
	}
	p, _ := h.Pipeline("p")
	const old, updated = "fish &amp; chips", "fish & chips"
	var (
		wg       sync.WaitGroup
		done     atomic.Bool
		requests atomic.Int64
		sawNew   atomic.Bool
	)
	errs := make(chan error, 100)
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1_000_000 && !done.Load(); i++ { // until the test is done
				out, err := p.Prepare(context.Background(), wordTok{}, plugins.Input{Query: "q", Documents: docs("<b>fish &amp; chips</b>")})
				requests.Add(1)
				switch {
				case err != nil:
					errs <- err
					return
				case out.Passages[0] == updated:
					sawNew.Store(true)
				case out.Passages[0] != old:
					errs <- fmt.Errorf("unexpected passage %q", out.Passages[0])
					return
				}
			}
		}()
	}
	for i := 0; i < 3; i++ {
		if err := h.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// Swap in the html plugin under the same name; the watcher reloads it.
	copyFile(t, filepath.Join(testenvRoot(t), "plugins", "wasm", "html.wasm"), plugin)
	deadline := time.Now().Add(20 * time.Second)
	for !sawNew.Load() && time.Now().Before(deadline) && len(errs) == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if !sawNew.Load() {
		t.Fatalf("the changed plugin was not picked up after %d requests", requests.Load())
	}
	t.Logf("%d requests across 3 reloads and a file change", requests.Load())
	// A broken replacement keeps the working plugins.
	if err := os.WriteFile(plugin, []byte("not wasm"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.Reload(context.Background()); err == nil {
		t.Error("Reload of a broken file succeeded")
	}
	out, err := p.Prepare(context.Background(), wordTok{}, plugins.Input{Documents: docs("a &amp; b")})
	if err != nil || out.Passages[0] != "a & b" {
		t.Errorf("after a failed reload: %+v, %v", out, err)
	}
}
