package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

func TestCascades(t *testing.T) {
	cfg, err := load(t, "models: [all-MiniLM-L6-v2=/m, ms-marco=/c]\ncascades:\n  fast: [{model: all-MiniLM-L6-v2, keep: 100}, {model: ms-marco, keep: 20}]\n", nil, "--embedding-cache-bytes", "1048576")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(cfg.Cascades); got != "map[fast:[{all-MiniLM-L6-v2 100} {ms-marco 20}]]" || cfg.EmbeddingCacheBytes != 1<<20 {
		t.Fatalf("cascades %s, embedding cache %d", got, cfg.EmbeddingCacheBytes)
	}
}

// TestProfile: the profile is read from the YAML key, the environment and
// the flag of the same name, flags winning, and defaults to accurate.
func TestProfile(t *testing.T) {
	tests := []struct {
		name, yaml string
		env        map[string]string
		args       []string
		want       string
	}{
		{"default", "models: [a]\n", nil, nil, ProfileAccurate},
		{"yaml", "models: [a]\nprofile: fast\n", nil, nil, ProfileFast},
		{"env", "models: [a]\n", map[string]string{"CROSSRANK_PROFILE": "fast"}, nil, ProfileFast},
		{"flag over yaml", "models: [a]\nprofile: fast\n", nil, []string{"--profile", "accurate"}, ProfileAccurate},
	}
	for _, tt := range tests {
		cfg, err := load(t, tt.yaml, tt.env, tt.args...)
		if err != nil || cfg.Profile != tt.want {
			t.Errorf("%s: profile %q, %v; want %q", tt.name, cfg.Profile, err, tt.want)
		}
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
		{"otlp endpoint without scheme", "", nil, []string{"--model", "a", "--otlp-endpoint", "collector:4318"}, "otlp_endpoint"},
		{"otlp endpoint in env", "", map[string]string{"CROSSRANK_OTLP_ENDPOINT": "grpc://c:4317"}, []string{"--model", "a"}, "otlp_endpoint"},
		{"duplicate model", "", nil, []string{"--model", "a=/x", "--model", "a=/y"}, "twice"},
		{"bad log level", "", nil, []string{"--model", "a", "--log-level", "loud"}, "log_level"},
		{"missing file", "", map[string]string{"CROSSRANK_CONFIG": "/nonexistent.yaml"}, []string{"--model", "a"}, "nonexistent"},
		{"cascade unknown model", "models: [mini=/m, ce=/c]\ncascades:\n  fast: [{model: mini, keep: 100}, {model: ms-marco, keep: 20}]\n", nil, nil, `model "ms-marco" is not among the served models`},
		{"cascade keep 0", "models: [mini=/m, ce=/c]\ncascades:\n  fast: [{model: mini, keep: 0}, {model: ce, keep: 20}]\n", nil, nil, "keep 0 must be at least 1"},
		{"cascade no stages", "models: [mini=/m]\ncascades:\n  fast: []\n", nil, nil, `cascade "fast" has no stages`},
		{"cascade unknown key", "models: [mini=/m]\ncascades:\n  fast: [{model: mini, top: 3}]\n", nil, nil, "top"},
		{"unknown profile", "models: [a]\nprofile: turbo\n", nil, nil, `profile "turbo"`},
		{"unknown profile flag", "", nil, []string{"--model", "a", "--profile", "int8"}, `profile "int8"`},
		{"negative embedding cache", "", nil, []string{"--model", "a", "--embedding-cache-bytes", "-1"}, "embedding_cache_bytes"},
	}
	for _, tt := range tests {
		_, err := load(t, tt.yaml, tt.env, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.mention) {
			t.Errorf("%s: %v, want an error mentioning %q", tt.name, err, tt.mention)
		}
	}
}

