// Package config is the sidecar's configuration: one struct, settable from a
// YAML file (--config), CROSSRANK_* environment variables and command-line
// flags, in that order of precedence (flags win). Every scalar setting has a
// flag (its YAML key with "-" for "_") and an environment variable
// (CROSSRANK_ and the key in upper case); pipelines and per-index defaults
// are set in the file only. The former flag names --model and --pipelines
// (and CROSSRANK_MODEL, CROSSRANK_PIPELINES) are still accepted for
// --models and --pipelines-file.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/crossrank/crossrank/plugins/host"
	"io"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/crossrank/crossrank/sidecar/batcher"
	"github.com/crossrank/crossrank/sidecar/proxy"
	"github.com/crossrank/crossrank/sidecar/rerank"
	"github.com/crossrank/crossrank/sidecar/server"
)

// Duration is a time.Duration written as "5ms" in YAML and flags.
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalYAML writes the duration as a string such as "2ms".
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// UnmarshalYAML reads a Go duration string such as "2ms" or "30s".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration such as 5ms or 30s", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// PipelineStep is one plugin of a named pipeline.
type PipelineStep struct {
	Plugin string         `yaml:"plugin"`
	Config map[string]any `yaml:"config,omitempty"`
	// OnError is "fail" (default) or "skip": pass the step's input through.
	OnError string `yaml:"on_error,omitempty"`
}

// IndexDefaults are proxy-mode rerank defaults for one index (defined by the
// proxy, which uses them).
type IndexDefaults = proxy.IndexDefaults

