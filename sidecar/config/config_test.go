package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func load(t *testing.T, yaml string, env map[string]string, args ...string) (Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	f := Register(fs)
	if yaml != "" {
		p := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", p)
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	return f.Load(func(k string) string { return env[k] })
}

func TestPrecedence(t *testing.T) {
	yaml := "models: [twin=/m/twin]\nworkers: 3\nmax_wait: 7ms\nthreads: 2\npipelines:\n  clean:\n    - plugin: html\n    - plugin: truncate\n      config: {max_tokens: 256}\nindices:\n  docs: {fields: [title, body], window: 50, query_path: query.match.body}\n"
	env := map[string]string{"CROSSRANK_THREADS": "4", "CROSSRANK_MAX_BATCH_PAIRS": "8", "CROSSRANK_SHUTDOWN_GRACE": "5s"}
	cfg, err := load(t, yaml, env, "--max-batch-pairs", "32", "--model", "/a", "--model", "b=/b")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"default addr", cfg.Addr, "127.0.0.1:8080"},
		{"yaml workers", cfg.Workers, 3},
		{"yaml duration", cfg.MaxWait.D(), 7 * time.Millisecond},
		{"env beats yaml", cfg.Threads, 4},
		{"flag beats env", cfg.MaxBatchPairs, 32},
		{"env duration", cfg.ShutdownGrace.D(), 5 * time.Second},
		{"flag list replaces yaml list", strings.Join(cfg.Models, ","), "/a,b=/b"},
		{"pipelines", fmt.Sprint(cfg.Pipelines["clean"][1].Config["max_tokens"]), "256"},
		{"indices", cfg.Indices["docs"].QueryPath + fmt.Sprint(cfg.Indices["docs"].Window), "query.match.body50"},
	}
	for _, tt := range tests {
		if fmt.Sprint(tt.got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	specs, err := cfg.ModelSpecs()
	if err != nil || fmt.Sprint(specs) != "[{a /a} {b /b}]" {
		t.Errorf("ModelSpecs = %v, %v", specs, err)
	}
}

func TestEnvList(t *testing.T) {
	cfg, err := load(t, "", map[string]string{"CROSSRANK_MODEL": "x=/x, /y/z/", "CROSSRANK_FIFO_BATCHING": "true"})
	if err != nil {
		t.Fatal(err)
	}
	specs, _ := cfg.ModelSpecs()
	if fmt.Sprint(specs) != "[{x /x} {z /y/z/}]" || !cfg.FIFOBatching {
		t.Errorf("specs %v fifo %v", specs, cfg.FIFOBatching)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		env        map[string]string
		args       []string
		mention    string
	}{
		{"no model", "", nil, nil, "no model"},
		{"unknown yaml key", "models: [a]\nworkerz: 2\n", nil, nil, "workerz"},
		{"bad yaml duration", "models: [a]\nmax_wait: soon\n", nil, nil, "duration"},
		{"bad env int", "", map[string]string{"CROSSRANK_WORKERS": "two"}, []string{"--model", "a"}, "CROSSRANK_WORKERS"},
		{"zero workers", "", nil, []string{"--model", "a", "--workers", "0"}, "workers"},
		{"docs over queue", "", nil, []string{"--model", "a", "--max-documents", "100", "--max-queue-pairs", "10"}, "max_documents"},
		{"bad upstream", "", nil, []string{"--model", "a", "--upstream", "ftp://x"}, "upstream"},
		{"duplicate model", "", nil, []string{"--model", "a=/x", "--model", "a=/y"}, "twice"},
		{"bad log level", "", nil, []string{"--model", "a", "--log-level", "loud"}, "log_level"},
		{"missing file", "", map[string]string{"CROSSRANK_CONFIG": "/nonexistent.yaml"}, []string{"--model", "a"}, "nonexistent"},
	}
	for _, tt := range tests {
		_, err := load(t, tt.yaml, tt.env, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.mention) {
			t.Errorf("%s: %v, want an error mentioning %q", tt.name, err, tt.mention)
		}
	}
}

// TestMarshalRoundTrip: --print-config output loads back to the same
// configuration.
func TestMarshalRoundTrip(t *testing.T) {
	cfg, err := load(t, "models: [m=/m]\nmax_wait: 3ms\npipelines:\n  p:\n    - plugin: html\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "max_wait: 3ms") {
		t.Errorf("durations not written as strings:\n%s", b)
	}
	back := Default()
	if err := Parse(b, &back); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", back) != fmt.Sprintf("%+v", cfg) {
		t.Errorf("round trip:\n%+v\n%+v", back, cfg)
	}
}

func ExampleConfig_ModelSpecs() {
	cfg := Default()
	cfg.Models = []string{".cache/models/twin", "minilm=/models/ms-marco-MiniLM-L-6-v2"}
	specs, _ := cfg.ModelSpecs()
	fmt.Println(specs)
	// Output: [{twin .cache/models/twin} {minilm /models/ms-marco-MiniLM-L-6-v2}]
}
