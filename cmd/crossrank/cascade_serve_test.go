package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crossrank/crossrank/internal/reranktest"
	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/sidecar/config"
	"github.com/crossrank/crossrank/sidecar/rerank"
)

// TestServeCascadeAndBiEncoder serves the bi-encoder and the twin with a
// configured cascade, in process, over loopback HTTP: /v1/rerank with
// "cascade" reports each document's score source and the embedding cache
// in meta, a second request hits the cache, TEI raw_scores are
// sentence-transformers' cosines, and a bad cascade is a 422.
func TestServeCascadeAndBiEncoder(t *testing.T) {
	cfg := config.Default()
	cfg.Models = []string{"all-MiniLM-L6-v2=" + testenv.MiniLMDir(t), "twin=" + testenv.TwinDir(t)}
	cfg.ORTLib = testenv.ORTLib(t)
	cfg.Cascades = map[string][]rerank.Stage{"fast": {{Model: "all-MiniLM-L6-v2", Keep: 2}, {Model: "twin", Keep: 1}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sc, err := newSidecar(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		sc.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sc.Run(ctx, ln) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("sidecar did not stop")
		}
	}()
	base := "http://" + ln.Addr().String()
	post := func(path, body string) (int, []byte) {
		t.Helper()
		resp, err := http.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	g := reranktest.MiniLMGoldens(t)
	var query string
	var texts []string
	var cosines []float64
	for _, p := range g.Pairs {
		if p.Query != 2 {
			continue
		}
		query = g.Texts[p.Query].Text
		texts = append(texts, g.Texts[p.Passage].Text)
		cosines = append(cosines, p.Cosine)
	}
	docs, _ := json.Marshal(texts)
	body := `{"query":` + string(must(json.Marshal(query))) + `,"documents":` + string(docs) + `,"cascade":"fast"}`
	type meta struct {
		EmbHits   int      `json:"embedding_cache_hits"`
		EmbMisses int      `json:"embedding_cache_misses"`
		Cascade   string   `json:"cascade"`
		Sources   []string `json:"score_sources"`
		Stages    []struct {
			Model        string
			Scored, Kept int
		} `json:"stages"`
	}
	var out struct {
		Results []struct{ Index int } `json:"results"`
		Model   string                `json:"model"`
		Meta    meta                  `json:"meta"`
	}
	for pass := range 2 {
		code, b := post("/v1/rerank", body)
		if code != 200 || json.Unmarshal(b, &out) != nil {
			t.Fatalf("status %d: %s", code, b)
		}
		m := out.Meta
		if out.Model != "fast" || m.Cascade != "fast" || len(m.Sources) != len(texts) || len(m.Stages) != 2 || m.Stages[1].Scored != 2 {
			t.Fatalf("meta %+v model %q", m, out.Model)
		}
		twins := 0
		for _, s := range m.Sources {
			if s == "twin" {
				twins++
			}
		}
		if twins != 2 {
			t.Fatalf("score_sources %v: want 2 from the twin", m.Sources)
		}
		if src := m.Sources[out.Results[0].Index]; src != "twin" {
			t.Fatalf("first result scored by %s, want the last stage", src)
		}
		if pass == 1 && (m.EmbHits != len(texts)+1 || m.EmbMisses != 0) {
			t.Fatalf("second request: embedding cache %d hits %d misses", m.EmbHits, m.EmbMisses)
		}
	}

	code, b := post("/rerank", `{"query":`+string(must(json.Marshal(query)))+`,"texts":`+string(docs)+`,"raw_scores":true,"model":"all-MiniLM-L6-v2"}`)
	var tei []struct {
		Index int
		Score float64
	}
	if code != 200 || json.Unmarshal(b, &tei) != nil || len(tei) != len(texts) {
		t.Fatalf("TEI: status %d: %s", code, b)
	}
	for _, r := range tei {
		if math.Abs(r.Score-cosines[r.Index]) > 1e-5 {
			t.Fatalf("TEI raw score %v for text %d, sentence-transformers cosine %v", r.Score, r.Index, cosines[r.Index])
		}
	}

	for _, bad := range []string{`"cascade":"slow"`, `"cascade":[{"model":"nope","keep":1}]`, `"cascade":[{"model":"twin","keep":0}]`, `"cascade":"fast","model":"twin"`} {
		code, b := post("/v1/rerank", `{"query":"q","documents":["a"],`+bad+`}`)
		if code != http.StatusUnprocessableEntity || !bytes.Contains(b, []byte("cascade")) {
			t.Fatalf("%s: status %d: %s", bad, code, b)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
