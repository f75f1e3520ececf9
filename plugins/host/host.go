// Package host runs crossrank's WASM preprocessing plugins in wazero.
//
// A Host compiles each plugin once (with an on-disk compilation cache), keeps
// a pool of ready instances per pipeline step, bounds every instance's memory
// and every call's time, and gives guests WASI with clock and random only (no
// file system, network, environment or arguments). One guest call handles a
// whole request's passages (sdk/ABI.md). A failing plugin yields a
// *PluginError naming it; its instance is discarded and replaced, and a step
// may configure on_error: skip to pass its input through instead. Pipelines
// are reloaded on Reload, on POST /admin/plugins/reload (served by the sidecar) and
// when a plugin file changes, without dropping in-flight requests.
package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crossrank/crossrank/plugins"
	"github.com/crossrank/crossrank/sidecar/metrics"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"go.opentelemetry.io/otel/trace"
)

// Config configures a Host. Zero fields take the defaults noted.
type Config struct {
	// PluginDir holds the standard plugins as NAME.wasm (default plugins/wasm).
	PluginDir string
	// CacheDir is wazero's compilation cache (default .cache/wazero; "off": none).
	CacheDir string
	// PoolSize is the most instances per pipeline step (default GOMAXPROCS).
	PoolSize int
	// MemoryLimitPages bounds each instance's memory in 64 KiB pages
	// (default 1024: 64 MiB).
	MemoryLimitPages uint32
	// CallTimeout bounds one guest call (default 2s).
	CallTimeout time.Duration
	// InitTimeout bounds instantiating and configuring one instance: its
	// start function, _initialize and crossrank_configure (default 10s). An
	// instance created inside a request is also bound by the request's
	// deadline.
	InitTimeout time.Duration
	// LoadTimeout bounds a whole Load or Reload: reading, compiling and
	// instantiating every step (default 60s; the --plugin-load-timeout flag).
	// On timeout the load fails naming the file it was working on, and a
	// reload keeps the pipelines already loaded.
	LoadTimeout time.Duration
	// MaxModuleBytes bounds a .wasm file's size (default 64 MiB).
	MaxModuleBytes int64
	// MaxOutputBytes bounds one call's output (default 16 MiB).
	MaxOutputBytes int
	// MaxGuestMemoryBytes bounds the linear memory of every instance of the
	// Host together (default 4 GiB): a memory.grow beyond it fails as it
	// does at MemoryLimitPages. An instance whose memory grew past half of
	// MemoryLimitPages is not kept for the next request.
	MaxGuestMemoryBytes int64
	// MaxHostInputBytes bounds the text one count_tokens or tokenize call
	// reads, and one word word_tokens counts (default 1 MiB); beyond it the
	// guest traps (KindMalformed).
	MaxHostInputBytes int
	// LogRate and LogBurst rate-limit each plugin's log calls (defaults 20
	// lines/s, bursts of 200); lines over the limit are counted
	// (DroppedLogLines), not read, and summarised in one line per second at
	// most. LogRate < 0: no guest logging at all.
	LogRate  float64
	LogBurst int
	// WatchInterval is how often plugin files are checked for changes
	// (default 1s; negative: no watching).
	WatchInterval time.Duration
	// Recorder receives plugin errors (default metrics.Nop). The plugins
	// stage is timed by its caller, the engine, not here.
	Recorder metrics.Recorder
	// Logger receives guests' log calls and reload messages (default: discard).
	Logger *slog.Logger
	// TracerProvider, when set, records one span per pipeline step, a child
	// of the span of the context Prepare is called with (default: none).
	TracerProvider trace.TracerProvider

	// interrupt is how a call's time limit stops the guest: interruptGlobal
	// (default; see interrupt.go), interruptContext (wazero's
	// close-on-context-done) or interruptNone (no limit; benchmarks only).
	interrupt int
}

// Defaults of Config's time limits.
const (
	DefaultCallTimeout = 2 * time.Second
	DefaultLoadTimeout = time.Minute
)

const (
	interruptGlobal = iota
	interruptContext
	interruptNone
)

