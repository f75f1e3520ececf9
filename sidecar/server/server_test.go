package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crossrank/crossrank/models"
	"github.com/crossrank/crossrank/sidecar/batcher"
	"github.com/crossrank/crossrank/sidecar/rerank"
	"github.com/crossrank/crossrank/sidecar/server"
)

type cohereResult struct {
	Index          int                    `json:"index"`
	RelevanceScore float64                `json:"relevance_score"`
	Document       *struct{ Text string } `json:"document"`
	Meta           *struct{ Text string } `json:"meta"`
}

type cohereResponse struct {
	ID      string         `json:"id"`
	Results []cohereResult `json:"results"`
	Meta    struct {
		Tokens struct {
			InputTokens int `json:"input_tokens"`
		} `json:"tokens"`
		CacheHits int `json:"cache_hits"`
		Timings   map[string]float64
	} `json:"meta"`
}

type teiResult struct {
	Index int     `json:"index"`
	Score float64 `json:"score"`
	Text  *string `json:"text"`
}

// checkSorted fails unless results are in descending score order, ties by
// index.
func checkSorted(t *testing.T, what string, idx []int, scores []float64) {
	t.Helper()
	for i := 1; i < len(idx); i++ {
		if scores[i] > scores[i-1] || (scores[i] == scores[i-1] && idx[i] < idx[i-1]) {
			t.Errorf("%s: results not sorted at %d: %v / %v", what, i, idx, scores)
			return
		}
	}
}

// TestAPIsMatchDirectScoring: every API's scores equal the CLI's scoring
// path (tokenizer.EncodePair + ort.ScorePairs) on the same pairs.
func TestAPIsMatchDirectScoring(t *testing.T) {
	m := twin(t)
	sc := start(t, []rerank.Model{m}, []rerank.Option{rerank.WithCacheSize(0)})
	rng := rand.New(rand.NewPCG(42, 1))
	query := "how do neural search engines rank documents"
	docs := passages(rng, 12)
	docs = append(docs, strings.Repeat("very long passage about rivers and mountains ", 120)) // truncated to 512
	ref := reference(t, m, query, docs)

	// Cohere/Jina /v1/rerank.
	r := post(t, sc.base+"/v1/rerank", mustJSON(t, map[string]any{"query": query, "documents": docs, "return_documents": true}))
	if r.status != 200 {
		t.Fatalf("/v1/rerank: %d %s", r.status, r.body)
	}
	var cr cohereResponse
	if err := json.Unmarshal(r.body, &cr); err != nil {
		t.Fatal(err)
	}
	if len(cr.Results) != len(docs) || cr.ID == "" {
		t.Fatalf("/v1/rerank: %d results, id %q", len(cr.Results), cr.ID)
	}
	var idx []int
	var scores []float64
	for _, res := range cr.Results {
		if want := sigmoid(ref[res.Index]); math.Abs(res.RelevanceScore-want) > 1e-4 {
			t.Errorf("/v1/rerank doc %d: %v, direct %v", res.Index, res.RelevanceScore, want)
		}
		if res.Document == nil || res.Document.Text != docs[res.Index] {
			t.Errorf("/v1/rerank doc %d: document text not returned", res.Index)
		}
		idx, scores = append(idx, res.Index), append(scores, res.RelevanceScore)
	}
	checkSorted(t, "/v1/rerank", idx, scores)
	if cr.Meta.Tokens.InputTokens == 0 || cr.Meta.Timings["total_ms"] <= 0 {
		t.Errorf("/v1/rerank meta not filled: %+v", cr.Meta)
	}

	// TEI /rerank, sigmoid and raw.
	for _, raw := range []bool{false, true} {
		r := post(t, sc.base+"/rerank", mustJSON(t, map[string]any{"query": query, "texts": docs, "raw_scores": raw, "return_text": true}))
		if r.status != 200 {
			t.Fatalf("/rerank: %d %s", r.status, r.body)
		}
		for _, h := range []string{"x-tokenization-time", "x-queue-time", "x-inference-time", "x-total-time"} {
			if r.header.Get(h) == "" {
				t.Errorf("/rerank: header %s missing", h)
			}
		}
		var tr []teiResult
		if err := json.Unmarshal(r.body, &tr); err != nil {
			t.Fatal(err)
		}
		idx, scores = idx[:0], scores[:0]
		for _, res := range tr {
			want := sigmoid(ref[res.Index])
			if raw {
				want = float64(ref[res.Index])
			}
			if math.Abs(res.Score-want) > 1e-4 {
				t.Errorf("/rerank raw=%v doc %d: %v, direct %v", raw, res.Index, res.Score, want)
			}
			if res.Text == nil || *res.Text != docs[res.Index] {
				t.Errorf("/rerank doc %d: text not returned", res.Index)
			}
			idx, scores = append(idx, res.Index), append(scores, res.Score)
		}
		if len(tr) != len(docs) {
			t.Fatalf("/rerank: %d results", len(tr))
		}
		checkSorted(t, "/rerank", idx, scores)
	}

	// top_n cuts after sorting.
	r = post(t, sc.base+"/v1/rerank", mustJSON(t, map[string]any{"query": query, "documents": docs, "top_n": 3}))
	var top cohereResponse
	if err := json.Unmarshal(r.body, &top); err != nil || len(top.Results) != 3 || top.Results[0].Index != cr.Results[0].Index {
		t.Errorf("top_n 3: %s (%v)", r.body, err)
	}
}

