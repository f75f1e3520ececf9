package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crossrank/crossrank/internal/reranktest"
	"github.com/crossrank/crossrank/models"
	"github.com/crossrank/crossrank/models/tokenizer"
	"github.com/crossrank/crossrank/sidecar/batcher"
	"github.com/crossrank/crossrank/sidecar/rerank"
	"github.com/crossrank/crossrank/sidecar/server"
)

// twin loads the default shape twin on the real ONNX Runtime.
func twin(t testing.TB) rerank.Model {
	t.Helper()
	return reranktest.Twin(t, 1)
}

// reference scores pairs the way `crossrank score` does: the model's own
// tokenizer.EncodePair (longest-first to 512) and ort.ScorePairs on the same
// session, outside the sidecar's engine, batcher and HTTP layers.
func reference(t testing.TB, m rerank.Model, query string, passages []string) []float32 {
	t.Helper()
	tr := tokenizer.Truncation{MaxLength: m.Scorer.Info().MaxLength, Strategy: tokenizer.LongestFirst, Direction: tokenizer.Right}
	return reranktest.Reference(t, m, tr, 8, query, passages)
}

func sigmoid(x float32) float64 { return 1 / (1 + math.Exp(-float64(x))) }

// gated runs the real scorer only once its gate opens, so tests can hold
// the workers busy independent of machine speed.
type gated struct {
	models.Scorer
	gate    chan struct{}
	entered chan struct{} // one value each time a batch reaches the gate
	once    sync.Once
}

func newGated(s models.Scorer) *gated {
	return &gated{Scorer: s, gate: make(chan struct{}), entered: make(chan struct{}, 1024)}
}

func (g *gated) Score(ctx context.Context, b *models.Batch) ([]float32, error) {
	g.entered <- struct{}{}
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Scorer.Score(ctx, b)
}

func (g *gated) open() { g.once.Do(func() { close(g.gate) }) }

type batchLog struct {
	mu      sync.Mutex
	batches []batcher.BatchInfo
}

func (l *batchLog) observe(b batcher.BatchInfo) {
	l.mu.Lock()
	l.batches = append(l.batches, b)
	l.mu.Unlock()
}

func (l *batchLog) all() []batcher.BatchInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]batcher.BatchInfo(nil), l.batches...)
}

// sidecar is an engine and server running on a loopback port.
type sidecar struct {
	base string
	eng  *rerank.Engine
	srv  *server.Server
	stop context.CancelFunc
	done chan error
}

func start(t testing.TB, ms []rerank.Model, eopts []rerank.Option, sopts ...server.Option) *sidecar {
	t.Helper()
	eng, err := rerank.New(ms, eopts...)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(eng, append([]server.Option{server.WithLogger(slog.New(slog.DiscardHandler))}, sopts...)...)
	srv.SetReady(true)
	ctx, cancel := context.WithCancel(context.Background())
	s := &sidecar{base: "http://" + ln.Addr().String(), eng: eng, srv: srv, stop: cancel, done: make(chan error, 1)}
	go func() { s.done <- srv.Run(ctx, ln, 10*time.Second) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			t.Error("server did not stop")
		}
	})
	return s
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func post(t testing.TB, url string, body []byte) response {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var words = strings.Fields(`the of and to in is was for on that with as by at from his her an be
which were are it this had not or have one all their new been they more also first who two
search engine index query document ranking relevance score model vector token passage neural
river mountain city music history science water energy market health school garden coffee
language computer network ocean forest bridge library museum planet festival recipe bicycle`)

func sentence(rng *rand.Rand, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = words[rng.IntN(len(words))]
	}
	return strings.Join(w, " ")
}

// passages returns n passages of MS MARCO-like lengths (log-normal words
// around 40).
func passages(rng *rand.Rand, n int) []string { return passagesAround(rng, n, 40) }

// passagesAround returns n passages of log-normal length around median words.
func passagesAround(rng *rand.Rand, n, median int) []string {
	out := make([]string, n)
	for i := range out {
		l := int(math.Exp(math.Log(float64(median)) + 0.5*rng.NormFloat64()))
		out[i] = sentence(rng, max(3, min(l, 200)))
	}
	return out
}

// waitFor polls cond until it holds, failing the test after 30 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
