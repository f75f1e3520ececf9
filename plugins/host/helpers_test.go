package host_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/plugins/host"
	"github.com/crossrank/crossrank/sidecar/metrics"
)

// wordTok is a small, fully specified tokenizer for the tests: a token is a
// maximal run of letters and digits, or one other non-space character (BERT's
// pre-tokenization without word-piece splitting), so expected counts can be
// derived by hand. The serving model's tokenizer plugs in the same way.
type wordTok struct{}

func (wordTok) CountTokens(s string) int {
	n := 0
	inWord := false
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if !inWord {
				n++
			}
			inWord = true
		case unicode.IsSpace(r):
			inWord = false
		default:
			n++
			inWord = false
		}
	}
	return n
}

// countingRecorder records plugin errors and stage calls.
type countingRecorder struct {
	metrics.Nop
	mu     sync.Mutex
	errors map[string]int // "plugin/kind"
	stages map[string]int
}

func newRecorder() *countingRecorder {
	return &countingRecorder{errors: map[string]int{}, stages: map[string]int{}}
}

func (r *countingRecorder) PluginError(plugin, kind string) {
	r.mu.Lock()
	r.errors[plugin+"/"+kind]++
	r.mu.Unlock()
}

func (r *countingRecorder) Stage(stage string, _ time.Duration) {
	r.mu.Lock()
	r.stages[stage]++
	r.mu.Unlock()
}

func (r *countingRecorder) count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.errors[key]
}

// wasmPath returns a built test or example module under .cache/plugins.
func wasmPath(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(testenv.Root(t), ".cache", "plugins", name+".wasm")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s missing: run make plugins (%v)", p, err)
	}
	return p
}

// newHost makes a Host on the built standard plugins.
func newHost(t testing.TB, cfg host.Config) *host.Host {
	t.Helper()
	root := testenv.Root(t)
	if cfg.PluginDir == "" {
		cfg.PluginDir = filepath.Join(root, "plugins", "wasm")
	}
	for _, n := range []string{"fields", "html", "normalize", "query", "truncate"} {
		if _, err := os.Stat(filepath.Join(root, "plugins", "wasm", n+".wasm")); err != nil {
			t.Fatalf("standard plugin %s missing: run make plugins (%v)", n, err)
		}
	}
	if cfg.CacheDir == "" {
		cfg.CacheDir = filepath.Join(root, ".cache", "wazero")
	}
	if cfg.WatchInterval == 0 {
		cfg.WatchInterval = -1
	}
	h, err := host.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return h
}

func docs(ds ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(ds))
	for i, d := range ds {
		if strings.HasPrefix(d, "{") || strings.HasPrefix(d, "[") {
			out[i] = json.RawMessage(d)
		} else {
			b, _ := json.Marshal(d)
			out[i] = b
		}
	}
	return out
}

func testenvRoot(t testing.TB) string { return testenv.Root(t) }
