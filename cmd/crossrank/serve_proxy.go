package main

import (
	"fmt"

	"github.com/crossrank/crossrank/sidecar/proxy"
)

// The _search proxy (issue 7): with --upstream, every request no sidecar
// route matches goes to the engine, and searches are reranked.
func init() {
	registerServeHook(serveHook{Name: "proxy", After: func(env *serveEnv) error {
		cfg := env.Config
		if cfg.Upstream == "" {
			if len(cfg.Indices) > 0 {
				env.Log.Warn("indices are configured but there is no upstream: the _search proxy is off")
			}
			return nil
		}
		p, err := proxy.New(proxy.Config{
			Upstream: cfg.Upstream,
			Indices:  cfg.Indices,
			Model:    cfg.DefaultModel,
			Timeout:  cfg.RequestTimeout.D(),
		}, env.Engine)
		if err != nil {
			return fmt.Errorf("--upstream: %w", err)
		}
		env.Fallback = p.Handler
		env.Closers = append(env.Closers, func() error { p.Close(); return nil })
		env.Log.Info("_search proxy", "upstream", p.Upstream(), "indices", len(cfg.Indices))
		return nil
	}})
}
