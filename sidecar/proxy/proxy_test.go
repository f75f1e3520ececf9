package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crossrank/crossrank/sidecar/rerank"
)

// These tests are about the proxy's HTTP mechanics. The upstream is a real
// HTTP server on loopback that answers like a search engine; the reranker
// reverses the window (an order the tests can derive on their own). The
// real engine and the real model are exercised by the integration test
// (integration_test.go, `make integration`).

// seen is one request as the upstream received it.
type seen struct {
	Method, Path, Query string
	Header              http.Header
	Body                []byte
}

type upstream struct {
	*httptest.Server
	mu    sync.Mutex
	reqs  []seen
	total int // documents the fake index holds
}

func (u *upstream) last(t *testing.T) seen {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		t.Fatal("upstream received no request")
	}
	return u.reqs[len(u.reqs)-1]
}

// newUpstream starts an engine-like server: /{index}/_search answers the
// first `size` of u.total hits (hit i: _id "d<i>", _score total-i), other
// routes are the test's.
func newUpstream(t testing.TB, total int, extra http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{total: total}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
		u.mu.Unlock()
		if extra != nil && !strings.HasSuffix(r.URL.Path, "/_search") {
			extra(w, r)
			return
		}
		var req struct {
			From *int `json:"from"`
			Size *int `json:"size"`
		}
		if len(body) > 0 {
			if err := json.Unmarshal(body, &req); err != nil {
				w.WriteHeader(400)
				fmt.Fprintf(w, `{"error":{"type":"parsing_exception","reason":%q},"status":400}`, err.Error())
				return
			}
		}
		from, size := 0, 10
		if req.From != nil {
			from = *req.From
		}
		if req.Size != nil {
			size = *req.Size
		}
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.Header().Set("X-Engine", "fake")
		var hits []string
		for i := from; i < min(from+size, u.total); i++ {
			hits = append(hits, fmt.Sprintf(`{"_index":"idx","_id":"d%d","_score":%d.5,"_source":{"title":"doc %d","n":%d}}`, i, u.total-i, i, i))
		}
		fmt.Fprintf(w, `{"took":1,"timed_out":false,"hits":{"total":{"value":%d,"relation":"eq"},"max_score":%d.5,"hits":[%s]}}`,
			u.total, u.total, strings.Join(hits, ","))
	}))
	t.Cleanup(u.Close)
	return u
}

// rankCall is what the proxy asked the ranker for.
type rankCall struct {
	Query, Pipeline, Model string
	Fields                 []string
	Window                 int // documents to rank
}

// reverser is the tests' ranker: it ranks the documents it is given in
// reverse, with score 1000-position, and records what it was asked.
type reverser struct {
	mu   sync.Mutex
	opts []rankCall
	err  error
}

func (r *reverser) Score(_ context.Context, req rerank.Request) (*rerank.Result, error) {
	r.mu.Lock()
	r.opts = append(r.opts, rankCall{Query: req.Query, Pipeline: req.Pipeline, Model: req.Model, Fields: req.RankFields, Window: len(req.Documents)})
	err := r.err
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	n := len(req.Documents)
	res := &rerank.Result{Scores: make([]float64, n), Order: make([]int, n)}
	for pos := range n {
		res.Order[pos] = n - 1 - pos
		res.Scores[n-1-pos] = float64(1000 - pos)
	}
	return res, nil
}

func (r *reverser) last(t *testing.T) rankCall {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.opts) == 0 {
		t.Fatal("the reranker was not called")
	}
	return r.opts[len(r.opts)-1]
}

func (r *reverser) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.opts)
}

// startProxy serves p on a loopback port and returns its base URL.
func startProxy(t testing.TB, p *Proxy) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: p}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); p.Close() })
	return "http://" + ln.Addr().String()
}

func do(t *testing.T, method, url, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

type hitsResp struct {
	Hits struct {
		MaxScore *float64 `json:"max_score"`
		Hits     []struct {
			ID     string         `json:"_id"`
			Score  float64        `json:"_score"`
			Source map[string]any `json:"_source"`
			Rerank *struct {
				OriginalScore float64 `json:"original_score"`
			} `json:"_rerank"`
		} `json:"hits"`
	} `json:"hits"`
}

func ids(t *testing.T, b []byte) []string {
	t.Helper()
	var r hitsResp
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("response %s: %v", b, err)
	}
	var out []string
	for _, h := range r.Hits.Hits {
		out = append(out, h.ID)
	}
	return out
}

