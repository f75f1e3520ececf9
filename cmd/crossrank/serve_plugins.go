package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/crossrank/crossrank/plugins/host"
	"github.com/crossrank/crossrank/sidecar/config"
	"github.com/crossrank/crossrank/sidecar/server"
)

// The plugins hook loads the configured pipelines (config file `pipelines:`
// and --pipelines FILE) into a WASM plugin host, hands it to the engine and
// mounts POST /admin/plugins/reload. A pipeline naming a missing or invalid
// .wasm file stops serve at start with a message naming the file. It runs
// after the metrics hook (file order), so plugin errors reach its recorder.
func init() {
	registerServeHook(serveHook{Name: "plugins", Before: pluginsBefore})
}

// pipelinesFile is the layout of --pipelines FILE.
type pipelinesFile struct {
	Pipelines map[string][]config.PipelineStep `yaml:"pipelines"`
}

func pluginsBefore(env *serveEnv) error {
	cfg := env.Config
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
			return err
		}
	}
	if cfg.PipelinesFile != "" {
		b, err := os.ReadFile(cfg.PipelinesFile)
		if err != nil {
			return fmt.Errorf("--pipelines: %w", err)
		}
		var f pipelinesFile
		if err := yaml.Unmarshal(b, &f); err != nil {
			return fmt.Errorf("--pipelines %s: %w", cfg.PipelinesFile, err)
		}
		if len(f.Pipelines) == 0 {
			return fmt.Errorf("--pipelines %s: no pipelines: map", cfg.PipelinesFile)
		}
		for name, steps := range f.Pipelines {
			if err := add(name, steps, cfg.PipelinesFile); err != nil {
				return err
			}
		}
	}
	def := cfg.DefaultPipe
	if def == "none" {
		def = ""
	}
	if len(specs) == 0 {
		if def != "" {
			return fmt.Errorf("default_pipeline %q: no pipelines are configured", def)
		}
		return nil
	}
	dir := cfg.PluginDir
	if dir == "" {
		dir = filepath.Join("plugins", "wasm")
	}
	h, err := host.New(env.Ctx, host.Config{PluginDir: dir, Recorder: env.Recorder, Logger: env.Log})
	if err != nil {
		return err
	}
	if err := h.Load(env.Ctx, specs, def); err != nil {
		_ = h.Close(context.Background())
		return err
	}
	env.Log.Info("plugin pipelines loaded", "pipelines", h.Names(), "plugin_dir", dir)
	env.Pipelines = h
	env.ServerOptions = append(env.ServerOptions, server.WithHandler("POST", "/admin/plugins/reload", h.ReloadHandler()))
	env.Closers = append(env.Closers, func() error { return h.Close(context.Background()) })
	return nil
}
