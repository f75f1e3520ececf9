package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/valyala/fasthttp"

	"github.com/crossrank/crossrank/models/hub"
	"github.com/crossrank/crossrank/models/ort"
	"github.com/crossrank/crossrank/sidecar/batcher"
	"github.com/crossrank/crossrank/sidecar/config"
	"github.com/crossrank/crossrank/sidecar/metrics"
	"github.com/crossrank/crossrank/sidecar/rerank"
	"github.com/crossrank/crossrank/sidecar/server"
)

func init() { register(newServeCmd) }

// serveEnv is what `crossrank serve` builds, shared with the hooks other
// areas register from their own cmd_*.go files (metrics, plugins, proxy).
type serveEnv struct {
	Ctx    context.Context
	Config config.Config
	Log    *slog.Logger

	// Set by Before hooks.
	Recorder      metrics.Recorder      // default metrics.Nop
	Pipelines     rerank.PipelineSource // named plugin pipelines (nil: none)
	EngineOptions []rerank.Option

	// Set by the time After hooks run.
	Engine *rerank.Engine

	// Set by After hooks.
	ServerOptions []server.Option         // e.g. server.WithHandler("GET", "/metrics", h)
	Fallback      fasthttp.RequestHandler // unmatched routes (the _search proxy)
	Closers       []func() error          // run after the server stopped, in reverse order
}

// serveHook extends serve: Before runs after the configuration is loaded and
// before the engine starts; After runs once the engine is up, before the
// server listens.
type serveHook struct {
	Name          string
	Before, After func(*serveEnv) error
}

// serveHooks is filled by init functions only (see registerServeHook).
var serveHooks []serveHook

func registerServeHook(h serveHook) { serveHooks = append(serveHooks, h) }

func newServeCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve the rerank APIs (/v1/rerank, /rerank, /v1/rerank/hits) over HTTP",
		Long: `serve loads one or more cross-encoders and serves Cohere/Jina-compatible
POST /v1/rerank, text-embeddings-inference-compatible POST /rerank, and
POST /v1/rerank/hits (reorders an Elasticsearch/OpenSearch _search response),
plus GET /health, /ready and /v1/models. Every flag can also be set in the
--config YAML file (key = flag name with _ for -) or as CROSSRANK_<KEY>.
SIGTERM turns /ready to 503 while still serving for --drain-delay, then stops
accepting, finishes in-flight requests within --shutdown-grace, and exits 0.`,
		Args: cobra.NoArgs,
	}
	flags := config.Register(c.Flags())
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := flags.Load(os.Getenv)
		if flags.Print {
			b, merr := config.Marshal(cfg)
			if merr != nil {
				return merr
			}
			if _, werr := cmd.OutOrStdout().Write(b); werr != nil {
				return werr
			}
			return err
		}
		if err != nil {
			return err
		}
		return runServe(cmd.Context(), cfg, cmd.ErrOrStderr())
	}
	return c
}

func runServe(ctx context.Context, cfg config.Config, logw io.Writer) error {
	sc, err := newSidecar(ctx, cfg, newLogger(cfg.LogLevel, logw))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		sc.Close()
		return fmt.Errorf("serve: %w", err)
	}
	return sc.Run(ctx, ln)
}

func newLogger(level string, w io.Writer) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// sidecar is a loaded sidecar that is not serving yet.
type sidecar struct {
	env    *serveEnv
	srv    *server.Server
	models []rerank.Model
}