// Config is the effective configuration of `crossrank serve`.
type Config struct {
	Addr                  string   `yaml:"addr" help:"listen address"`
	Models                []string `yaml:"models" alias:"model" help:"model folder, or name=DIR; repeatable (env: comma-separated; --model and CROSSRANK_MODEL also work)"`
	ModelPull             string   `yaml:"model_pull" help:"Hugging Face hub id to pull into <model_cache>/<id> and serve"`
	ModelCache            string   `yaml:"model_cache" help:"folder that --model-pull downloads into"`
	DefaultModel          string   `yaml:"default_model" help:"model used when a request names none (default: the first)"`
	ModelAliases          []string `yaml:"model_aliases" alias:"model-alias" help:"another name for a served model, ALIAS=MODEL (e.g. rerank-v3.5=ms-marco, for Cohere clients); repeatable (--model-alias also works)"`
	UnknownModelDefault   bool     `yaml:"unknown_model_default" help:"serve the default model for a model name that is neither served nor an alias (with a Warning response header) instead of answering 404"`
	ORTLib                string   `yaml:"ort_lib" help:"ONNX Runtime shared library (default: found automatically)"`
	Provider              string   `yaml:"provider" help:"execution provider: cpu, cuda, tensorrt, coreml"`
	Profile               string   `yaml:"profile" help:"accurate: serve the fp32 graph; fast: serve the model folder's int8 graph (onnx/model_quantized.onnx, made by crossrank model quantize)"`
	ORTDisabledOptimizers []string `yaml:"ort_disabled_optimizers" help:"ONNX Runtime graph optimisers to skip (default on cpu: AttentionFusion, measured faster; none: run all)"`
	Workers               int      `yaml:"workers" help:"batches run at once per model"`
	Threads               int      `yaml:"threads" help:"intra-op threads per batch"`
	MaxBatchPairs         int      `yaml:"max_batch_pairs" help:"pairs per batch"`
	MaxBatchTokens        int      `yaml:"max_batch_tokens" help:"padded tokens per batch (pairs x longest); a longer pair runs in a batch of its own"`
	MaxWait               Duration `yaml:"max_wait" help:"longest a pair waits for its batch to fill"`
	MaxQueuePairs         int      `yaml:"max_queue_pairs" help:"pairs waiting per model before requests get 429"`
	FIFOBatching          bool     `yaml:"fifo_batching" help:"batch in arrival order instead of grouping by length"`
	EDF                   bool     `yaml:"edf" help:"schedule across requests earliest deadline first (deadline = arrival + timeout_ms or request_timeout) instead of fair queueing; lengths are still grouped"`
	CacheSize             int      `yaml:"cache_size" help:"score cache entries (0: off)"`
	EmbeddingCacheBytes   int      `yaml:"embedding_cache_bytes" help:"bi-encoder embedding cache bound in bytes (0: off)"`
	MaxDocuments          int      `yaml:"max_documents" help:"documents per request"`
	MaxBodyBytes          int      `yaml:"max_body_bytes" help:"request body limit in bytes"`
	RequestTimeout        Duration `yaml:"request_timeout" help:"deadline of a request without timeout_ms"`
	ShutdownGrace         Duration `yaml:"shutdown_grace" help:"time in-flight requests get to finish on SIGTERM"`
	DrainDelay            Duration `yaml:"drain_delay" help:"on SIGTERM, time /ready answers 503 while requests are still served, before the listener closes"`
	PluginDir             string   `yaml:"plugin_dir" help:"folder of .wasm plugins"`
	PluginCallTimeout     Duration `yaml:"plugin_call_timeout" help:"longest one plugin call may run (also bounded by the request's deadline)"`
	PluginLoadTimeout     Duration `yaml:"plugin_load_timeout" help:"longest loading, compiling and instantiating the plugins may take, at start and on each reload"`
	PipelinesFile         string   `yaml:"pipelines_file" alias:"pipelines" help:"YAML file with a pipelines: map, read again by POST /admin/plugins/reload (--pipelines and CROSSRANK_PIPELINES also work)"`
	DefaultPipe           string   `yaml:"default_pipeline" help:"pipeline used when a request names none"`
	Upstream              string   `yaml:"upstream" help:"Elasticsearch/OpenSearch URL for _search proxy mode"`
	LogLevel              string   `yaml:"log_level" help:"debug, info, warn or error"`
	APIKey                []string `yaml:"api_key" help:"API key the rerank APIs, /v1/models, the _search proxy and the metrics routes require (Authorization: Bearer KEY or X-Api-Key: KEY; X-Api-Key only in proxy mode); repeatable (env: comma-separated)"`
	APIKeyFile            string   `yaml:"api_key_file" help:"file of API keys, one per line (# comments and blank lines ignored), added to --api-key"`
	AdminKey              string   `yaml:"admin_key" help:"key of the /admin/ routes (default: none, and they are served to loopback clients only)"`
	PublicMetrics         bool     `yaml:"public_metrics" help:"serve /metrics, /v1/stats and /dashboard without the API key"`
	TLSCert               string   `yaml:"tls_cert" help:"PEM certificate (chain) to serve HTTPS with; reloaded when the file changes"`
	TLSKey                string   `yaml:"tls_key" help:"PEM private key of --tls-cert"`
	CacheDir              string   `yaml:"cache_dir" help:"plugin compilation cache folder (default: .cache/wazero when the working directory is writable, else the user's cache folder; off: none)"`
	MaxInflightBytes      int      `yaml:"max_inflight_bytes" help:"memory requests may hold at once, charged 3 bytes per body byte; more get 429 with Retry-After (default: a sixteenth of the machine's memory, 64 MiB to 1 GiB)"`
	MaxConns              int      `yaml:"max_conns" help:"client connections served at once, idle keep-alive ones included"`
	OTLPEndpoint          string   `yaml:"otlp_endpoint" help:"OpenTelemetry collector base URL for traces (http://host:4318; gRPC with OTEL_EXPORTER_OTLP_PROTOCOL=grpc and port 4317); off when empty and no OTEL_EXPORTER_OTLP_ENDPOINT is set"`

	Pipelines map[string][]PipelineStep `yaml:"pipelines,omitempty" flag:"-"`
	Indices   map[string]IndexDefaults  `yaml:"indices,omitempty" flag:"-"`
	// Cascades are named cascades: cascades: {fast: [{model: NAME, keep:
	// 100}, {model: NAME, keep: 20}]} (see rerank.Stage).
	Cascades map[string][]rerank.Stage `yaml:"cascades,omitempty" flag:"-"`
}

// Default returns the built-in defaults, taken from the packages that own
// them (batcher.DefaultConfig, rerank and server constants; see
// sidecar/RATIONALE.md for the batching numbers).
func Default() Config {
	b := batcher.DefaultConfig()
	return Config{
		Addr:                "127.0.0.1:8080",
		ModelCache:          ".cache/models",
		Provider:            "cpu",
		Profile:             ProfileAccurate,
		Workers:             b.Workers,
		Threads:             1,
		MaxBatchPairs:       b.MaxBatchPairs,
		MaxBatchTokens:      b.MaxBatchTokens,
		MaxWait:             Duration(b.MaxWait),
		MaxQueuePairs:       b.MaxQueuePairs,
		CacheSize:           rerank.DefaultCacheSize,
		EmbeddingCacheBytes: rerank.DefaultEmbeddingCacheBytes,
		MaxDocuments:        rerank.DefaultMaxDocuments,
		MaxBodyBytes:        server.DefaultMaxBodyBytes,
		RequestTimeout:      Duration(server.DefaultRequestTimeout),
		ShutdownGrace:       Duration(30 * time.Second),
		PluginCallTimeout:   Duration(host.DefaultCallTimeout),
		PluginLoadTimeout:   Duration(host.DefaultLoadTimeout),
		LogLevel:            "info",

		MaxInflightBytes: int(server.DefaultMaxInflightBytes()),
		MaxConns:         server.DefaultMaxConns,
	}
}