// TestObjectDocumentsAndRankFields: object documents are joined from
// rank_fields (default "text") with ". ", and score as that text does.
func TestObjectDocumentsAndRankFields(t *testing.T) {
	m := twin(t)
	sc := start(t, []rerank.Model{m}, nil)
	query := "coffee garden"
	docs := []any{
		map[string]any{"title": "Coffee", "body": "grows in a garden", "n": 3},
		map[string]any{"title": "Rivers", "meta": map[string]any{"body": "flow to the ocean"}},
		"plain string document",
	}
	texts := []string{"Coffee. grows in a garden", "Rivers. flow to the ocean", "plain string document"}
	ref := reference(t, m, query, texts)
	r := post(t, sc.base+"/v1/rerank", mustJSON(t, map[string]any{"query": query, "documents": docs, "rank_fields": []string{"title", "body", "meta.body"}, "return_documents": true, "return_texts": true}))
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var cr cohereResponse
	if err := json.Unmarshal(r.body, &cr); err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Results []struct {
			Index    int
			Document json.RawMessage
		}
	}
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	// return_documents gives each document back as it was sent (a string
	// as {"text": ...}); return_texts gives the scored text under meta.
	sent := []string{`{"body":"grows in a garden","n":3,"title":"Coffee"}`, `{"meta":{"body":"flow to the ocean"},"title":"Rivers"}`, `{"text":"plain string document"}`}
	for j, res := range cr.Results {
		if got := string(raw.Results[j].Document); got != sent[res.Index] {
			t.Errorf("doc %d document %s, want as sent %s", res.Index, got, sent[res.Index])
		}
		if res.Meta == nil || res.Meta.Text != texts[res.Index] {
			t.Errorf("doc %d meta %+v, want text %q", res.Index, res.Meta, texts[res.Index])
		}
		if want := sigmoid(ref[res.Index]); math.Abs(res.RelevanceScore-want) > 1e-4 {
			t.Errorf("doc %d: %v, direct %v", res.Index, res.RelevanceScore, want)
		}
	}
}