// expectedPage derives the page the proxy must return: the first `fetch`
// hits, the first `window` of them reversed, then [from, from+size).
func expectedPage(total, window, from, size int) []string {
	fetch := min(max(window, from+size), total)
	all := make([]string, fetch)
	for i := range all {
		all[i] = fmt.Sprintf("d%d", i)
	}
	slices.Reverse(all[:min(window, fetch)])
	lo, hi := min(from, fetch), min(from+size, fetch)
	return all[lo:hi]
}

func TestSearchReranked(t *testing.T) {
	tests := []struct {
		name       string
		total      int
		path       string
		body       string
		indices    map[string]IndexDefaults
		window     int // expected window
		from, size int
		fetch      int // expected upstream size
		wantQuery  string
		wantFields []string
		wantPipe   string
		wantExt    string // expected ext section forwarded ("" = none)
		upQuery    string // expected upstream query string
	}{
		{
			name: "ext.rerank, first page", total: 100, path: "/idx/_search",
			body:   `{"query":{"match":{"title":"cats"}},"ext":{"rerank":{"query":"cats","fields":["title"],"window":20,"pipeline":"clean"}}}`,
			window: 20, from: 0, size: 10, fetch: 20, wantQuery: "cats", wantFields: []string{"title"}, wantPipe: "clean",
		},
		{
			name: "page inside the window", total: 100, path: "/idx/_search",
			body:   `{"from":5,"size":5,"query":{"match_all":{}},"ext":{"rerank":{"query":"q","window":30}}}`,
			window: 30, from: 5, size: 5, fetch: 30, wantQuery: "q",
		},
		{
			name: "page across the window edge", total: 100, path: "/idx/_search",
			body:   `{"from":8,"size":10,"query":{"match_all":{}},"ext":{"rerank":{"query":"q","window":12}}}`,
			window: 12, from: 8, size: 10, fetch: 18, wantQuery: "q",
		},
		{
			name: "page past the last hit", total: 7, path: "/idx/_search",
			body:   `{"from":5,"size":10,"ext":{"rerank":{"query":"q","window":4}}}`,
			window: 4, from: 5, size: 10, fetch: 15, wantQuery: "q",
		},
		{
			name: "other ext sections are kept", total: 50, path: "/idx/_search",
			body:   `{"ext":{"other":{"a":1},"rerank":{"query":"q"}},"size":3}`,
			window: DefaultWindow, from: 0, size: 3, fetch: DefaultWindow, wantQuery: "q", wantExt: `{"other":{"a":1}}`,
		},
		{
			name: "index defaults and a query path", total: 100, path: "/books/_search",
			body:    `{"query":{"match":{"title":{"query":"old ships"}}},"size":4}`,
			indices: map[string]IndexDefaults{"books": {Fields: []string{"title", "body"}, Window: 25, Pipeline: "p1", QueryPath: "query.match.title"}},
			window:  25, from: 0, size: 4, fetch: 25, wantQuery: "old ships", wantFields: []string{"title", "body"}, wantPipe: "p1",
		},
		{
			name: "index defaults, the query path on the short match form", total: 100, path: "/books/_search",
			body:    `{"query":{"match":{"title":"old ships"}},"size":4}`,
			indices: map[string]IndexDefaults{"books": {Fields: []string{"title", "body"}, Window: 25, Pipeline: "p1", QueryPath: "query.match.title"}},
			window:  25, from: 0, size: 4, fetch: 25, wantQuery: "old ships", wantFields: []string{"title", "body"}, wantPipe: "p1",
		},
		{
			name: "index pattern, ext overrides defaults", total: 100, path: "/logs-2024/_search",
			body:    `{"query":{"multi_match":{"query":"disk full","fields":["msg"]}},"ext":{"rerank":{"window":5,"fields":["msg"]}}}`,
			indices: map[string]IndexDefaults{"logs-*": {Fields: []string{"x"}, Window: 40, QueryPath: "query.multi_match.query"}},
			window:  5, from: 0, size: 10, fetch: 10, wantQuery: "disk full", wantFields: []string{"msg"},
		},
		{
			name: "from and size in the query string", total: 100, path: "/idx/_search?size=3&from=2&pretty=true",
			body:   `{"ext":{"rerank":{"query":"q","window":10}}}`,
			window: 10, from: 2, size: 3, fetch: 10, wantQuery: "q", upQuery: "pretty=true",
		},
		{
			name: "all indices", total: 30, path: "/_search",
			body:   `{"ext":{"rerank":{"query":"q","window":6}},"size":2}`,
			window: 6, from: 0, size: 2, fetch: 6, wantQuery: "q",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, tc.total, nil)
			rr := &reverser{}
			p, err := New(Config{Upstream: up.URL, Indices: tc.indices, Model: "m"}, rr)
			if err != nil {
				t.Fatal(err)
			}
			base := startProxy(t, p)
			resp, body := do(t, "POST", base+tc.path, tc.body, map[string]string{"Content-Type": "application/json", "Authorization": "Basic dTpw"})
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if got := resp.Header.Get(HeaderRerank); got != fmt.Sprintf("applied; window=%d", tc.window) {
				t.Errorf("%s = %q", HeaderRerank, got)
			}
			if resp.Header.Get("X-Engine") != "fake" {
				t.Error("upstream response headers were not kept")
			}
			got := up.last(t)
			if got.Header.Get("Authorization") != "Basic dTpw" {
				t.Errorf("Authorization not forwarded: %q", got.Header.Get("Authorization"))
			}
			if got.Query != tc.upQuery {
				t.Errorf("upstream query %q, want %q", got.Query, tc.upQuery)
			}
			var fwd map[string]json.RawMessage
			if err := json.Unmarshal(got.Body, &fwd); err != nil {
				t.Fatalf("forwarded body %s: %v", got.Body, err)
			}
			if string(fwd["from"]) != "0" || string(fwd["size"]) != fmt.Sprint(tc.fetch) {
				t.Errorf("forwarded from=%s size=%s, want 0 and %d", fwd["from"], fwd["size"], tc.fetch)
			}
			if string(fwd["ext"]) != tc.wantExt {
				t.Errorf("forwarded ext %s, want %q", fwd["ext"], tc.wantExt)
			}
			opt := rr.last(t)
			if opt.Query != tc.wantQuery || opt.Window != tc.window || opt.Pipeline != tc.wantPipe || opt.Model != "m" || !slices.Equal(opt.Fields, tc.wantFields) {
				t.Errorf("rerank options %+v", opt)
			}
			want := expectedPage(tc.total, tc.window, tc.from, tc.size)
			if g := ids(t, body); !slices.Equal(g, want) {
				t.Errorf("page %v, want %v", g, want)
			}
			var hr hitsResp
			_ = json.Unmarshal(body, &hr)
			for _, h := range hr.Hits.Hits {
				n := int(h.Source["n"].(float64))
				if h.Source["title"] != fmt.Sprintf("doc %d", n) || h.ID != fmt.Sprintf("d%d", n) {
					t.Errorf("hit %s: _source %v not intact", h.ID, h.Source)
				}
			}
		})
	}
}

