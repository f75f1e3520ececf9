package main

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/crossrank/crossrank/sidecar/config"
)

// startInProcess starts a sidecar on modelDir inside this process for
// `crossrank bench --model`, with serve's defaults (and its hooks: metrics,
// /v1/stats, plugins), on a loopback port. It returns the base URL and a
// function that stops the sidecar and waits for it.
func startInProcess(ctx context.Context, modelDir string, tune func(*config.Config)) (string, func(), error) {
	cfg := config.Default()
	cfg.Models = []string{modelDir}
	cfg.Addr = "127.0.0.1:0"
	if tune != nil {
		tune(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		return "", nil, fmt.Errorf("bench: --model %s: %w", modelDir, err)
	}
	sc, err := newSidecar(ctx, cfg, newLogger("error", io.Discard))
	if err != nil {
		return "", nil, fmt.Errorf("bench: --model %s: %w", modelDir, err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		sc.Close()
		return "", nil, fmt.Errorf("bench: --model %s: %w", modelDir, err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sc.Run(runCtx, ln) }()
	stop := func() {
		cancel()
		<-done
	}
	return "http://" + ln.Addr().String(), stop, nil
}