// newSidecar loads the configured models, starts the engine and builds the
// server. Run serves it; Close releases it without serving.
func newSidecar(ctx context.Context, cfg config.Config, log *slog.Logger) (sc *sidecar, err error) {
	env := &serveEnv{Ctx: ctx, Config: cfg, Log: log, Recorder: metrics.Nop{}}
	sc = &sidecar{env: env}
	built := sc // the returns below set sc to nil before this runs
	defer func() {
		if err != nil {
			built.Close()
			sc = nil
		}
	}()
	specs, err := cfg.ModelSpecs()
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	if cfg.ModelPull != "" {
		dir := filepath.Join(cfg.ModelCache, filepath.FromSlash(cfg.ModelPull))
		log.Info("pulling model", "repo", cfg.ModelPull, "dir", dir)
		if _, err := hub.Pull(ctx, cfg.ModelPull, dir, hub.Options{Log: io.Discard}); err != nil {
			return nil, fmt.Errorf("serve: --model-pull %s: %w", cfg.ModelPull, err)
		}
		specs = append([]config.ModelSpec{{Name: cfg.ModelPull, Dir: dir}}, specs...)
	}
	for _, h := range serveHooks {
		if h.Before != nil {
			if err := h.Before(env); err != nil {
				return nil, fmt.Errorf("serve: %s: %w", h.Name, err)
			}
		}
	}
	if env.Pipelines == nil && (len(cfg.Pipelines) > 0 || cfg.PipelinesFile != "" || (cfg.DefaultPipe != "" && cfg.DefaultPipe != "none")) {
		return nil, errors.New("serve: pipelines are configured but this build has no plugin host")
	}
	lib, err := ort.FindLibrary(cfg.ORTLib)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	for _, s := range specs {
		opts := []ort.Option{ort.WithLibrary(lib), ort.WithThreads(cfg.Threads, 1), ort.WithProvider(cfg.Provider)}
		if cfg.ORTDisabledOptimizers != nil {
			opts = append(opts, ort.WithDisabledOptimizers(cfg.ORTDisabledOptimizers...))
		}
		m, err := rerank.LoadModel(ctx, s.Name, s.Dir, opts...)
		if err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
		sc.models = append(sc.models, m)
		info := m.Scorer.Info()
		log.Info("model loaded", "name", s.Name, "dir", s.Dir, "file", info.File, "provider", info.Provider, "max_length", info.MaxLength, "threads", cfg.Threads)
		if info.Twin {
			log.Warn(fmt.Sprintf("model %q is a crossrank shape twin with random weights: its scores are NOT meaningful relevance (use --model-pull or a real model folder for real ranking)", s.Name))
		}
	}
	opts := []rerank.Option{
		rerank.WithBatcher(batcher.Config{
			MaxBatchPairs: cfg.MaxBatchPairs, MaxBatchTokens: cfg.MaxBatchTokens, MaxWait: cfg.MaxWait.D(),
			MaxQueuePairs: cfg.MaxQueuePairs, Workers: cfg.Workers, FIFO: cfg.FIFOBatching,
		}),
		rerank.WithCacheSize(cfg.CacheSize),
		rerank.WithMaxDocuments(cfg.MaxDocuments),
		rerank.WithRecorder(env.Recorder),
		rerank.WithDefaultModel(cfg.DefaultModel),
	}
	if env.Pipelines != nil {
		opts = append(opts, rerank.WithPipelines(env.Pipelines, cfg.DefaultPipe))
	}
	if env.Engine, err = rerank.New(sc.models, append(opts, env.EngineOptions...)...); err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	for _, h := range serveHooks {
		if h.After != nil {
			if err := h.After(env); err != nil {
				return nil, fmt.Errorf("serve: %s: %w", h.Name, err)
			}
		}
	}
	if cfg.Upstream != "" && env.Fallback == nil {
		return nil, fmt.Errorf("serve: --upstream %s: this build has no _search proxy", cfg.Upstream)
	}
	sopts := []server.Option{
		server.WithRecorder(env.Recorder), server.WithLogger(log),
		server.WithMaxBodyBytes(cfg.MaxBodyBytes), server.WithRequestTimeout(cfg.RequestTimeout.D()),
		server.WithDrainDelay(cfg.DrainDelay.D()),
	}
	if env.Fallback != nil {
		sopts = append(sopts, server.WithFallback(env.Fallback))
	}
	sc.srv = server.New(env.Engine, append(sopts, env.ServerOptions...)...)
	sc.srv.SetReady(true)
	return sc, nil
}

// Run serves on ln until ctx ends, then shuts down gracefully and releases
// everything.
func (sc *sidecar) Run(ctx context.Context, ln net.Listener) error {
	defer sc.Close()
	sc.env.Log.Info("listening", "addr", ln.Addr().String(), "models", sc.env.Engine.ModelNames(),
		"workers", sc.env.Config.Workers, "max_batch_pairs", sc.env.Config.MaxBatchPairs, "max_wait", sc.env.Config.MaxWait.D())
	err := sc.srv.Run(ctx, ln, sc.env.Config.ShutdownGrace.D())
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	sc.env.Log.Info("stopped")
	return nil
}

// Close releases the engine, the hooks' resources and the models.
func (sc *sidecar) Close() {
	if sc.env.Engine != nil {
		_ = sc.env.Engine.Close(context.Background())
	}
	for i := len(sc.env.Closers) - 1; i >= 0; i-- {
		if err := sc.env.Closers[i](); err != nil {
			sc.env.Log.Warn("close", "err", err)
		}
	}
	sc.env.Closers = nil
	for _, m := range sc.models {
		_ = m.Scorer.Close()
	}
	sc.models = nil
}
