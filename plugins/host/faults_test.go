package host_test

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/crossrank/crossrank/plugins"
	"github.com/crossrank/crossrank/plugins/host"
)

// TestFaults drives the purpose-built faulty guest (plugins/host/testdata/
// faulty) into each failure. Each gives a PluginError of the right kind that
// names the plugin, is counted, and leaves the pool serving: the next
// ordinary request through the same pipeline succeeds.
func TestFaults(t *testing.T) {
	rec := newRecorder()
	h := newHost(t, host.Config{
		Recorder:         rec,
		PoolSize:         2,
		MemoryLimitPages: 512,             // 32 MiB
		CallTimeout:      5 * time.Second, // well above what "grow" needs on a loaded machine ("loop" waits it out)
		MaxOutputBytes:   1 << 20,
	})
	faulty := wasmPath(t, "faulty")
	if err := h.Load(context.Background(), map[string][]host.Step{
		"f":    {{Plugin: faulty}},
		"skip": {{Plugin: faulty, OnError: "skip"}, {Plugin: "normalize"}},
	}, "f"); err != nil {
		t.Fatal(err)
	}
	p, _ := h.Pipeline("f")
	// Collect garbage all along: a collection must stop the world, and a
	// guest stuck in a loop must neither hang it nor escape its deadline.
	stopGC := make(chan struct{})
	defer close(stopGC)
	go func() {
		for {
			select {
			case <-stopGC:
				return
			case <-time.After(5 * time.Millisecond):
				runtime.GC()
			}
		}
	}()
	cases := []struct {
		query, kind string
		status      int
		msg         string // in the error
	}{
		{"trap", host.KindTrap, 500, "told to trap"},
		{"unreachable", host.KindTrap, 500, "nil pointer"},
		{"loop", host.KindTimeout, 504, "call limit"},
		{"grow", host.KindMemory, 500, "memory"},
		{"oversized", host.KindMalformed, 500, "exceeds"},
		{"outside", host.KindMalformed, 500, "outside guest memory"},
		{"malformed", host.KindMalformed, 500, "exceeds message"},
		{"count", host.KindMalformed, 500, "1 passages for 2 documents"},
		{"error", host.KindOther, 500, "told to fail"},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			_, err := p.Prepare(context.Background(), wordTok{}, plugins.Input{Query: c.query, Documents: docs("a", "b")})
			t.Log(err)
			pe, ok := host.AsPluginError(err)
			if !ok {
				t.Fatalf("got %v, want a *host.PluginError", err)
			}
			if pe.Kind != c.kind || pe.HTTPStatus() != c.status || pe.Plugin != faulty {
				t.Errorf("kind %q status %d plugin %q, want %q %d %q", pe.Kind, pe.HTTPStatus(), pe.Plugin, c.kind, c.status, faulty)
			}
			if !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), faulty) {
				t.Errorf("error %q should name the plugin and contain %q", err, c.msg)
			}
			if n := rec.count(faulty + "/" + c.kind); n == 0 {
				t.Errorf("no %s error recorded", c.kind)
			}
			// The pool keeps serving.
			out, err := p.Prepare(context.Background(), wordTok{}, plugins.Input{Query: "fine", Documents: docs("x", "y")})
			if err != nil || out.Query != "fine" || strings.Join(out.Passages, ",") != "x,y" {
				t.Fatalf("after %s: %+v, %v", c.query, out, err)
			}
		})
	}

	// on_error: skip passes the step's input through and runs the rest.
	sp, _ := h.Pipeline("skip")
	out, err := sp.Prepare(context.Background(), wordTok{}, plugins.Input{Query: "trap", Documents: docs("Ｈｉ")})
	if err != nil || out.Query != "trap" || out.Passages[0] != "Hi" {
		t.Errorf("skip: %+v, %v", out, err)
	}

	// The caller's own cancellation is not the plugin's fault.
	before := rec.count(faulty + "/" + host.KindTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = p.Prepare(ctx, wordTok{}, plugins.Input{Query: "loop", Documents: docs("a")})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled request: got %v, want context.DeadlineExceeded", err)
	}
	if _, ok := host.AsPluginError(err); ok || rec.count(faulty+"/"+host.KindTimeout) != before {
		t.Errorf("a caller's deadline was counted as a plugin timeout: %v", err)
	}
	if http.StatusGatewayTimeout != (&host.PluginError{Kind: host.KindTimeout}).HTTPStatus() {
		t.Error("timeout must map to 504")
	}
}

func TestLoadFaults(t *testing.T) {
	rec := newRecorder()
	h := newHost(t, host.Config{Recorder: rec})
	cases := []struct {
		name string
		step host.Step
		kind string
		msg  string
	}{
		{"missing export", host.Step{Plugin: wasmPath(t, "noexport")}, host.KindMissingExport, "crossrank_run"},
		{"rejected config", host.Step{Plugin: wasmPath(t, "faulty"), Config: map[string]any{"reject": true}}, host.KindOther, "told to reject"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := h.Load(context.Background(), map[string][]host.Step{"p": {c.step}}, "")
			pe, ok := host.AsPluginError(err)
			if !ok || pe.Kind != c.kind || !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), c.step.Plugin) {
				t.Fatalf("got %v, want a %s PluginError naming %s and saying %q", err, c.kind, c.step.Plugin, c.msg)
			}
		})
	}
}