// TestConcurrentClients: 32 clients with different candidates each get their
// own, correctly ordered answer while their pairs share batches.
func TestConcurrentClients(t *testing.T) {
	m := twin(t)
	var log batchLog
	sc := start(t, []rerank.Model{m}, []rerank.Option{rerank.WithCacheSize(0), rerank.WithBatchObserver(log.observe),
		rerank.WithBatcher(batcher.Config{MaxBatchPairs: 16, MaxWait: 5 * time.Millisecond, Workers: 2})})
	const clients = 32
	rng := rand.New(rand.NewPCG(7, 7))
	queries := make([]string, clients)
	docs := make([][]string, clients)
	refs := make([][]float32, clients)
	for i := range clients {
		queries[i] = sentence(rng, 3+rng.IntN(7))
		docs[i] = passagesAround(rng, 4+rng.IntN(5), 15)
		refs[i] = reference(t, m, queries[i], docs[i])
	}
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			r := post(t, sc.base+"/v1/rerank", mustJSON(t, map[string]any{"query": queries[i], "documents": docs[i]}))
			if r.status != 200 {
				t.Errorf("client %d: %d %s", i, r.status, r.body)
				return
			}
			var cr cohereResponse
			if err := json.Unmarshal(r.body, &cr); err != nil {
				t.Error(err)
				return
			}
			want := make([]float64, len(refs[i]))
			for j, l := range refs[i] {
				want[j] = sigmoid(l)
			}
			order := rerank.Order(want)
			if len(cr.Results) != len(order) {
				t.Errorf("client %d: %d results, want %d", i, len(cr.Results), len(order))
				return
			}
			for k, res := range cr.Results {
				if math.Abs(res.RelevanceScore-want[res.Index]) > 1e-4 {
					t.Errorf("client %d doc %d: %v, direct %v", i, res.Index, res.RelevanceScore, want[res.Index])
				}
				// Same order as the direct scores, unless two scores are
				// within float noise of each other.
				if res.Index != order[k] && math.Abs(want[res.Index]-want[order[k]]) > 1e-4 {
					t.Errorf("client %d rank %d: doc %d, direct order has doc %d", i, k, res.Index, order[k])
				}
			}
		})
	}
	wg.Wait()
	mixed := 0
	for _, b := range log.all() {
		if len(b.Requests) > 1 {
			mixed++
		}
	}
	if mixed == 0 {
		t.Errorf("none of %d batches mixed requests", len(log.all()))
	}
	t.Logf("%d batches, %d mixed requests", len(log.all()), mixed)
}

// openSearchCoherePostProcess reads a response the way OpenSearch ML
// Commons' connector.post_process.cohere.rerank does: it takes $.results, a
// list of maps each with "index" (read as an Integer) and "relevance_score"
// (cast to Double, so a JSON integer such as 1 fails), and writes
// scores[index] for an array sized len(results), so every index 0..n-1 must
// be present exactly once; the scores come back in document order.
func openSearchCoherePostProcess(body []byte) ([]float64, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, err
	}
	var results []map[string]json.RawMessage
	if err := json.Unmarshal(top["results"], &results); err != nil {
		return nil, fmt.Errorf("Post process function input is not a List of Map: %v", err)
	}
	scores := make([]float64, len(results))
	seen := make([]bool, len(results))
	for _, r := range results {
		rawIdx, ok1 := r["index"]
		rawScore, ok2 := r["relevance_score"]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("The rerank result should contain index and relevance_score.")
		}
		idx, err := strconvInt(rawIdx)
		if err != nil {
			return nil, fmt.Errorf("index %s is not an Integer", rawIdx)
		}
		if !bytes.ContainsAny(rawScore, ".eE") {
			return nil, fmt.Errorf("relevance_score %s parses as an Integer: ClassCastException to Double", rawScore)
		}
		var f float64
		if err := json.Unmarshal(rawScore, &f); err != nil {
			return nil, err
		}
		if idx < 0 || idx >= len(scores) || seen[idx] {
			return nil, fmt.Errorf("index %d out of range or repeated (ArrayIndexOutOfBounds / null score)", idx)
		}
		scores[idx], seen[idx] = f, true
	}
	return scores, nil
}

func strconvInt(raw json.RawMessage) (int, error) {
	var n int
	if bytes.ContainsAny(raw, ".eE") {
		return 0, fmt.Errorf("not an integer")
	}
	err := json.Unmarshal(raw, &n)
	return n, err
}

// jsonPathAll evaluates the Elasticsearch custom service's response paths
// $.results[*].<field> on body: one value per element of results, in order.
func jsonPathAll(body []byte, field string) ([]json.RawMessage, error) {
	var top struct {
		Results []map[string]json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, err
	}
	var out []json.RawMessage
	for i, r := range top.Results {
		v, ok := r[field]
		if !ok {
			return nil, fmt.Errorf("$.results[%d].%s missing", i, field)
		}
		out = append(out, v)
	}
	return out, nil
}