// Step is one pipeline step.
type Step struct {
	// Plugin is a standard plugin's name (PluginDir/NAME.wasm) or a path to a
	// .wasm file.
	Plugin string `json:"plugin" yaml:"plugin"`
	// Config is passed to the plugin as JSON.
	Config map[string]any `json:"config,omitempty" yaml:"config,omitempty"`
	// OnError is "fail" (default: the request fails with the plugin's error)
	// or "skip" (the step's input passes through; the error is still counted).
	OnError string `json:"on_error,omitempty" yaml:"on_error,omitempty"`
}

// Host runs plugin pipelines. It is safe for concurrent use.
type Host struct {
	cfg Config
	rt  wazero.Runtime

	mu          sync.Mutex // serialises Load, Reload and Close
	specs       map[string][]Step
	defaultName string
	compiled    map[string]*compiled // by content hash, guarded by mu
	bufs        sync.Pool            // *[]byte request buffers
	memAlloc    *memoryBudget
	logs        *logLimits
	gen         atomic.Pointer[generation]
	draining    sync.WaitGroup
	life        context.Context // cancelled first thing in Close: ends a load in progress
	endLife     context.CancelFunc
	stopWatch   context.CancelFunc
	watchDone   chan struct{}
	closed      bool
}

// New creates a Host with its wazero runtime.
func New(ctx context.Context, cfg Config) (*Host, error) {
	if cfg.PluginDir == "" {
		cfg.PluginDir = filepath.Join("plugins", "wasm")
	}
	if cfg.CacheDir == "" {
		cfg.CacheDir = filepath.Join(".cache", "wazero")
	}
	if cfg.PoolSize <= 0 {
		cfg.PoolSize = runtime.GOMAXPROCS(0)
	}
	if cfg.MemoryLimitPages == 0 {
		cfg.MemoryLimitPages = 1024
	}
	if cfg.MemoryLimitPages > 65536 {
		return nil, fmt.Errorf("plugins: memory limit %d pages exceeds 4 GiB", cfg.MemoryLimitPages)
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.InitTimeout <= 0 {
		cfg.InitTimeout = 10 * time.Second
	}
	if cfg.LoadTimeout <= 0 {
		cfg.LoadTimeout = DefaultLoadTimeout
	}
	if cfg.MaxModuleBytes <= 0 {
		cfg.MaxModuleBytes = 64 << 20
	}
	if cfg.MaxOutputBytes <= 0 {
		cfg.MaxOutputBytes = 16 << 20
	}
	if cfg.MaxGuestMemoryBytes <= 0 {
		cfg.MaxGuestMemoryBytes = 4 << 30
	}
	if cfg.MaxHostInputBytes <= 0 {
		cfg.MaxHostInputBytes = 1 << 20
	}
	if cfg.LogRate == 0 {
		cfg.LogRate = 20
	}
	if cfg.LogBurst <= 0 {
		cfg.LogBurst = 200
	}
	if cfg.WatchInterval == 0 {
		cfg.WatchInterval = time.Second
	}
	if cfg.Recorder == nil {
		cfg.Recorder = metrics.Nop{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	rc := wazero.NewRuntimeConfig().
		WithMemoryLimitPages(cfg.MemoryLimitPages).
		WithCloseOnContextDone(cfg.interrupt == interruptContext)
	if cfg.CacheDir != "off" {
		cache, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("plugins: compilation cache %s: %w", cfg.CacheDir, err)
		}
		rc = rc.WithCompilationCache(cache)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("plugins: WASI: %w", err)
	}
	if err := instantiateImports(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("plugins: host functions: %w", err)
	}
	h := &Host{cfg: cfg, rt: rt, compiled: map[string]*compiled{},
		memAlloc: &memoryBudget{max: cfg.MaxGuestMemoryBytes},
		logs:     &logLimits{rate: max(cfg.LogRate, 0), burst: float64(cfg.LogBurst), plugins: map[string]*logLimiter{}}}
	if cfg.LogRate < 0 {
		h.logs.burst = 0
	}
	h.life, h.endLife = context.WithCancel(context.Background())
	h.bufs.New = func() any { b := make([]byte, 0, 64<<10); return &b }
	return h, nil
}

// generation is one loaded set of pipelines. Requests hold its read lock;
// a reload swaps in a new generation and closes the old one once its
// requests have finished.
type generation struct {
	mu        sync.RWMutex
	closed    bool
	pipelines map[string]*pipeline
	pools     []*pool
	files     map[string]fileStamp // path → stamp when loaded
	modules   []*compiled
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// Load compiles and instantiates the pipelines (name → steps) and makes
// them current; defaultPipeline (may be empty) is the one Pipeline("")
// returns. A step naming a missing or invalid .wasm file fails the load
// with an error naming the file. The first Load also starts the file watcher.
func (h *Host) Load(ctx context.Context, specs map[string][]Step, defaultPipeline string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errors.New("plugins: host is closed")
	}
	if defaultPipeline != "" {
		if _, ok := specs[defaultPipeline]; !ok {
			return fmt.Errorf("plugins: default pipeline %q is not defined", defaultPipeline)
		}
	}
	if err := h.swap(ctx, specs, defaultPipeline); err != nil {
		return err
	}
	if h.stopWatch == nil && h.cfg.WatchInterval > 0 {
		wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		h.stopWatch = cancel
		h.watchDone = make(chan struct{})
		go h.watch(wctx)
	}
	return nil
}

// Reload loads the current pipeline specs again, picking up changed .wasm
// files. In-flight requests finish on the old instances. On error the old
// pipelines stay.
func (h *Host) Reload(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errors.New("plugins: host is closed")
	}
	return h.swap(ctx, h.specs, h.defaultName)
}

// swap builds a generation, under Config.LoadTimeout, and makes it
// current. h.mu is held.
func (h *Host) swap(ctx context.Context, specs map[string][]Step, defaultName string) error {
	lctx, cancel := context.WithTimeoutCause(ctx, h.cfg.LoadTimeout,
		fmt.Errorf("plugins: loading ran past the %s load limit", h.cfg.LoadTimeout))
	defer cancel()
	defer context.AfterFunc(h.life, cancel)() // Close ends a load in progress
	g, err := h.build(lctx, specs, defaultName)
	if err != nil {
		if lctx.Err() != nil && ctx.Err() == nil && !strings.Contains(err.Error(), "load limit") {
			err = fmt.Errorf("%w (the %s load limit passed)", err, h.cfg.LoadTimeout)
		}
		return err
	}
	h.specs, h.defaultName = specs, defaultName
	old := h.gen.Swap(g)
	if old != nil {
		h.draining.Add(1)
		go func() {
			defer h.draining.Done()
			h.retire(old)
		}()
	}
	return nil
}

// retire waits for the generation's requests to finish and closes it.
func (h *Host) retire(g *generation) {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	ctx := context.Background()
	for _, p := range g.pools {
		p.close(ctx)
	}
	h.mu.Lock()
	for _, c := range g.modules {
		h.releaseCompiled(ctx, c)
	}
	h.mu.Unlock()
}

// compileBounded compiles a module, giving up when ctx ends (wazero's
// compiler does not watch the context): the abandoned compilation finishes
// in the background and its module is closed.
func (h *Host) compileBounded(ctx context.Context, b []byte) (wazero.CompiledModule, error) {
	type result struct {
		cm  wazero.CompiledModule
		err error
	}
	done := make(chan result, 1)
	go func() {
		cm, err := h.rt.CompileModule(context.WithoutCancel(ctx), b)
		done <- result{cm, err}
	}()
	select {
	case r := <-done:
		return r.cm, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.err == nil {
				_ = r.cm.Close(context.Background())
			}
		}()
		return nil, context.Cause(ctx)
	}
}

