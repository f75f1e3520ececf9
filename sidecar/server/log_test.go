package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crossrank/crossrank/sidecar/batcher"
	"github.com/crossrank/crossrank/sidecar/rerank"
	"github.com/crossrank/crossrank/sidecar/server"
)

// TestClientDisconnectDropsQueuedPairs: a client that leaves mid-request
// cancels its request, and its queued pairs leave the batcher's queue
// within 100 ms (they used to stay until the 30 s deadline).
func TestClientDisconnectDropsQueuedPairs(t *testing.T) {
	m := twin(t)
	g := newGated(m.Scorer)
	m.Scorer = g
	sc := start(t, []rerank.Model{m}, []rerank.Option{rerank.WithCacheSize(0),
		rerank.WithBatcher(batcher.Config{MaxBatchPairs: 4, Workers: 1, MaxQueuePairs: 1024})})
	defer g.open()
	docs := make([]string, 200)
	for i := range docs {
		docs[i] = fmt.Sprintf("document number %d", i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "POST", sc.base+"/v1/rerank", bytes.NewReader(mustJSON(t, map[string]any{"query": "q", "documents": docs})))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	bt, _ := sc.eng.Batcher("twin")
	waitFor(t, "the request's pairs queued", func() bool { return bt.Queued() >= 190 })
	cancel() // the client leaves: its connection closes
	<-done
	left := time.Now()
	for bt.Queued() > 0 {
		if time.Since(left) > 100*time.Millisecond {
			t.Fatalf("%d pairs still queued 100 ms after the client left", bt.Queued())
		}
		time.Sleep(time.Millisecond)
	}
}

// syncBuffer is a log sink tests read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, v)
	}
	return out
}

// TestAccessLogAndRequestID: every request gets one structured log line
// with its route, status, pairs, model and request id; a valid
// X-Request-Id is kept and echoed, an invalid one replaced; a 5xx is logged
// at error level with its cause.
func TestAccessLogAndRequestID(t *testing.T) {
	m := twin(t)
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	sc := start(t, []rerank.Model{m}, nil, server.WithLogger(log))

	do := func(id, path, body string) *http.Response {
		req, _ := http.NewRequest("POST", sc.base+path, strings.NewReader(body))
		if id != "" {
			req.Header.Set("X-Request-Id", id)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := do("trace-42", "/v1/rerank", `{"query":"q","documents":["a","b"]}`)
	if got := resp.Header.Get("X-Request-Id"); got != "trace-42" {
		t.Errorf("X-Request-Id echoed as %q, want trace-42", got)
	}
	for _, bad := range []string{"has space", strings.Repeat("x", 129)} {
		resp := do(bad, "/v1/rerank", `{"query":"q","documents":["a"]}`)
		if got := resp.Header.Get("X-Request-Id"); got == bad || len(got) != 36 {
			t.Errorf("invalid id %.20q: echoed %q, want a fresh UUID", bad, got)
		}
	}
	// A pipeline that does not exist is a 404; the engine is closed for a 5xx.
	do("", "/v1/rerank", `{"query":"q","documents":["a"],"pipeline":"nosuch"}`)
	if err := sc.eng.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp = do("boom-1", "/v1/rerank", `{"query":"q","documents":["zz"]}`)
	if resp.StatusCode < 500 {
		t.Fatalf("closed engine: status %d, want a 5xx", resp.StatusCode)
	}

	lines := buf.lines(t)
	byID := map[string]map[string]any{}
	for _, l := range lines {
		if l["msg"] == "request" {
			byID[fmt.Sprint(l["request_id"])] = l
		}
	}
	first := byID["trace-42"]
	if first == nil || first["route"] != "/v1/rerank" || first["method"] != "POST" || first["status"] != 200.0 ||
		first["pairs"] != 2.0 || first["model"] != "twin" || first["level"] != "INFO" || first["duration"] == nil {
		t.Errorf("access log line %v", first)
	}
	failed := byID["boom-1"]
	if failed == nil || failed["level"] != "ERROR" || failed["err"] == nil || failed["err"] == "" {
		t.Errorf("5xx line %v, want level ERROR with its cause", failed)
	}
	if len(byID) != 5 {
		t.Errorf("%d request lines for 5 requests: %v", len(byID), lines)
	}
}