// Serving profiles (Config.Profile).
const (
	// ProfileAccurate serves a model's fp32 graph (the default).
	ProfileAccurate = "accurate"
	// ProfileFast serves a model's dynamically quantised int8 graph.
	ProfileFast = "fast"
)

// Flags binds the configuration to a flag set.
type Flags struct {
	fs         *pflag.FlagSet
	vals       *Config
	durs       map[string]*time.Duration
	ConfigFile string
	Print      bool
}

type setting struct {
	field     reflect.StructField
	index     int
	flag, env string
	// alias is the setting's former flag name, still accepted (--model,
	// --pipelines), with its environment variable.
	alias, aliasEnv string
}

func settings() []setting {
	t := reflect.TypeFor[Config]()
	var out []setting
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("flag")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ReplaceAll(strings.Split(f.Tag.Get("yaml"), ",")[0], "_", "-")
		}
		st := setting{field: f, index: i, flag: name, env: envName(name)}
		if a := f.Tag.Get("alias"); a != "" {
			st.alias, st.aliasEnv = a, envName(a)
		}
		out = append(out, st)
	}
	return out
}

func envName(flag string) string {
	return "CROSSRANK_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// Register adds a flag for every scalar setting, plus --config and
// --print-config, to fs.
func Register(fs *pflag.FlagSet) *Flags {
	def := Default()
	f := &Flags{fs: fs, vals: &def, durs: map[string]*time.Duration{}}
	v := reflect.ValueOf(f.vals).Elem()
	for _, s := range settings() {
		fv := v.Field(s.index)
		help := s.field.Tag.Get("help") + " (env " + s.env + ")"
		switch p := fv.Addr().Interface().(type) {
		case *string:
			fs.StringVar(p, s.flag, *p, help)
		case *int:
			fs.IntVar(p, s.flag, *p, help)
		case *bool:
			fs.BoolVar(p, s.flag, *p, help)
		case *[]string:
			fs.StringArrayVar(p, s.flag, *p, help)
		case *Duration:
			d := new(time.Duration)
			f.durs[s.flag] = d
			fs.DurationVar(d, s.flag, p.D(), help)
		default:
			panic(fmt.Sprintf("config: field %s has an unsupported type", s.field.Name))
		}
	}
	aliases := map[string]string{}
	for _, s := range settings() {
		if s.alias != "" {
			aliases[s.alias] = s.flag
		}
	}
	prev := fs.GetNormalizeFunc()
	fs.SetNormalizeFunc(func(fs *pflag.FlagSet, name string) pflag.NormalizedName {
		if to, ok := aliases[name]; ok {
			name = to
		}
		return prev(fs, name)
	})
	fs.StringVar(&f.ConfigFile, "config", "", "YAML configuration file (env CROSSRANK_CONFIG)")
	fs.BoolVar(&f.Print, "print-config", false, "print the effective configuration as YAML and exit")
	return f
}

// Load returns the effective configuration: defaults, then the YAML file
// (--config or CROSSRANK_CONFIG), then CROSSRANK_* variables from getenv,
// then the flags that were set on the command line. It validates the result.
func (f *Flags) Load(getenv func(string) string) (Config, error) {
	cfg := Default()
	path := f.ConfigFile
	if path == "" {
		path = getenv("CROSSRANK_CONFIG")
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		if err := Parse(b, &cfg); err != nil {
			return cfg, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	v := reflect.ValueOf(&cfg).Elem()
	for _, s := range settings() {
		raw, ok := lookupEnv(getenv, s.env)
		if !ok && s.aliasEnv != "" {
			raw, ok = lookupEnv(getenv, s.aliasEnv)
		}
		if !ok {
			continue
		}
		if err := setFromString(v.Field(s.index), raw); err != nil {
			return cfg, fmt.Errorf("config: %s=%q: %w", s.env, raw, err)
		}
	}
	fv := reflect.ValueOf(f.vals).Elem()
	for _, s := range settings() {
		if !f.fs.Changed(s.flag) {
			continue
		}
		if d, ok := f.durs[s.flag]; ok {
			v.Field(s.index).Set(reflect.ValueOf(Duration(*d)))
			continue
		}
		v.Field(s.index).Set(fv.Field(s.index))
	}
	return cfg, cfg.Validate()
}

func lookupEnv(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

func setFromString(v reflect.Value, raw string) error {
	switch p := v.Addr().Interface().(type) {
	case *string:
		*p = raw
	case *int:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		*p = n
	case *bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("not a boolean")
		}
		*p = b
	case *[]string:
		*p = nil
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				*p = append(*p, s)
			}
		}
	case *Duration:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Errorf("not a duration such as 5ms")
		}
		*p = Duration(d)
	}
	return nil
}