// readLimited reads a file of at most max bytes (it may grow after Stat).
func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s grew over the %d-byte module limit", path, max)
	}
	return b, nil
}

func (h *Host) releaseCompiled(ctx context.Context, c *compiled) {
	c.refs--
	if c.refs == 0 {
		delete(h.compiled, c.key)
		_ = c.mod.Close(ctx)
	}
}

// resolve turns a step's plugin into a file path.
func (h *Host) resolve(name string) string {
	if strings.ContainsRune(name, os.PathSeparator) || strings.HasSuffix(name, ".wasm") {
		return name
	}
	return filepath.Join(h.cfg.PluginDir, name+".wasm")
}

// notFoundHint explains a plugin file that is missing: for a name, the
// plugins the folder has, or that the folder itself is missing.
func (h *Host) notFoundHint(plugin, path string) string {
	if path != filepath.Join(h.cfg.PluginDir, plugin+".wasm") {
		return ""
	}
	entries, err := os.ReadDir(h.cfg.PluginDir)
	if err != nil {
		return fmt.Sprintf(" (the plugin folder %s is missing: pass --plugin-dir, or build the standard plugins there with `make plugins-std` in the crossrank repository)", h.cfg.PluginDir)
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".wasm"); ok && !e.IsDir() {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return fmt.Sprintf(" (%s has no .wasm plugins: build the standard plugins with `make plugins-std`)", h.cfg.PluginDir)
	}
	return fmt.Sprintf(" (available in %s: %s)", h.cfg.PluginDir, strings.Join(names, ", "))
}