// TestGetWithBody checks that GET /{index}/_search with a body, as the
// engines accept it, is reranked like a POST.
func TestGetWithBody(t *testing.T) {
	up := newUpstream(t, 20, nil)
	rr := &reverser{}
	p, err := New(Config{Upstream: up.URL}, rr)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := do(t, "GET", startProxy(t, p)+"/idx/_search", `{"size":4,"ext":{"rerank":{"query":"q","window":6}}}`, nil)
	if resp.StatusCode != 200 || up.last(t).Method != "GET" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if got, want := ids(t, body), expectedPage(20, 6, 0, 4); !slices.Equal(got, want) {
		t.Errorf("page %v, want %v", got, want)
	}
}

func TestSearchNotReranked(t *testing.T) {
	tests := []struct {
		name, path, body string
		indices          map[string]IndexDefaults
		skip             string // HeaderRerank
		forwarded        string // exact body the upstream must see ("" = the same as sent)
	}{
		{name: "no ext, no defaults", path: "/idx/_search", body: `{ "query" : {"match_all":{}}, "size": 3 }`, skip: "skipped; no ext.rerank and no defaults for this index"},
		{name: "defaults but no query text", path: "/books/_search", body: `{"query":{"match_all":{}}}`,
			indices: map[string]IndexDefaults{"books": {QueryPath: "query.match.title"}}, skip: "skipped; query_path query.match.title finds no query text"},
		{name: "disabled", path: "/idx/_search", body: `{"size":2,"ext":{"rerank":{"query":"q","enabled":false}}}`,
			skip: "skipped; ext.rerank.enabled is false", forwarded: `{"size":2}`},
		{name: "size 0", path: "/idx/_search", body: `{"size":0,"ext":{"rerank":{"query":"q"}},"aggs":{}}`,
			skip: "skipped; size is 0", forwarded: `{"size":0,"aggs":{}}`},
		{name: "OpenSearch's own rerank ext", path: "/idx/_search", body: `{"ext":{"rerank":{"query_context":{"query_text":"q"}}}}`,
			skip: "skipped; ext.rerank.query_context belongs to an OpenSearch search pipeline"},
		{name: "no body", path: "/idx/_search", body: ``, skip: "skipped; no body"},
		{name: "not JSON", path: "/idx/_search", body: `{nope`, skip: "skipped; body is not a JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, 5, nil)
			rr := &reverser{}
			p, err := New(Config{Upstream: up.URL, Indices: tc.indices}, rr)
			if err != nil {
				t.Fatal(err)
			}
			resp, body := do(t, "POST", startProxy(t, p)+tc.path, tc.body, nil)
			if got := resp.Header.Get(HeaderRerank); got != tc.skip {
				t.Errorf("%s = %q, want %q", HeaderRerank, got, tc.skip)
			}
			want := tc.forwarded
			if want == "" {
				want = tc.body
			}
			if got := string(up.last(t).Body); got != want {
				t.Errorf("forwarded %q, want %q", got, want)
			}
			if rr.calls() != 0 {
				t.Error("reranker called")
			}
			// The engine's answer comes back as it is.
			if resp.StatusCode == 200 {
				if g := ids(t, body); len(g) > 0 && g[0] != "d0" {
					t.Errorf("order changed: %v", g)
				}
			}
		})
	}
}

