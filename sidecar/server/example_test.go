package server_test

import (
	"context"
	"log"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/crossrank/crossrank/models/loader"
	"github.com/crossrank/crossrank/models/ort"
	"github.com/crossrank/crossrank/sidecar/rerank"
	"github.com/crossrank/crossrank/sidecar/server"
)

// A sidecar on one model, with an extra route, served until SIGTERM.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	m, err := loader.Load(ctx, "twin", ".cache/models/twin", ort.WithThreads(1, 1))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Scorer.Close()
	eng, err := rerank.New([]rerank.Model{m}, rerank.WithCacheSize(10_000))
	if err != nil {
		log.Fatal(err)
	}
	srv := server.New(eng, server.WithHandler("GET", "/hello", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("hi")) })))
	srv.SetReady(true)
	ln, err := net.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Run(ctx, ln, 30*time.Second); err != nil {
		log.Fatal(err)
	}
}

// An exposed sidecar: API keys, an admin key, HTTPS with a certificate that
// is reloaded when renewed, and bounds on memory and connections.
func ExampleWithAuth() {
	eng, err := rerank.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	tlsFiles, err := server.NewTLSReloader("/etc/crossrank/tls.crt", "/etc/crossrank/tls.key", nil)
	if err != nil {
		log.Fatal(err)
	}
	srv := server.New(eng,
		server.WithAuth(server.AuthConfig{APIKeys: []string{"k-2026-a", "k-2026-b"}, AdminKey: "ops-only"}),
		server.WithTLS(tlsFiles.Config()),
		server.WithMaxInflightBytes(256<<20),
		server.WithMaxConns(1024),
	)
	_ = srv // serve it with srv.Run(ctx, ln, grace)
}
