package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/crossrank/crossrank/internal/dashboard"
	"github.com/crossrank/crossrank/internal/hub"
	"github.com/crossrank/crossrank/internal/metrics/nvml"
	"github.com/crossrank/crossrank/internal/metrics/prom"
	"github.com/crossrank/crossrank/internal/modeldir"
	"github.com/crossrank/crossrank/internal/tracing"
	"github.com/crossrank/crossrank/models"
	"github.com/crossrank/crossrank/models/loader"
	"github.com/crossrank/crossrank/models/ort"
	"github.com/crossrank/crossrank/sidecar/batcher"
	"github.com/crossrank/crossrank/sidecar/config"
	"github.com/crossrank/crossrank/sidecar/proxy"
	"github.com/crossrank/crossrank/sidecar/rerank"
	"github.com/crossrank/crossrank/sidecar/server"
)

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
	// Bind first: a port in use is an error now, not after the models load.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("serve: --addr %s: %w", cfg.Addr, err)
	}
	sc, err := newSidecar(ctx, cfg, newLogger(cfg.LogLevel, logw))
	if err != nil {
		ln.Close()
		return err
	}
	return sc.Run(ctx, ln)
}

func newLogger(level string, w io.Writer) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// sidecar is a built sidecar that is not serving yet. newSidecar builds it;
// Run serves it; Close releases what was built, in reverse order.
type sidecar struct {
	cfg     config.Config
	log     *slog.Logger
	models  []models.Model
	eng     *rerank.Engine
	srv     *server.Server
	tracing *tracing.Tracing // nil: tracing off
	closers []func() error   // run by Close in reverse order
}

// newSidecar is serve's composition root: every part of the sidecar is
// built here, in this order, and handed to the parts that use it.
//
//	models (--model, --model-pull)  models/loader: tokenizer + ONNX Runtime
//	recorder                        sidecar/metrics/prom (+ sidecar/metrics/nvml on a GPU)
//	tracing (--otlp-endpoint)       internal/tracing: OpenTelemetry SDK + OTLP exporter, to every part below
//	plugin host (pipelines)         plugins/host, recorder
//	engine                          sidecar/rerank: models, batcher, cache, recorder, pipelines
//	_search proxy (--upstream)      sidecar/proxy: engine
//	server                          sidecar/server: engine, routes, proxy, recorder, logger
func newSidecar(ctx context.Context, cfg config.Config, log *slog.Logger) (sc *sidecar, err error) {
	sc = &sidecar{cfg: cfg, log: log}
	built := sc // the returns below set sc to nil before this runs
	defer func() {
		if err != nil {
			built.Close()
			sc = nil
		}
	}()
	specs, err := sc.modelSpecs(ctx)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	rec := sc.newRecorder()
	if err := sc.newTracing(ctx); err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	host, err := sc.newPluginHost(ctx, rec)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	if err := sc.loadModels(ctx, specs); err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	eopts := []rerank.Option{
		rerank.WithBatcher(batcher.Config{
			MaxBatchPairs: cfg.MaxBatchPairs, MaxBatchTokens: cfg.MaxBatchTokens, MaxWait: cfg.MaxWait.D(),
			MaxQueuePairs: cfg.MaxQueuePairs, Workers: cfg.Workers, FIFO: cfg.FIFOBatching, EDF: cfg.EDF,
		}),
		rerank.WithCacheSize(cfg.CacheSize),
		rerank.WithEmbeddingCacheBytes(int64(cfg.EmbeddingCacheBytes)),
		rerank.WithCascades(cfg.Cascades),
		rerank.WithMaxDocuments(cfg.MaxDocuments),
		rerank.WithRecorder(rec),
		rerank.WithDefaultModel(cfg.DefaultModel),
		rerank.WithUnknownModelDefault(cfg.UnknownModelDefault),
	}
	aliases, err := cfg.Aliases()
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	if len(aliases) > 0 {
		eopts = append(eopts, rerank.WithModelAliases(aliases))
	}
	eopts = append(eopts, sc.traceEngine()...)
	if host != nil {
		eopts = append(eopts, rerank.WithPipelines(host, cfg.DefaultPipe))
	}
	if sc.eng, err = rerank.New(sc.models, eopts...); err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	sopts := []server.Option{
		server.WithRecorder(rec), server.WithLogger(log),
		server.WithMaxBodyBytes(cfg.MaxBodyBytes), server.WithRequestTimeout(cfg.RequestTimeout.D()), server.WithDrainDelay(cfg.DrainDelay.D()),
		server.WithHandler("GET", "/metrics", rec.MetricsHandler()),
		server.WithHandler("GET", "/v1/stats", rec.StatsHandler()),
		server.WithHandler("GET", "/dashboard", dashboard.Handler()),
	}
	sopts = append(sopts, sc.traceServer()...)
	if host != nil {
		sopts = append(sopts, server.WithHandler("POST", "/admin/plugins/reload", sc.reloadHandler(host)))
	}
	px, err := sc.newProxy()
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	secure, err := sc.securityOptions(px != nil)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	sopts = append(sopts, secure...)
	if px != nil {
		sopts = append(sopts, server.WithFallback(px))
	} else {
		// GET / opens the dashboard, except in _search proxy mode, where /
		// is the engine's (cluster info, read by Elasticsearch clients).
		sopts = append(sopts, server.WithHandler("GET", "/", dashboard.Index()))
	}
	sc.srv = server.New(sc.eng, sopts...)
	sc.srv.SetReady(true)
	return sc, nil
}