func TestBadRerankRequests(t *testing.T) {
	tests := []struct{ name, path, body, reason string }{
		{"unknown ext.rerank field", "/idx/_search", `{"ext":{"rerank":{"query":"q","windw":3}}}`, `unknown field "windw"`},
		{"no query", "/idx/_search", `{"ext":{"rerank":{"fields":["a"]}}}`, "ext.rerank.query is missing"},
		{"empty query", "/idx/_search", `{"ext":{"rerank":{"query":"  "}}}`, "ext.rerank.query is empty"},
		{"zero window", "/idx/_search", `{"ext":{"rerank":{"query":"q","window":0}}}`, "must be positive"},
		{"negative size", "/idx/_search", `{"size":-1,"ext":{"rerank":{"query":"q"}}}`, "size: -1 is negative"},
		{"bad size arg", "/idx/_search?size=x", `{"ext":{"rerank":{"query":"q"}}}`, "size=x in the query string"},
		{"search_after", "/idx/_search", `{"search_after":[1],"ext":{"rerank":{"query":"q"}}}`, "cannot be combined with scroll or search_after"},
		{"scroll", "/idx/_search?scroll=1m", `{"ext":{"rerank":{"query":"q"}}}`, "cannot be combined with scroll"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, 5, nil)
			p, err := New(Config{Upstream: up.URL}, &reverser{})
			if err != nil {
				t.Fatal(err)
			}
			resp, body := do(t, "POST", startProxy(t, p)+tc.path, tc.body, nil)
			if resp.StatusCode != 400 {
				t.Fatalf("status %d, want 400: %s", resp.StatusCode, body)
			}
			e := esErrorOf(t, body)
			if e.Status != 400 || e.Error.Type != "illegal_argument_exception" || !strings.Contains(e.Error.Reason, tc.reason) || len(e.Error.RootCause) != 1 {
				t.Errorf("error body %s, want reason containing %q", body, tc.reason)
			}
			up.mu.Lock()
			n := len(up.reqs)
			up.mu.Unlock()
			if n != 0 {
				t.Error("a bad request reached the upstream")
			}
		})
	}
}

type esErr struct {
	Error struct {
		RootCause []struct{ Type, Reason string } `json:"root_cause"`
		Type      string                          `json:"type"`
		Reason    string                          `json:"reason"`
	} `json:"error"`
	Status int `json:"status"`
}

func esErrorOf(t *testing.T, b []byte) esErr {
	t.Helper()
	var e esErr
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body %s: %v", b, err)
	}
	return e
}

func TestUpstreamErrorsPassThrough(t *testing.T) {
	const engineErr = `{"error":{"root_cause":[{"type":"index_not_found_exception","reason":"no such index [nope]"}],"type":"index_not_found_exception","reason":"no such index [nope]"},"status":404}`
	up := newUpstream(t, 5, nil)
	up.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.Header().Set("X-Opaque-Id", r.Header.Get("X-Opaque-Id"))
		w.WriteHeader(404)
		io.WriteString(w, engineErr)
	})
	rr := &reverser{}
	p, err := New(Config{Upstream: up.URL}, rr)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := do(t, "POST", startProxy(t, p)+"/nope/_search", `{"ext":{"rerank":{"query":"q"}}}`, map[string]string{"X-Opaque-Id": "abc"})
	if resp.StatusCode != 404 || string(body) != engineErr || resp.Header.Get("X-Opaque-Id") != "abc" {
		t.Errorf("got %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if rr.calls() != 0 {
		t.Error("an error response was reranked")
	}
}