// compile returns the compiled module for a file, compiling it if its bytes
// are new. h.mu is held.
func (h *Host) compile(ctx context.Context, plugin, path string) (*compiled, fileStamp, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fileStamp{}, fmt.Errorf("plugin %q: %w%s", plugin, err, h.notFoundHint(plugin, path))
	}
	if st.Size() > h.cfg.MaxModuleBytes {
		return nil, fileStamp{}, &PluginError{Plugin: plugin, Kind: KindMalformed,
			Err: fmt.Errorf("%s is %d bytes, over the %d-byte module limit", path, st.Size(), h.cfg.MaxModuleBytes)}
	}
	b, err := readLimited(path, h.cfg.MaxModuleBytes)
	if err != nil {
		return nil, fileStamp{}, fmt.Errorf("plugin %q: %w", plugin, err)
	}
	sum := sha256.Sum256(b)
	key := hex.EncodeToString(sum[:])
	stamp := fileStamp{mod: st.ModTime(), size: st.Size()}
	if c, ok := h.compiled[key]; ok {
		c.refs++
		return c, stamp, nil
	}
	if h.cfg.interrupt != interruptGlobal {
		if b, err = validate(b); err != nil {
			return nil, stamp, &PluginError{Plugin: plugin, Kind: KindMalformed, Err: fmt.Errorf("%s: %w", path, err)}
		}
	} else {
		if b, err = instrument(b); err != nil {
			return nil, stamp, &PluginError{Plugin: plugin, Kind: KindMalformed, Err: fmt.Errorf("%s: adding the time-limit check: %w", path, err)}
		}
	}
	cm, err := h.compileBounded(ctx, b)
	if err != nil {
		if ctx.Err() != nil {
			return nil, stamp, fmt.Errorf("plugin %q: compiling %s: %w", plugin, path, context.Cause(ctx))
		}
		return nil, stamp, &PluginError{Plugin: plugin, Kind: KindMalformed, Err: fmt.Errorf("%s is not a valid WASM module: %w", path, err)}
	}
	if err := checkExports(cm); err != nil {
		_ = cm.Close(ctx)
		return nil, stamp, &PluginError{Plugin: plugin, Kind: KindMissingExport, Err: fmt.Errorf("%s: %w", path, err)}
	}
	c := &compiled{key: key, path: path, mod: cm, refs: 1}
	h.compiled[key] = c
	return c, stamp, nil
}

// build compiles every step and warms one instance per step, which also
// validates its config. h.mu is held.
func (h *Host) build(ctx context.Context, specs map[string][]Step, defaultName string) (g *generation, err error) {
	g = &generation{pipelines: map[string]*pipeline{}, files: map[string]fileStamp{}}
	defer func() {
		if err != nil {
			for _, p := range g.pools {
				p.close(ctx)
			}
			for _, c := range g.modules {
				h.releaseCompiled(ctx, c)
			}
		}
	}()
	names := make([]string, 0, len(specs))
	for n := range specs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		steps := specs[name]
		if len(steps) == 0 {
			return g, fmt.Errorf("plugins: pipeline %q has no steps", name)
		}
		pl := &pipeline{h: h, name: name}
		for i, st := range steps {
			where := fmt.Sprintf("plugins: pipeline %q step %d", name, i+1)
			if st.Plugin == "" {
				return g, fmt.Errorf("%s: no plugin named", where)
			}
			switch st.OnError {
			case "", "fail", "skip":
			default:
				return g, fmt.Errorf("%s: on_error %q (want fail or skip)", where, st.OnError)
			}
			path := h.resolve(st.Plugin)
			c, stamp, err := h.compile(ctx, st.Plugin, path)
			if err != nil {
				return g, fmt.Errorf("%s: %w", where, err)
			}
			g.modules = append(g.modules, c)
			g.files[path] = stamp
			conf := []byte("{}")
			if st.Config != nil {
				if conf, err = json.Marshal(st.Config); err != nil {
					return g, fmt.Errorf("%s: config: %w", where, err)
				}
			}
			p := newPool(h, st.Plugin, c, conf, h.cfg.PoolSize)
			g.pools = append(g.pools, p)
			<-p.slots
			in, err := p.create(ctx)
			if err != nil {
				p.slots <- struct{}{}
				return g, fmt.Errorf("%s: %w", where, err)
			}
			p.stages = in.stages
			p.ready <- in
			pl.steps = append(pl.steps, step{pool: p, skip: st.OnError == "skip"})
		}
		g.pipelines[name] = pl
	}
	if defaultName != "" {
		g.pipelines[""] = g.pipelines[defaultName]
	}
	return g, nil
}