// modelSpecs lists the models to serve: --model-pull's first (pulled now),
// then --model's.
func (sc *sidecar) modelSpecs(ctx context.Context) ([]config.ModelSpec, error) {
	cfg := sc.cfg
	specs, err := cfg.ModelSpecs()
	if err != nil || cfg.ModelPull == "" {
		return specs, err
	}
	dir := filepath.Join(cfg.ModelCache, filepath.FromSlash(cfg.ModelPull))
	sc.log.Info("pulling model", "repo", cfg.ModelPull, "dir", dir)
	if _, err := hub.Pull(ctx, cfg.ModelPull, dir, hub.Options{Log: io.Discard}); err != nil {
		return nil, fmt.Errorf("--model-pull %s: %w", cfg.ModelPull, err)
	}
	return append([]config.ModelSpec{{Name: cfg.ModelPull, Dir: dir}}, specs...), nil
}

// newRecorder is the Prometheus recorder with its one-second stats ring,
// with GPU series when a GPU provider runs and NVML answers.
func (sc *sidecar) newRecorder() *prom.Prom {
	var opts []prom.Option
	switch strings.ToLower(sc.cfg.Provider) {
	case "cuda", "tensorrt":
		if probe, err := nvml.Open(); err == nil {
			opts = append(opts, prom.WithGPU(probe))
			sc.closers = append(sc.closers, probe.Close)
			sc.log.Info("GPU metrics", "gpu", probe.Name())
		} else {
			sc.log.Warn("no GPU metrics", "err", err)
		}
	}
	rec := prom.New(opts...)
	sc.closers = append(sc.closers, rec.Close)
	return rec
}

// loadModels loads every model with the one loader.
func (sc *sidecar) loadModels(ctx context.Context, specs []config.ModelSpec) error {
	cfg := sc.cfg
	flag := cfg.ORTLib
	if flag == os.Getenv(ort.EnvLibrary) {
		// From the environment: FindLibrary reads it and names it so.
		flag = ""
	}
	lib, err := ort.FindLibrary(flag)
	if err != nil {
		return err
	}
	for _, s := range specs {
		opts := []ort.Option{ort.WithLibrary(lib), ort.WithThreads(cfg.Threads, 1), ort.WithProvider(cfg.Provider)}
		if cfg.ORTDisabledOptimizers != nil {
			opts = append(opts, ort.WithDisabledOptimizers(cfg.ORTDisabledOptimizers...))
		}
		dir, err := ensureONNX(ctx, s.Name, s.Dir, filepath.Join(cfg.ModelCache, "converted"), sc.log)
		if err != nil {
			return err
		}
		popts, err := profileOptions(cfg.Profile, s.Name, dir)
		if err != nil {
			return err
		}
		m, err := loader.Load(ctx, s.Name, dir, append(opts, popts...)...)
		if err != nil {
			return err
		}
		sc.models = append(sc.models, m)
		info := m.Info()
		sc.log.Info("model loaded", "name", s.Name, "kind", string(info.Kind), "weights", weights(info), "dir", s.Dir, "file", info.File,
			"profile", cfg.Profile, "precision", info.Precision, "provider", info.Provider, "max_length", info.MaxLength, "threads", cfg.Threads)
		if cfg.Profile == config.ProfileAccurate && info.Precision == "int8" {
			sc.log.Warn(fmt.Sprintf("model %q: profile accurate, but the folder holds only an int8 graph (%s): serving int8", s.Name, info.File))
		}
		if info.Twin {
			sc.log.Warn(fmt.Sprintf("model %q is a crossrank shape twin with random weights: its scores are NOT meaningful relevance (use --model-pull or a real model folder for real ranking)", s.Name))
		}
	}
	return nil
}

