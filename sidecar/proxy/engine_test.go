package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/internal/reranktest"
	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/models/loader"
	"github.com/crossrank/crossrank/models/ort"
	"github.com/crossrank/crossrank/models/tokenizer"
	"github.com/crossrank/crossrank/sidecar/rerank"
)

// realEngine loads the twin model on the real ONNX Runtime and returns an
// engine over it, the session and the tokenizer (for reference scores).
func realEngine(t *testing.T) (*rerank.Engine, *ort.Session, *tokenizer.Tokenizer) {
	t.Helper()
	dir := testenv.TwinDir(t)
	ctx := context.Background()
	sess, err := ort.Load(ctx, dir, ort.WithLibrary(testenv.ORTLib(t)), ort.WithThreads(1, 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	tok, err := tokenizer.Load(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := rerank.New([]rerank.Model{{Name: "twin", Scorer: sess, Tokenizer: loader.HF(tok, sess.Info().MaxLength)}}, rerank.WithCacheSize(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(ctx) })
	return eng, sess, tok
}

// TestProxyWithTheRealEngine sends searches through the proxy to an
// engine-like upstream and checks the page against scores computed
// straight from the ONNX session (ort.ScorePairs, no engine, no batcher).
func TestProxyWithTheRealEngine(t *testing.T) {
	eng, sess, tok := realEngine(t)
	texts := []string{
		"the cat sat on the mat", "dogs chase cats in the park", "a recipe for lemon cake",
		"cross encoders score a query and a passage together", "bm25 is a lexical ranking function",
		"rerankers reorder the top hits of a search", "the weather today is sunny", "opensearch and elasticsearch are search engines",
		"a sidecar runs beside the engine", "tokenizers split text into word pieces", "cats are small furry animals",
		"the quick brown fox jumps over the lazy dog",
	}
	up := newUpstream(t, len(texts), nil)
	// Serve the texts as _source.text.
	up.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var hits []string
		for i, s := range texts {
			hits = append(hits, fmt.Sprintf(`{"_index":"i","_id":"d%d","_score":%d.25,"_source":{"text":%q,"n":%d}}`, i, len(texts)-i, s, i))
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"took":1,"hits":{"total":{"value":%d,"relation":"eq"},"max_score":%d.25,"hits":[%s]}}`, len(texts), len(texts), strings.Join(hits, ","))
	})
	p, err := New(Config{Upstream: up.URL}, eng)
	if err != nil {
		t.Fatal(err)
	}
	base := startProxy(t, p)

	const query = "which animals are cats"
	enc := func(q, s string) ([]int64, []int64, error) {
		e, err := tok.WithTruncation(tokenizer.Truncation{MaxLength: sess.Info().MaxLength, Strategy: tokenizer.LongestFirst, Direction: tokenizer.Right}).EncodePair(q, s)
		return e.IDs, e.TypeIDs, err
	}
	const window = 8
	pairs := make([]ort.Pair, window)
	for i := range pairs {
		pairs[i] = ort.Pair{Query: query, Passage: texts[i]}
	}
	logits, err := ort.ScorePairs(context.Background(), sess, enc, pairs, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int, window)
	for i := range want {
		want[i] = i
	}
	sort.SliceStable(want, func(a, b int) bool { return logits[want[a]] > logits[want[b]] })
	for i := window; i < len(texts); i++ {
		want = append(want, i)
	}

	for _, pg := range []struct{ from, size int }{{0, 5}, {3, 6}, {6, 6}} {
		body := fmt.Sprintf(`{"from":%d,"size":%d,"ext":{"rerank":{"query":%q,"fields":["text"],"window":%d}}}`, pg.from, pg.size, query, window)
		resp, b := do(t, "POST", base+"/i/_search", body, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		var r hitsResp
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		end := min(pg.from+pg.size, len(want))
		if len(r.Hits.Hits) != end-pg.from {
			t.Fatalf("from=%d size=%d: %d hits", pg.from, pg.size, len(r.Hits.Hits))
		}
		for k, h := range r.Hits.Hits {
			i := want[pg.from+k]
			if h.ID != fmt.Sprintf("d%d", i) {
				t.Fatalf("from=%d size=%d: position %d is %s, want d%d (logits %v)", pg.from, pg.size, pg.from+k, h.ID, i, logits)
			}
			if h.Source["text"] != texts[i] {
				t.Errorf("%s: _source %v", h.ID, h.Source)
			}
			if pg.from+k < window {
				sig := 1 / (1 + math.Exp(-float64(logits[i])))
				if math.Abs(h.Score-sig) > 1e-5 || h.Rerank == nil || h.Rerank.OriginalScore != float64(len(texts)-i)+0.25 {
					t.Errorf("%s: _score %v (want %v), _rerank %+v", h.ID, h.Score, sig, h.Rerank)
				}
			} else if h.Rerank != nil || h.Score != float64(len(texts)-i)+0.25 {
				t.Errorf("%s past the window changed: %+v", h.ID, h)
			}
		}
	}
}

// TestProxyCascade: ext.rerank.cascade ranks the window as the engine's
// cascade does (a configured name and inline stages alike), and a bad
// inline cascade is a 422-style error, not a crash.
func TestProxyCascade(t *testing.T) {
	_, sess, tok := realEngine(t)
	bi := reranktest.MiniLM(t, "minilm", 1)
	ce := rerank.Model{Name: "twin", Scorer: sess, Tokenizer: loader.HF(tok, sess.Info().MaxLength)}
	eng, err := rerank.New([]rerank.Model{ce, bi}, rerank.WithCascades(map[string][]rerank.Stage{"fast": {{Model: "minilm", Keep: 3}, {Model: "twin", Keep: 1}}}))
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(context.Background())
	texts := []string{"cats purr", "the capital of Australia is Canberra", "bananas are yellow", "Sydney is a large city in Australia",
		"a recipe for lemon cake", "kangaroos live in Australia", "the weather is sunny"}
	up := newUpstream(t, len(texts), nil)
	up.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var hits []string
		for i, s := range texts {
			hits = append(hits, fmt.Sprintf(`{"_index":"i","_id":"d%d","_score":%d.5,"_source":{"text":%q}}`, i, len(texts)-i, s))
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"took":1,"hits":{"total":{"value":%d,"relation":"eq"},"max_score":9,"hits":[%s]}}`, len(texts), strings.Join(hits, ","))
	})
	p, err := New(Config{Upstream: up.URL, Model: "twin"}, eng)
	if err != nil {
		t.Fatal(err)
	}
	base := startProxy(t, p)
	const query = "what is the capital of Australia"
	docs := make([]json.RawMessage, len(texts))
	for i, s := range texts {
		docs[i], _ = json.Marshal(s)
	}
	direct, err := eng.Score(context.Background(), rerank.Request{Cascade: "fast", Query: query, Documents: docs})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{`"fast"`, `[{"model":"minilm","keep":3},{"model":"twin","keep":1}]`} {
		body := fmt.Sprintf(`{"size":%d,"ext":{"rerank":{"query":%q,"fields":["text"],"window":%d,"cascade":%s}}}`, len(texts), query, len(texts), c)
		resp, b := do(t, "POST", base+"/i/_search", body, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("cascade %s: status %d: %s", c, resp.StatusCode, b)
		}
		var r hitsResp
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		for k, h := range r.Hits.Hits {
			if want := fmt.Sprintf("d%d", direct.Order[k]); h.ID != want {
				t.Fatalf("cascade %s: position %d is %s, want %s (engine order %v)", c, k, h.ID, want, direct.Order)
			}
		}
	}
	body := fmt.Sprintf(`{"ext":{"rerank":{"query":%q,"fields":["text"],"cascade":[{"model":"nope","keep":1}]}}}`, query)
	resp, b := do(t, "POST", base+"/i/_search", body, nil)
	if resp.StatusCode < 400 || resp.StatusCode >= 500 || !strings.Contains(string(b), "nope") {
		t.Fatalf("unknown cascade model: status %d: %s", resp.StatusCode, b)
	}
}