// Pipeline returns the named pipeline ("" is the default one, if any). The
// returned Pipeline follows reloads: each Prepare uses the pipelines current
// when it starts.
func (h *Host) Pipeline(name string) (plugins.Pipeline, bool) {
	g := h.gen.Load()
	if g == nil {
		return nil, false
	}
	pl, ok := g.pipelines[name]
	if !ok || pl == nil {
		return nil, false
	}
	return handle{h: h, name: name, display: pl.name}, true
}

// Names lists the loaded pipelines.
func (h *Host) Names() []string {
	g := h.gen.Load()
	if g == nil {
		return nil
	}
	var out []string
	for n := range g.pipelines {
		if n != "" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Close stops the watcher, waits for in-flight requests and closes every
// instance and the runtime.
func (h *Host) Close(ctx context.Context) error {
	h.endLife() // before taking h.mu, which a load in progress holds
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	stop, done := h.stopWatch, h.watchDone
	h.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	if g := h.gen.Swap(nil); g != nil {
		h.retire(g)
	}
	h.draining.Wait()
	h.logs.summariseAll(h.cfg.Logger)
	if err := h.rt.Close(ctx); err != nil {
		return fmt.Errorf("plugins: close runtime: %w", err)
	}
	return nil
}

// watch reloads when a plugin file of the current generation changes.
func (h *Host) watch(ctx context.Context) {
	defer close(h.watchDone)
	t := time.NewTicker(h.cfg.WatchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		g := h.gen.Load()
		if g == nil || !changed(g.files) {
			continue
		}
		if err := h.Reload(ctx); err != nil {
			h.cfg.Logger.Error("plugins: reload after file change failed; keeping the loaded plugins", "err", err)
			// Do not retry the same broken files every tick: wait for another change.
			h.mu.Lock()
			if cur := h.gen.Load(); cur != nil {
				for path := range cur.files {
					if st, err := os.Stat(path); err == nil {
						cur.files[path] = fileStamp{mod: st.ModTime(), size: st.Size()}
					}
				}
			}
			h.mu.Unlock()
			continue
		}
		h.cfg.Logger.Info("plugins: reloaded after file change")
	}
}

func changed(files map[string]fileStamp) bool {
	for path, old := range files {
		st, err := os.Stat(path)
		if err != nil {
			continue // a file being replaced; look again next tick
		}
		if !st.ModTime().Equal(old.mod) || st.Size() != old.size {
			return true
		}
	}
	return false
}

// step is one step of a loaded pipeline.
type step struct {
	pool *pool
	skip bool
}

// pipeline is one loaded pipeline of a generation.
type pipeline struct {
	h     *Host
	name  string
	steps []step
}

// handle is the plugins.Pipeline Host.Pipeline returns: it resolves the
// current generation on every call.
type handle struct {
	h             *Host
	name, display string
}

func (p handle) Name() string { return p.display }

// Prepare runs the pipeline on one request.
func (p handle) Prepare(ctx context.Context, tok plugins.Tokenizer, in plugins.Input) (plugins.Output, error) {
	for {
		g := p.h.gen.Load()
		if g == nil {
			return plugins.Output{}, errors.New("plugins: host is closed")
		}
		g.mu.RLock()
		if g.closed {
			g.mu.RUnlock()
			continue // reloaded meanwhile: use the new generation
		}
		pl, ok := g.pipelines[p.name]
		if !ok || pl == nil {
			g.mu.RUnlock()
			return plugins.Output{}, fmt.Errorf("plugins: pipeline %q is no longer defined", p.display)
		}
		out, err := pl.prepare(ctx, tok, in)
		g.mu.RUnlock()
		return out, err
	}
}