// TestYAMLErrorLines: a YAML mistake on line 4 is reported as line 4,
// whatever kind it is.
func TestYAMLErrorLines(t *testing.T) {
	head := "models: [a]\nworkers: 2\nthreads: 1\n"
	for _, line4 := range []string{
		"- x\n",                  // a list item in a mapping (the parser says line 3)
		"model_cache: [a, b\n",   // an unclosed flow sequence (line 3)
		"x: {a: 1\n",             // an unclosed flow mapping (line 3)
		"\tworkers: 3\n",         // a tab (line 3)
		"upstream: \"http://x\n", // an unterminated quote
		"workers: @x\n",          // a reserved character
		"max_wait: soon\n",       // a bad value
		"workerz: 2\n",           // an unknown key
	} {
		_, err := load(t, head+line4, nil)
		if err == nil || !strings.Contains(err.Error(), "line 4") {
			t.Errorf("%q on line 4: %v", line4, err)
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

// TestYAMLKeysAreFlagNames: every flag's YAML key is its name with "_" for
// "-", as `serve --help` says (models and pipelines_file used to differ);
// the former flag names --model and --pipelines, and their variables, still
// work.
func TestYAMLKeysAreFlagNames(t *testing.T) {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	Register(fs)
	for _, s := range settings() {
		key := strings.Split(s.field.Tag.Get("yaml"), ",")[0]
		if fs.Lookup(s.flag) == nil || strings.ReplaceAll(s.flag, "-", "_") != key {
			t.Errorf("field %s: flag --%s, YAML key %q", s.field.Name, s.flag, key)
		}
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"--models", nil, []string{"--models", "/m", "--pipelines-file", "/p.yaml"}},
		{"--model alias", nil, []string{"--model", "/m", "--pipelines", "/p.yaml"}},
		{"env", map[string]string{"CROSSRANK_MODELS": "/m", "CROSSRANK_PIPELINES_FILE": "/p.yaml"}, nil},
		{"alias env", map[string]string{"CROSSRANK_MODEL": "/m", "CROSSRANK_PIPELINES": "/p.yaml"}, nil},
	}
	for _, tt := range tests {
		cfg, err := load(t, "", tt.env, tt.args...)
		if err != nil || len(cfg.Models) != 1 || cfg.Models[0] != "/m" || cfg.PipelinesFile != "/p.yaml" {
			t.Errorf("%s: %v %v %q", tt.name, err, cfg.Models, cfg.PipelinesFile)
		}
	}
	cfg, err := load(t, "models: [/y]\npipelines_file: /q.yaml\n", nil)
	if err != nil || cfg.Models[0] != "/y" || cfg.PipelinesFile != "/q.yaml" {
		t.Errorf("YAML: %v %+v", err, cfg)
	}
}

// TestReadPipelinesIsStrict: the pipelines file goes through the config
// file's strict parser; errors name the file and the line.
func TestReadPipelinesIsStrict(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "pipelines:\n  p:\n    - plugin: html\n      config: {a: 1}\n")
	if ps, err := ReadPipelines(good); err != nil || len(ps["p"]) != 1 || ps["p"][0].Plugin != "html" {
		t.Fatalf("good file: %v %v", ps, err)
	}
	for _, tt := range []struct{ name, text, want string }{
		{"typo.yaml", "pipelines:\n  p:\n    - plugin: html\n      confg: {a: 1}\n", "line 4"},
		{"top.yaml", "pipeline:\n  p: []\n", "line 1"},
		{"empty.yaml", "", "no pipelines"},
	} {
		p := write(tt.name, tt.text)
		_, err := ReadPipelines(p)
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error naming the file and %q", tt.name, err, tt.want)
		}
	}
}

// TestAPIKeys: --api-key (repeatable), CROSSRANK_API_KEY (comma-separated)
// and --api-key-file (one per line, comments skipped) add up; the keys are
// redacted by Marshal (--print-config); bad key settings are errors.
func TestAPIKeys(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(file, []byte("# ops keys\nfile-key-1\n\n  file-key-2  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := load(t, "", map[string]string{"CROSSRANK_API_KEY": "env-a,env-b"}, "--model", "m", "--api-key-file", file, "--admin-key", "adm")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := cfg.APIKeys()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"env-a", "env-b", "file-key-1", "file-key-2"}; !slices.Equal(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
	cfg, err = load(t, "", nil, "--model", "m", "--api-key", "flagkey1", "--api-key", "flagkey2")
	if err != nil {
		t.Fatal(err)
	}
	if keys, _ := cfg.APIKeys(); !slices.Equal(keys, []string{"flagkey1", "flagkey2"}) {
		t.Errorf("flag keys %q", keys)
	}
	cfg.AdminKey = "ADMIN-SECRET-9"
	b, err := Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "flagkey") || strings.Contains(string(b), "ADMIN-SECRET") || !strings.Contains(string(b), "<redacted>") {
		t.Errorf("keys not redacted:\n%s", b)
	}
	if cfg.APIKey[0] != "flagkey1" {
		t.Error("Marshal changed the caller's keys")
	}
	empty := filepath.Join(t.TempDir(), "empty")
	_ = os.WriteFile(empty, []byte("# none\n"), 0o600)
	for name, args := range map[string][]string{
		"empty key file":   {"--api-key-file", empty},
		"missing key file": {"--api-key-file", empty + ".nope"},
	} {
		cfg, err := load(t, "", nil, append([]string{"--model", "m"}, args...)...)
		if err == nil {
			_, err = cfg.APIKeys()
		}
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	for name, args := range map[string][]string{
		"key with space": {"--api-key", "a b"},
		"tls cert alone": {"--tls-cert", "c.pem"},
		"negative bytes": {"--max-inflight-bytes", "-1"},
	} {
		if _, err := load(t, "", nil, append([]string{"--model", "m"}, args...)...); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestOTLPEndpoint: --otlp-endpoint, otlp_endpoint and CROSSRANK_OTLP_ENDPOINT
// set the collector URL, flags winning; empty means tracing off.
func TestOTLPEndpoint(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		env        map[string]string
		args       []string
		want       string
	}{
		{"default off", "models: [a]\n", nil, nil, ""},
		{"yaml", "models: [a]\notlp_endpoint: http://c:4318\n", nil, nil, "http://c:4318"},
		{"env over yaml", "models: [a]\notlp_endpoint: http://c:4318\n", map[string]string{"CROSSRANK_OTLP_ENDPOINT": "https://e:4318"}, nil, "https://e:4318"},
		{"flag over env", "models: [a]\n", map[string]string{"CROSSRANK_OTLP_ENDPOINT": "https://e:4318"}, []string{"--otlp-endpoint", "http://f:4317"}, "http://f:4317"},
	} {
		cfg, err := load(t, c.yaml, c.env, c.args...)
		if err != nil || cfg.OTLPEndpoint != c.want {
			t.Errorf("%s: %q, %v; want %q", c.name, cfg.OTLPEndpoint, err, c.want)
		}
	}
}