// Parse reads YAML into cfg (keeping what the YAML does not set); unknown
// keys are an error naming their line.
func Parse(b []byte, cfg *Config) error { return strict(b, cfg) }

// strict is the one YAML parser of the config and pipelines files: unknown
// keys and wrong types are errors naming the line.
func strict(b []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return syntaxLine(b, err)
	}
	return nil
}

// yamlSyntax matches the YAML parser's syntax errors.
var yamlSyntax = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxLine corrects the line of a YAML syntax error: the parser reports
// some (a stray "- x", an unclosed "[") on the line before, or on the line
// where the enclosing block began. The line is the first one at which the
// file, cut there, fails with the same problem.
func syntaxLine(b []byte, err error) error {
	m := yamlSyntax.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	for k := 1; k <= len(lines); k++ {
		var n yaml.Node
		perr := yaml.Unmarshal(bytes.Join(lines[:k], nil), &n)
		if perr != nil && strings.HasSuffix(perr.Error(), ": "+m[2]) {
			return fmt.Errorf("line %d: %s", k, m[2])
		}
	}
	return err
}

// ReadPipelines reads a --pipelines file: a pipelines: map of named
// pipelines, parsed as strictly as the config file. Errors name the file
// (and the line, for bad YAML or an unknown key).
func ReadPipelines(path string) (map[string][]PipelineStep, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pipelines file: %w", err)
	}
	var f struct {
		Pipelines map[string][]PipelineStep `yaml:"pipelines"`
	}
	if err := strict(b, &f); err != nil {
		return nil, fmt.Errorf("pipelines file %s: %w", path, err)
	}
	if len(f.Pipelines) == 0 {
		return nil, fmt.Errorf("pipelines file %s: no pipelines: map", path)
	}
	return f.Pipelines, nil
}

// Marshal returns cfg as YAML, keys redacted.
func Marshal(cfg Config) ([]byte, error) {
	if len(cfg.APIKey) > 0 {
		cfg.APIKey = slices.Repeat([]string{redacted}, len(cfg.APIKey)) // never the caller's slice
	}
	if cfg.AdminKey != "" {
		cfg.AdminKey = redacted
	}
	return yaml.Marshal(cfg)
}

const redacted = "<redacted>"

// APIKeys returns --api-key's keys and the --api-key-file's, one per line
// (blank lines and lines starting with # skipped).
func (c Config) APIKeys() ([]string, error) {
	keys := append([]string(nil), c.APIKey...)
	if c.APIKeyFile == "" {
		return keys, nil
	}
	b, err := os.ReadFile(c.APIKeyFile)
	if err != nil {
		return nil, fmt.Errorf("config: api_key_file: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			keys = append(keys, line)
		}
	}
	if len(keys) == len(c.APIKey) {
		return nil, fmt.Errorf("config: api_key_file %s holds no key", c.APIKeyFile)
	}
	return keys, nil
}

// ModelSpec is one --model value.
type ModelSpec struct{ Name, Dir string }

// ModelSpecs parses the models list: "DIR" is named after the folder's base
// name, "name=DIR" is named name.
func (c Config) ModelSpecs() ([]ModelSpec, error) {
	var out []ModelSpec
	seen := map[string]bool{}
	for _, m := range c.Models {
		name, dir, ok := strings.Cut(m, "=")
		if !ok {
			dir = m
			name = baseName(dir)
		}
		if name == "" || dir == "" {
			return nil, fmt.Errorf("config: model %q: want DIR or name=DIR", m)
		}
		if seen[name] {
			return nil, fmt.Errorf("config: model name %q given twice", name)
		}
		seen[name] = true
		out = append(out, ModelSpec{Name: name, Dir: dir})
	}
	return out, nil
}

// Aliases parses model_aliases ("ALIAS=MODEL" each) into a map.
func (c Config) Aliases() (map[string]string, error) {
	out := map[string]string{}
	for _, a := range c.ModelAliases {
		alias, target, ok := strings.Cut(a, "=")
		alias, target = strings.TrimSpace(alias), strings.TrimSpace(target)
		if !ok || alias == "" || target == "" {
			return nil, fmt.Errorf("model alias %q: want ALIAS=MODEL, e.g. rerank-v3.5=ms-marco", a)
		}
		if prev, dup := out[alias]; dup && prev != target {
			return nil, fmt.Errorf("model alias %q given twice (%s and %s)", alias, prev, target)
		}
		out[alias] = target
	}
	return out, nil
}