func TestUpstreamUnreachableAndTimeout(t *testing.T) {
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()

	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); slow.Close() })

	tests := []struct {
		name, upstream, path, body string
		status                     int
		typ                        string
	}{
		{"down, search", dead, "/idx/_search", `{"ext":{"rerank":{"query":"q"}}}`, 502, "upstream_connect_exception"},
		{"down, other path", dead, "/_cluster/health", ``, 502, "upstream_connect_exception"},
		{"slow, search", slow.URL, "/idx/_search", `{"ext":{"rerank":{"query":"q"}}}`, 504, "timeout_exception"},
		{"slow, other path", slow.URL, "/_cat/indices", ``, 504, "timeout_exception"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rr := &reverser{}
			p, err := New(Config{Upstream: tc.upstream, Timeout: 300 * time.Millisecond}, rr)
			if err != nil {
				t.Fatal(err)
			}
			resp, body := do(t, "POST", startProxy(t, p)+tc.path, tc.body, nil)
			e := esErrorOf(t, body)
			if resp.StatusCode != tc.status || e.Status != tc.status || e.Error.Type != tc.typ || e.Error.RootCause[0].Type != tc.typ {
				t.Errorf("got %d %s, want %d %s", resp.StatusCode, body, tc.status, tc.typ)
			}
			if rr.calls() != 0 {
				t.Error("reranker called")
			}
		})
	}
}

func TestRerankErrorIsReported(t *testing.T) {
	up := newUpstream(t, 5, nil)
	rr := &reverser{err: &rerank.Error{Kind: rerank.KindOverloaded, Message: "too many pairs waiting"}}
	p, err := New(Config{Upstream: up.URL}, rr)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := do(t, "POST", startProxy(t, p)+"/idx/_search", `{"ext":{"rerank":{"query":"q"}}}`, nil)
	e := esErrorOf(t, body)
	if resp.StatusCode != 429 || e.Status != 429 || resp.Header.Get("Retry-After") != "1" || !strings.Contains(e.Error.Reason, "too many pairs waiting") {
		t.Errorf("got %d %s", resp.StatusCode, body)
	}
}

func TestPassThrough(t *testing.T) {
	up := newUpstream(t, 5, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo-Method", r.Method)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/engine/idx/_doc/1":
			w.WriteHeader(201)
			io.WriteString(w, `{"result":"created"}`)
		default:
			io.WriteString(w, `{"status":"green"}`)
		}
	})
	rr := &reverser{}
	p, err := New(Config{Upstream: up.URL + "/engine/"}, rr)
	if err != nil {
		t.Fatal(err)
	}
	base := startProxy(t, p)
	tests := []struct {
		method, path, body string
		status             int
		respBody           string
		upPath, upQuery    string
	}{
		{"PUT", "/idx/_doc/1?refresh=true", `{"title":"x"}`, 201, `{"result":"created"}`, "/engine/idx/_doc/1", "refresh=true"},
		{"GET", "/_cluster/health?wait_for_status=yellow", ``, 200, `{"status":"green"}`, "/engine/_cluster/health", "wait_for_status=yellow"},
		{"DELETE", "/idx", ``, 200, `{"status":"green"}`, "/engine/idx", ""},
		{"POST", "/idx/_search/template", `{"id":"t"}`, 200, `{"status":"green"}`, "/engine/idx/_search/template", ""},
		{"HEAD", "/idx", ``, 200, ``, "/engine/idx", ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp, body := do(t, tc.method, base+tc.path, tc.body, map[string]string{"Authorization": "ApiKey k1", "Content-Type": "application/json", "X-Forwarded-For": "10.1.2.3"})
			if resp.StatusCode != tc.status || string(body) != tc.respBody || resp.Header.Get("X-Echo-Method") != tc.method {
				t.Errorf("got %d %q %v", resp.StatusCode, body, resp.Header)
			}
			got := up.last(t)
			if got.Method != tc.method || got.Path != tc.upPath || got.Query != tc.upQuery || string(got.Body) != tc.body {
				t.Errorf("upstream saw %+v", got)
			}
			if got.Header.Get("Authorization") != "ApiKey k1" {
				t.Error("Authorization not forwarded")
			}
			if got.Header.Get("X-Forwarded-For") != "10.1.2.3, 127.0.0.1" {
				t.Errorf("X-Forwarded-For %q", got.Header.Get("X-Forwarded-For"))
			}
		})
	}
	if rr.calls() != 0 {
		t.Error("reranker called on pass-through")
	}
}