// profileOptions returns the loader options of a serving profile for the
// model folder dir: accurate keeps the default file search (fp32 first);
// fast opens the folder's int8 graph (modeldir.QuantizedFiles), and a folder
// without one is a start error that says how to make it. Quantising is not
// done implicitly at start (unlike safetensors conversion): int8 changes
// scores, and its ranking agreement is something to measure per model
// before serving it, so the int8 folder is an explicit artefact.
func profileOptions(profile, name, dir string) ([]ort.Option, error) {
	switch profile {
	case "", config.ProfileAccurate:
		return nil, nil
	case config.ProfileFast:
		if !modeldir.HasQuantized(dir) {
			return nil, fmt.Errorf("model %s: --profile fast serves an int8 graph, and %s has none (looked for %s); make one with\n"+
				"  crossrank model quantize --in %s --out %s-int8\nand serve --model %s-int8 --profile fast",
				name, dir, strings.Join(modeldir.QuantizedFiles(), ", "), dir, strings.TrimRight(dir, "/"), strings.TrimRight(dir, "/"))
		}
		return []ort.Option{ort.WithQuantized()}, nil
	}
	return nil, fmt.Errorf("model %s: unknown profile %q (accurate or fast)", name, profile)
}

// weights says whether a model's weights are trained or a random twin.
func weights(info models.Info) string {
	switch {
	case info.Twin:
		return "twin (random)"
	case info.Trained:
		return "trained"
	}
	return "untrained"
}

// newProxy is the _search proxy when --upstream is set (nil otherwise): every
// request no sidecar route matches goes to the engine, and searches are
// reranked.
func (sc *sidecar) newProxy() (*proxy.Proxy, error) {
	cfg := sc.cfg
	if cfg.Upstream == "" {
		if len(cfg.Indices) > 0 {
			sc.log.Warn("indices are configured but there is no upstream: the _search proxy is off")
		}
		return nil, nil
	}
	pcfg := proxy.Config{
		Upstream: cfg.Upstream,
		Indices:  cfg.Indices,
		Model:    cfg.DefaultModel,
		Timeout:  cfg.RequestTimeout.D(),
		Logger:   sc.log,
	}
	sc.traceProxy(&pcfg)
	p, err := proxy.New(pcfg, sc.eng)
	if err != nil {
		return nil, fmt.Errorf("--upstream: %w", err)
	}
	sc.closers = append(sc.closers, func() error { p.Close(); return nil })
	sc.log.Info("_search proxy", "upstream", p.Upstream(), "indices", len(cfg.Indices))
	return p, nil
}

// Run serves on ln until ctx ends, then shuts down gracefully and releases
// everything.
func (sc *sidecar) Run(ctx context.Context, ln net.Listener) error {
	defer sc.Close()
	addr := ln.Addr().String()
	def := sc.eng.ModelNames()[0]
	info, _ := sc.eng.ModelInfo(def)
	sc.log.Info("listening", "addr", addr, "models", sc.eng.ModelNames(),
		"default_model", def, "kind", string(info.Kind), "weights", weights(info),
		"profile", sc.cfg.Profile, "precision", info.Precision, "workers", sc.cfg.Workers, "max_batch_pairs", sc.cfg.MaxBatchPairs, "edf", sc.cfg.EDF, "max_wait", sc.cfg.MaxWait.D())
	sc.log.Info("dashboard and metrics", "dashboard", "http://"+addr+"/dashboard", "metrics", "http://"+addr+"/metrics", "stats", "http://"+addr+"/v1/stats")
	if err := sc.srv.Run(ctx, ln, sc.cfg.ShutdownGrace.D()); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	sc.log.Info("stopped")
	return nil
}

// Close releases the engine, what newSidecar built, and the models.
func (sc *sidecar) Close() {
	if sc.eng != nil {
		_ = sc.eng.Close(context.Background())
	}
	for i := len(sc.closers) - 1; i >= 0; i-- {
		if err := sc.closers[i](); err != nil {
			sc.log.Warn("close", "err", err)
		}
	}
	sc.closers = nil
	for _, m := range sc.models {
		_ = m.Close()
	}
	sc.models = nil
}