// TestSearchEngineContracts: OpenSearch's cohere post-process function and
// Elasticsearch's custom service JSONPaths read our /v1/rerank responses
// correctly, including scores that are exactly 0 or 1 in float64.
func TestSearchEngineContracts(t *testing.T) {
	m := twin(t)
	sc := start(t, []rerank.Model{m}, nil)
	query := "music festival"
	docs := []string{"a music festival in the city", "coffee recipe", "planet science museum", "river bridge"}
	ref := reference(t, m, query, docs)
	r := post(t, sc.base+"/v1/rerank", mustJSON(t, map[string]any{"query": query, "documents": docs}))
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	scores, err := openSearchCoherePostProcess(r.body)
	if err != nil {
		t.Fatalf("OpenSearch cohere post-process: %v\n%s", err, r.body)
	}
	for i, s := range scores {
		if math.Abs(s-sigmoid(ref[i])) > 1e-4 {
			t.Errorf("OpenSearch doc %d: %v, direct %v", i, s, sigmoid(ref[i]))
		}
	}
	relevance, err := jsonPathAll(r.body, "relevance_score")
	if err != nil {
		t.Fatal(err)
	}
	index, err := jsonPathAll(r.body, "index")
	if err != nil {
		t.Fatal(err)
	}
	if len(relevance) != len(docs) || len(index) != len(docs) {
		t.Fatalf("JSONPaths give %d scores and %d indices for %d docs", len(relevance), len(index), len(docs))
	}
	for k := range relevance {
		i, err := strconvInt(index[k])
		if err != nil {
			t.Fatal(err)
		}
		var s float64
		if err := json.Unmarshal(relevance[k], &s); err != nil || math.Abs(s-sigmoid(ref[i])) > 1e-4 {
			t.Errorf("ES $.results[%d]: index %d score %s, direct %v", k, i, relevance[k], sigmoid(ref[i]))
		}
	}
	// The contract check itself rejects integer scores, so it can fail.
	if _, err := openSearchCoherePostProcess([]byte(`{"results":[{"index":0,"relevance_score":1}]}`)); err == nil {
		t.Error("post-process reader accepted an integer relevance_score")
	}
}

