package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/crossrank/crossrank/plugins/host"
	"github.com/crossrank/crossrank/sidecar/api"
	"github.com/crossrank/crossrank/sidecar/config"
	"github.com/crossrank/crossrank/sidecar/metrics"
	"github.com/crossrank/crossrank/sidecar/server"
)

// pipelineSpecs gathers the configured pipelines: the config file's
// pipelines: map, then the --pipelines file's (read again on every call). A
// name defined twice is an error.
func pipelineSpecs(cfg config.Config) (map[string][]host.Step, error) {
	specs := map[string][]host.Step{}
	add := func(name string, steps []config.PipelineStep, from string) error {
		if _, dup := specs[name]; dup {
			return fmt.Errorf("pipeline %q is defined twice (%s)", name, from)
		}
		out := make([]host.Step, len(steps))
		for i, s := range steps {
			out[i] = host.Step{Plugin: s.Plugin, Config: s.Config, OnError: s.OnError}
		}
		specs[name] = out
		return nil
	}
	for name, steps := range cfg.Pipelines {
		if err := add(name, steps, "config file"); err != nil {
			return nil, err
		}
	}
	if cfg.PipelinesFile != "" {
		file, err := config.ReadPipelines(cfg.PipelinesFile)
		if err != nil {
			return nil, err // names the pipelines file
		}
		for name, steps := range file {
			if err := add(name, steps, cfg.PipelinesFile); err != nil {
				return nil, err
			}
		}
	}
	return specs, nil
}

// defaultPipeline is --default-pipeline, "" for none.
func defaultPipeline(cfg config.Config) string {
	if cfg.DefaultPipe == "none" {
		return ""
	}
	return cfg.DefaultPipe
}

// newPluginHost loads the configured pipelines into a WASM plugin host (nil
// when there are none). A pipeline naming a missing or invalid .wasm file is
// an error naming the file.
func (sc *sidecar) newPluginHost(ctx context.Context, rec metrics.Recorder) (*host.Host, error) {
	specs, err := pipelineSpecs(sc.cfg)
	if err != nil {
		return nil, err
	}
	def := defaultPipeline(sc.cfg)
	if len(specs) == 0 {
		if def != "" {
			return nil, fmt.Errorf("default_pipeline %q: no pipelines are configured", def)
		}
		return nil, nil
	}
	dir := sc.cfg.PluginDir
	if dir == "" {
		dir = repoPath(filepath.Join("plugins", "wasm"))
	}
	// The engine owns the plugins stage timing; the host reports its
	// failures only.
	hcfg := host.Config{
		PluginDir: dir, CacheDir: sc.pluginCacheDir(), Recorder: rec, Logger: sc.log,
		CallTimeout: sc.cfg.PluginCallTimeout.D(), LoadTimeout: sc.cfg.PluginLoadTimeout.D(),
	}
	sc.traceHost(&hcfg)
	h, err := host.New(ctx, hcfg)
	if err != nil {
		return nil, err
	}
	if err := h.Load(ctx, specs, def); err != nil {
		_ = h.Close(context.Background())
		return nil, err
	}
	sc.closers = append(sc.closers, func() error { return h.Close(context.Background()) })
	sc.log.Info("plugin pipelines loaded", "pipelines", h.Names(), "plugin_dir", dir)
	return h, nil
}

// reloadHandler serves POST /admin/plugins/reload: it reads the pipelines
// again (the --pipelines file included) and swaps them in at once. On any
// error the running pipelines stay and the answer names the file and line.
func (sc *sidecar) reloadHandler(h *host.Host) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
		defer cancel()
		specs, err := pipelineSpecs(sc.cfg)
		if err == nil {
			err = h.Load(ctx, specs, defaultPipeline(sc.cfg))
		}
		if err != nil {
			sc.log.Error("plugin reload failed; the running pipelines stay", "err", err)
			server.WriteError(w, r, api.Errorf(http.StatusInternalServerError, api.TypeInternal, "reload: %v", err))
			return
		}
		body, _ := json.Marshal(map[string]any{"reloaded": true, "pipelines": h.Names()})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}
