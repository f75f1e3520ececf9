package main

import (
	"strings"

	"github.com/crossrank/crossrank/sidecar/dashboard"
	"github.com/crossrank/crossrank/sidecar/metrics"
	"github.com/crossrank/crossrank/sidecar/server"
)

// The metrics hook gives serve a Prometheus recorder with its one-second
// stats ring and mounts GET /metrics, GET /v1/stats and GET /dashboard (and
// GET /, a redirect to it, except in _search proxy mode, where / is the
// engine's).
func init() {
	registerServeHook(serveHook{Name: "metrics", Before: metricsBefore, After: metricsAfter})
}

func metricsBefore(env *serveEnv) error {
	var opts []metrics.Option
	// GPU series only when a GPU provider runs and NVML answers.
	switch strings.ToLower(env.Config.Provider) {
	case "cuda", "tensorrt":
		if probe, err := metrics.OpenNVML(); err == nil {
			opts = append(opts, metrics.WithGPU(probe))
			env.Closers = append(env.Closers, probe.Close)
			env.Log.Info("GPU metrics", "gpu", probe.Name())
		} else {
			env.Log.Warn("no GPU metrics", "err", err)
		}
	}
	rec := metrics.New(opts...)
	env.Recorder = rec
	env.Closers = append(env.Closers, rec.Close)
	return nil
}

func metricsAfter(env *serveEnv) error {
	rec, ok := env.Recorder.(*metrics.Prom)
	if !ok {
		return nil
	}
	env.ServerOptions = append(env.ServerOptions,
		server.WithHandler("GET", "/metrics", rec.MetricsHandler()),
		server.WithHandler("GET", "/v1/stats", rec.StatsHandler()),
		server.WithHandler("GET", "/dashboard", dashboard.Handler()),
	)
	if env.Config.Upstream == "" {
		env.ServerOptions = append(env.ServerOptions, server.WithHandler("GET", "/", dashboard.Index()))
	}
	return nil
}