// TestBadInput: each kind of bad input gets its status and a JSON error
// body, and the server keeps serving.
func TestBadInput(t *testing.T) {
	m := twin(t)
	sc := start(t, []rerank.Model{m}, []rerank.Option{rerank.WithMaxDocuments(5)}, server.WithMaxBodyBytes(4096))
	big := `{"query":"q","documents":["` + strings.Repeat("x", 5000) + `"]}`
	tests := []struct {
		name, path, body string
		status           int
		mention          string // the error message must name this
	}{
		{"malformed JSON", "/v1/rerank", `{"query": "q", "documents": [`, 400, "JSON"},
		{"not JSON", "/v1/rerank", `hello`, 400, "JSON"},
		{"invalid UTF-8", "/v1/rerank", "{\"query\": \"q\xff\", \"documents\": []}", 400, "UTF-8"},
		{"empty body", "/v1/rerank", ``, 400, "empty"},
		{"array body", "/v1/rerank", `[1,2]`, 422, "object"},
		{"query wrong type", "/v1/rerank", `{"query": 5, "documents": ["a"]}`, 422, "query"},
		{"query missing", "/v1/rerank", `{"documents": ["a"]}`, 422, "query"},
		{"documents missing", "/v1/rerank", `{"query": "q"}`, 422, "documents"},
		{"documents not array", "/v1/rerank", `{"query": "q", "documents": "a"}`, 422, "documents"},
		{"document number", "/v1/rerank", `{"query": "q", "documents": ["a", 7]}`, 422, "documents[1]"},
		{"top_n wrong type", "/v1/rerank", `{"query": "q", "documents": ["a"], "top_n": "2"}`, 422, "top_n"},
		{"top_n negative", "/v1/rerank", `{"query": "q", "documents": ["a"], "top_n": -1}`, 422, "top_n"},
		{"rank_fields wrong type", "/v1/rerank", `{"query": "q", "documents": [{"a":"b"}], "rank_fields": "a"}`, 422, "rank_fields"},
		{"too many documents", "/v1/rerank", `{"query": "q", "documents": ["a","b","c","d","e","f"]}`, 422, "limit of 5"},
		{"payload too large", "/v1/rerank", big, 413, "limit"},
		{"unknown model", "/v1/rerank", `{"model": "nope", "query": "q", "documents": ["a"]}`, 404, "nope"},
		{"unknown pipeline", "/v1/rerank", `{"pipeline": "clean", "query": "q", "documents": ["a"]}`, 404, "clean"},
		{"negative timeout", "/v1/rerank", `{"query": "q", "documents": ["a"], "timeout_ms": -5}`, 422, "timeout_ms"},
		// Integers outside their documented range (API.md, "Limits").
		{"timeout wraps to 0.45 ms", "/v1/rerank", `{"query": "q", "documents": ["a"], "timeout_ms": 18446744073710}`, 422, "timeout_ms"},
		{"timeout wraps negative", "/v1/rerank", `{"query": "q", "documents": ["a"], "timeout_ms": 9223372036855}`, 422, "timeout_ms"},
		{"timeout over 10 minutes", "/rerank", `{"query": "q", "texts": ["a"], "timeout_ms": 600001}`, 422, "timeout_ms"},
		{"timeout past int64", "/v1/rerank/hits", `{"query": "q", "timeout_ms": 1e30, "response": {"hits": {"hits": []}}}`, 422, "timeout_ms"},
		{"max_tokens_per_doc wraps", "/v1/rerank", `{"query": "q", "documents": ["a"], "max_tokens_per_doc": 4294967297}`, 422, "max_tokens_per_doc"},
		{"max_tokens_per_doc over the model", "/v1/rerank", `{"query": "q", "documents": ["a"], "max_tokens_per_doc": 513}`, 422, "max_tokens_per_doc"},
		{"max_tokens_per_doc negative", "/v1/rerank", `{"query": "q", "documents": ["a"], "max_tokens_per_doc": -1}`, 422, "max_tokens_per_doc"},
		{"top_n huge", "/v1/rerank", `{"query": "q", "documents": ["a"], "top_n": 9223372036854775807}`, 422, "top_n"},
		{"hits window over", "/v1/rerank/hits", `{"query": "q", "window": 10001, "response": {"hits": {"hits": []}}}`, 422, "window"},
		{"TEI texts missing", "/rerank", `{"query": "q"}`, 422, "texts"},
		{"TEI text object", "/rerank", `{"query": "q", "texts": [{"a": 1}]}`, 422, "texts[0]"},
		{"TEI bad direction", "/rerank", `{"query": "q", "texts": ["a"], "truncation_direction": "Up"}`, 422, "truncation_direction"},
		{"TEI too long untruncated", "/rerank", `{"query": "q", "texts": ["` + strings.Repeat("word ", 600) + `"], "truncate": false}`, 422, "truncation is off"},
		{"hits response missing", "/v1/rerank/hits", `{"query": "q"}`, 422, "response"},
		{"hits no hits", "/v1/rerank/hits", `{"query": "q", "response": {"took": 1}}`, 422, "response.hits"},
		{"hits hits not array", "/v1/rerank/hits", `{"query": "q", "response": {"hits": {"hits": 3}}}`, 422, "hits.hits"},
		{"hits negative window", "/v1/rerank/hits", `{"query": "q", "window": -1, "response": {"hits": {"hits": []}}}`, 422, "window"},
		{"unknown route", "/v2/nothing", `{}`, 404, "no route"},
	}
	for _, tt := range tests {
		r := post(t, sc.base+tt.path, []byte(tt.body))
		var e struct {
			Error struct{ Type, Message string } `json:"error"`
		}
		if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Type == "" || e.Error.Message == "" {
			t.Errorf("%s: body %q is not a JSON error (%v)", tt.name, r.body, err)
		}
		if r.status != tt.status {
			t.Errorf("%s: status %d, want %d (%s)", tt.name, r.status, tt.status, r.body)
		}
		if !strings.Contains(e.Error.Message, tt.mention) {
			t.Errorf("%s: message %q does not mention %q", tt.name, e.Error.Message, tt.mention)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: content type %q", tt.name, ct)
		}
	}
	// GET on a POST route.
	resp, err := http.Get(sc.base + "/v1/rerank")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET /v1/rerank: %d, want 405", resp.StatusCode)
	}
	// An empty document list is a normal search with no hits.
	r := post(t, sc.base+"/v1/rerank", []byte(`{"query": "q", "documents": []}`))
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"results":[]`)) {
		t.Errorf("empty documents: %d %s", r.status, r.body)
	}
	r = post(t, sc.base+"/rerank", []byte(`{"query": "q", "texts": []}`))
	if r.status != 200 || string(r.body) != "[]" {
		t.Errorf("TEI empty texts: %d %s", r.status, r.body)
	}
	// Still serving.
	r = post(t, sc.base+"/v1/rerank", []byte(`{"query": "q", "documents": ["a", "b"]}`))
	if r.status != 200 {
		t.Errorf("after bad input: %d %s", r.status, r.body)
	}
}

// TestOverload429: a full queue answers 429 with Retry-After.
func TestOverload429(t *testing.T) {
	m := twin(t)
	g := newGated(m.Scorer)
	m.Scorer = g
	sc := start(t, []rerank.Model{m}, []rerank.Option{rerank.WithCacheSize(0), rerank.WithMaxDocuments(16),
		rerank.WithBatcher(batcher.Config{MaxBatchPairs: 4, Workers: 1, MaxQueuePairs: 16})})
	defer g.open()
	docs := make([]string, 16)
	for i := range docs {
		docs[i] = fmt.Sprintf("document number %d", i)
	}
	first := make(chan response, 1)
	go func() {
		first <- post(t, sc.base+"/v1/rerank", mustJSON(t, map[string]any{"query": "q", "documents": docs}))
	}()
	bt, _ := sc.eng.Batcher("twin")
	waitFor(t, "12 queued pairs", func() bool { return bt.Queued() >= 12 })
	r := post(t, sc.base+"/v1/rerank", mustJSON(t, map[string]any{"query": "other", "documents": docs[:8]}))
	if r.status != 429 || r.header.Get("Retry-After") == "" || !bytes.Contains(r.body, []byte(`"overloaded"`)) {
		t.Errorf("overload: %d %v %s, want 429 with Retry-After", r.status, r.header, r.body)
	}
	g.open()
	if f := <-first; f.status != 200 {
		t.Errorf("first request: %d %s", f.status, f.body)
	}
}

// TestDeadline504: a request whose timeout_ms passes while queued gets 504,
// and its pairs never reach the model.
func TestDeadline504(t *testing.T) {
	m := twin(t)
	g := newGated(m.Scorer)
	m.Scorer = g
	var log batchLog
	sc := start(t, []rerank.Model{m}, []rerank.Option{rerank.WithCacheSize(0), rerank.WithBatchObserver(log.observe),
		rerank.WithBatcher(batcher.Config{MaxBatchPairs: 4, Workers: 1})})
	defer g.open()
	first := make(chan response, 1)
	go func() {
		first <- post(t, sc.base+"/v1/rerank", mustJSON(t, map[string]any{"query": "q", "documents": []string{"a", "b", "c", "d"}}))
	}()
	select { // the first batch is now held by the gate
	case <-g.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("first batch never reached the model")
	}
	r := post(t, sc.base+"/v1/rerank", []byte(`{"query": "late", "documents": ["x", "y", "z"], "timeout_ms": 30}`))
	if r.status != 504 || !bytes.Contains(r.body, []byte(`"timeout"`)) {
		t.Errorf("deadline: %d %s, want 504", r.status, r.body)
	}
	g.open()
	if f := <-first; f.status != 200 {
		t.Fatalf("first: %d %s", f.status, f.body)
	}
	// One more request forces the next batch formation.
	post(t, sc.base+"/v1/rerank", []byte(`{"query": "after", "documents": ["k"]}`))
	total := 0
	for _, b := range log.all() {
		total += b.Pairs
	}
	if total != 5 {
		t.Errorf("model scored %d pairs, want 5 (the expired request's 3 must be dropped)", total)
	}
}

// nonFinite returns NaN for the first row: a backend fault that cannot be
// provoked on real weights.
type nonFinite struct{ models.Scorer }

func (n nonFinite) Score(ctx context.Context, b *models.Batch) ([]float32, error) {
	out, err := n.Scorer.Score(ctx, b)
	if err == nil {
		out[0] = float32(math.NaN())
	}
	return out, err
}

func TestNonFiniteScore500(t *testing.T) {
	m := twin(t)
	m.Scorer = nonFinite{m.Scorer}
	sc := start(t, []rerank.Model{m}, nil)
	r := post(t, sc.base+"/v1/rerank", []byte(`{"query": "q", "documents": ["a"]}`))
	if r.status != 500 || !bytes.Contains(r.body, []byte("non-finite")) {
		t.Errorf("NaN score: %d %s, want 500", r.status, r.body)
	}
}

// TestGracefulShutdown: on shutdown the server stops accepting, and every
// in-flight request still gets its answer.
func TestGracefulShutdown(t *testing.T) {
	m := twin(t)
	g := newGated(m.Scorer)
	m.Scorer = g
	sc := start(t, []rerank.Model{m}, []rerank.Option{rerank.WithBatcher(batcher.Config{MaxBatchPairs: 4, Workers: 1})})
	defer g.open()
	const n = 6
	results := make(chan response, n)
	for i := range n {
		go func() {
			results <- post(t, sc.base+"/v1/rerank", mustJSON(t, map[string]any{"query": fmt.Sprint("q", i), "documents": []string{"a", "b", "c"}}))
		}()
	}
	bt, _ := sc.eng.Batcher("twin")
	waitFor(t, "all requests queued", func() bool { return bt.Queued() >= 3*n-4 })
	sc.stop() // as SIGTERM does in serve
	time.Sleep(50 * time.Millisecond)
	if _, err := http.Get(sc.base + "/health"); err == nil {
		t.Error("server still accepts connections during shutdown")
	}
	g.open()
	for range n {
		if r := <-results; r.status != 200 {
			t.Errorf("in-flight request lost: %d %s", r.status, r.body)
		}
	}
	if err := <-sc.done; err != nil {
		t.Errorf("Run: %v", err)
	}
	sc.done <- nil // for the cleanup
}

func TestHealthReadyModels(t *testing.T) {
	m := twin(t)
	sc := start(t, []rerank.Model{m}, nil)
	for _, p := range []string{"/health", "/ready", "/v1/models"} {
		resp, err := http.Get(sc.base + p)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		err = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if resp.StatusCode != 200 || err != nil {
			t.Errorf("GET %s: %d %v", p, resp.StatusCode, err)
		}
		if p == "/v1/models" {
			data, _ := v["data"].([]any)
			if len(data) != 1 || data[0].(map[string]any)["id"] != "twin" || data[0].(map[string]any)["twin"] != true {
				t.Errorf("/v1/models: %v", v)
			}
		}
	}
	sc.srv.SetReady(false)
	resp, err := http.Get(sc.base + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("/ready when not ready: %d", resp.StatusCode)
	}
}

func TestExtraHandlersAndFallback(t *testing.T) {
	m := twin(t)
	var hits []string
	var mu sync.Mutex
	sc := start(t, []rerank.Model{m}, nil,
		server.WithHandler("GET", "/metrics", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("metrics here")) })),
		server.WithFallback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits = append(hits, r.URL.Path)
			mu.Unlock()
			w.Write([]byte("proxied"))
		})))
	for _, tt := range []struct{ path, want string }{{"/metrics", "metrics here"}, {"/myindex/_search", "proxied"}} {
		resp, err := http.Get(sc.base + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		resp.Body.Close()
		if b.String() != tt.want {
			t.Errorf("GET %s: %q, want %q", tt.path, b.String(), tt.want)
		}
	}
	if !slices.Equal(hits, []string{"/myindex/_search"}) {
		t.Errorf("fallback saw %v", hits)
	}
}