func baseName(dir string) string {
	dir = strings.TrimRight(dir, "/")
	if i := strings.LastIndexByte(dir, '/'); i >= 0 {
		return dir[i+1:]
	}
	return dir
}

// Validate checks the settings against each other.
func (c Config) Validate() error {
	errs := append(c.validateModels(), c.validateLimits()...)
	errs = append(errs, c.validateServing()...)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

func (c Config) validateModels() []error {
	var errs []error
	if len(c.Models) == 0 && c.ModelPull == "" {
		errs = append(errs, errors.New("no model: set --model DIR (or --model-pull HUBID)"))
	}
	if c.ModelPull != "" && c.ModelCache == "" {
		errs = append(errs, errors.New("model_cache is empty: --model-pull needs a folder to download into"))
	}
	specs, err := c.ModelSpecs()
	if err != nil {
		errs = append(errs, err)
	}
	if _, err := c.Aliases(); err != nil {
		errs = append(errs, err)
	}
	served := map[string]bool{}
	for _, s := range specs {
		served[s.Name] = true
	}
	if c.ModelPull != "" {
		served[c.ModelPull] = true
	}
	for name, stages := range c.Cascades {
		if len(stages) == 0 {
			errs = append(errs, fmt.Errorf("cascade %q has no stages", name))
		}
		for i, st := range stages {
			if !served[st.Model] {
				errs = append(errs, fmt.Errorf("cascade %q stage %d: model %q is not among the served models", name, i, st.Model))
			}
			if st.Keep < 1 {
				errs = append(errs, fmt.Errorf("cascade %q stage %d (%s): keep %d must be at least 1", name, i, st.Model, st.Keep))
			}
		}
	}
	return errs
}

func (c Config) validateLimits() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for name, v := range map[string]int{"workers": c.Workers, "threads": c.Threads, "max_batch_pairs": c.MaxBatchPairs, "max_batch_tokens": c.MaxBatchTokens, "max_queue_pairs": c.MaxQueuePairs, "max_documents": c.MaxDocuments, "max_body_bytes": c.MaxBodyBytes} {
		if v <= 0 {
			bad("%s must be positive, not %d", name, v)
		}
	}
	if c.CacheSize < 0 {
		bad("cache_size must not be negative")
	}
	if c.EmbeddingCacheBytes < 0 {
		bad("embedding_cache_bytes must not be negative")
	}
	if c.MaxWait < 0 || c.RequestTimeout < 0 || c.ShutdownGrace < 0 || c.PluginCallTimeout < 0 || c.PluginLoadTimeout < 0 || c.DrainDelay < 0 {
		bad("durations must not be negative")
	}
	if c.MaxInflightBytes < 0 || c.MaxConns < 0 {
		bad("max_inflight_bytes and max_conns must not be negative (0: unbounded)")
	}
	if c.MaxDocuments > c.MaxQueuePairs {
		bad("max_documents (%d) is more than max_queue_pairs (%d): such a request could never be queued", c.MaxDocuments, c.MaxQueuePairs)
	}
	return errs
}

func (c Config) validateServing() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Addr == "" {
		bad("addr is empty")
	}
	if c.Upstream != "" {
		u, err := url.Parse(c.Upstream)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("upstream %q is not an http(s) URL", c.Upstream)
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("tls_cert and tls_key go together: set both or neither")
	}
	for _, k := range c.APIKey {
		if strings.TrimSpace(k) == "" || strings.ContainsAny(k, " \t\r\n") {
			bad("api_key: a key must be non-empty and hold no whitespace")
			break
		}
	}
	if c.OTLPEndpoint != "" {
		u, err := url.Parse(c.OTLPEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			bad("otlp_endpoint %q is not an http(s) URL such as http://localhost:4318", c.OTLPEndpoint)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level %q is not debug, info, warn or error", c.LogLevel)
	}
	if c.Profile != ProfileAccurate && c.Profile != ProfileFast {
		bad("profile %q is not accurate (fp32) or fast (int8)", c.Profile)
	}
	if c.DefaultPipe != "" && c.DefaultPipe != "none" && c.Pipelines != nil {
		if _, ok := c.Pipelines[c.DefaultPipe]; !ok && c.PipelinesFile == "" {
			bad("default_pipeline %q is not among the pipelines", c.DefaultPipe)
		}
	}
	return errs
}