// TestPassThroughStreams checks that an answer is streamed: the client reads
// the first chunk while the upstream is still holding the rest back.
func TestPassThroughStreams(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
		io.WriteString(w, "second\n")
	}))
	defer up.Close()
	p, err := New(Config{Upstream: up.URL}, &reverser{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(startProxy(t, p) + "/_cat/indices")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	first := make(chan string, 1)
	go func() { l, _ := br.ReadString('\n'); first <- l }()
	select {
	case l := <-first:
		if l != "first\n" {
			t.Fatalf("first line %q", l)
		}
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("the first chunk did not arrive before the upstream finished: the proxy buffers")
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if string(rest) != "second\n" {
		t.Errorf("rest %q", rest)
	}
}

func TestHTTPSUpstream(t *testing.T) {
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"hits":{"max_score":1.0,"hits":[{"_id":"a","_score":1.0,"_source":{}},{"_id":"b","_score":0.5,"_source":{}}]}}`)
	}))
	defer up.Close()
	roots := x509.NewCertPool()
	roots.AddCert(up.Certificate())
	for _, tc := range []struct {
		name   string
		tls    *tls.Config
		status int
	}{
		{"trusted CA", &tls.Config{RootCAs: roots}, 200},
		{"unknown CA", nil, 502},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(Config{Upstream: up.URL, TLSConfig: tc.tls}, &reverser{})
			if err != nil {
				t.Fatal(err)
			}
			resp, body := do(t, "POST", startProxy(t, p)+"/i/_search", `{"ext":{"rerank":{"query":"q","window":2}}}`, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if tc.status == 200 && !slices.Equal(ids(t, body), []string{"b", "a"}) {
				t.Errorf("hits %s", body)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no scheme", Config{Upstream: "localhost:9200"}},
		{"ftp", Config{Upstream: "ftp://h:21"}},
		{"credentials", Config{Upstream: "http://u:p@h:9200"}},
		{"query", Config{Upstream: "http://h:9200?x=1"}},
		{"negative window", Config{Upstream: "http://h:9200", Window: -1}},
		{"bad pattern", Config{Upstream: "http://h:9200", Indices: map[string]IndexDefaults{"[": {}}}},
		{"negative index window", Config{Upstream: "http://h:9200", Indices: map[string]IndexDefaults{"a": {Window: -2}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg, &reverser{}); err == nil {
				t.Error("no error")
			}
		})
	}
	if _, err := New(Config{Upstream: "http://h:9200"}, nil); err == nil {
		t.Error("nil reranker accepted")
	}
}

func TestLookupPath(t *testing.T) {
	body := []byte(`{"query":{"bool":{"must":[{"match":{"title":"a b"}},{"match":{"body":{"query":"c d","operator":"and"}}}]},"multi_match":{"query":"m"}}}`)
	tests := []struct {
		path, want string
		ok         bool
	}{
		{"query.bool.must.0.match.title", "a b", true},
		{"query.bool.must.1.match.body", "c d", true},
		{"query.bool.must.1.match.body.query", "c d", true},
		{"query.multi_match.query", "m", true},
		{"query.multi_match", "m", true},
		{"query.bool.must.2.match.title", "", false},
		{"query.bool.must.x", "", false},
		{"query.bool", "", false},
		{"query.nope", "", false},
	}
	for _, tc := range tests {
		got, ok := lookupPath(body, tc.path)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: got %q %v", tc.path, got, ok)
		}
	}
}

func TestSearchTarget(t *testing.T) {
	tests := []struct {
		path, target string
		ok           bool
	}{
		{"/_search", "", true},
		{"/idx/_search", "idx", true},
		{"/a,b/_search/", "a,b", true},
		{"/idx/_search/template", "", false},
		{"/_msearch", "", false},
		{"/a/b/_search", "", false},
		{"/idx/_doc/_search", "", false},
	}
	for _, tc := range tests {
		got, ok := searchTarget(tc.path)
		if got != tc.target || ok != tc.ok {
			t.Errorf("%s: got %q %v", tc.path, got, ok)
		}
	}
}
