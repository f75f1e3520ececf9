package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crossrank/crossrank/sidecar/rerank"
)

// failOn is a reranker that fails the searches whose query is "boom" and
// reverses the window of the others.
type failOn struct{ reverser }

func (f *failOn) Score(ctx context.Context, req rerank.Request) (*rerank.Result, error) {
	if req.Query == "boom" {
		return nil, &rerank.Error{Kind: rerank.KindUnavailable, Message: "the model is gone"}
	}
	return f.reverser.Score(ctx, req)
}

type msearchResp struct {
	Took      *int              `json:"took"`
	Responses []json.RawMessage `json:"responses"`
}

func parseMsearchResp(t *testing.T, b []byte) msearchResp {
	t.Helper()
	var r msearchResp
	if err := json.Unmarshal(b, &r); err != nil || r.Took == nil {
		t.Fatalf("_msearch response %s: %v", b, err)
	}
	return r
}

func itemStatus(t *testing.T, b []byte) (int, string) {
	t.Helper()
	var r struct {
		Status int `json:"status"`
		Error  *struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("item %s: %v", b, err)
	}
	if r.Error != nil {
		return r.Status, r.Error.Type + ": " + r.Error.Reason
	}
	return r.Status, ""
}

func TestMsearchMixed(t *testing.T) {
	up := newUpstream(t, 100, nil)
	rr := &failOn{}
	p, err := New(Config{Upstream: up.URL, Indices: map[string]IndexDefaults{
		"withdefaults": {Fields: []string{"title"}, Window: 4, QueryPath: "query.match.title"},
	}}, rr)
	if err != nil {
		t.Fatal(err)
	}
	base := startProxy(t, p)
	lines := []string{
		`{"index":"idx"}`, `{"size":5,"query":{"match_all":{}},"ext":{"rerank":{"query":"q","window":10}}}`,
		`{"index":"idx"}`, `{"size":3}`,
		`{}`, `{"size":"three"}`, // the engine rejects it
		`{"index":"idx"}`, `{"query":{"match_all":{}},"ext":{"rerank":{"query":"q","window":-1}}}`, // the proxy rejects it
		`{"index":"idx"}`, `{"query":{"match_all":{}},"ext":{"rerank":{"query":"boom"}}}`, // the rerank fails
		`{"index":"withdefaults"}`, `{"from":2,"size":4,"query":{"match":{"title":"cats"}}}`,
	}
	resp, b := do(t, "POST", base+"/idx/_msearch", strings.Join(lines, "\n")+"\n",
		map[string]string{"Content-Type": "application/x-ndjson", "Authorization": "Basic dTpw"})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if got := resp.Header.Get(HeaderRerank); got != "msearch; applied=2 of 6" {
		t.Errorf("%s: %q", HeaderRerank, got)
	}
	r := parseMsearchResp(t, b)
	if len(r.Responses) != 6 {
		t.Fatalf("%d responses, want 6: %s", len(r.Responses), b)
	}
	wantStatus := []int{200, 200, 400, 400, 503, 200}
	wantErr := []string{"", "", "parsing_exception", "illegal_argument_exception: crossrank: ext.rerank.window: -1", "crossrank_rerank_exception: crossrank: rerank: the model is gone", ""}
	for i, item := range r.Responses {
		st, e := itemStatus(t, item)
		if st != wantStatus[i] || !strings.HasPrefix(e, wantErr[i]) {
			t.Errorf("response %d: status %d error %q, want %d %q", i, st, e, wantStatus[i], wantErr[i])
		}
	}
	if got, want := ids(t, r.Responses[0]), expectedPage(100, 10, 0, 5); !slices.Equal(got, want) {
		t.Errorf("reranked search: %v, want %v", got, want)
	}
	if got := ids(t, r.Responses[1]); !slices.Equal(got, []string{"d0", "d1", "d2"}) {
		t.Errorf("search without rerank: %v", got)
	}
	if got, want := ids(t, r.Responses[5]), expectedPage(100, 4, 2, 4); !slices.Equal(got, want) {
		t.Errorf("search with index defaults: %v, want %v", got, want)
	}
	// Every search but the one the proxy rejected went to the engine as a
	// _search with the client's Authorization, ext.rerank removed.
	up.mu.Lock()
	defer up.mu.Unlock()
	if len(up.reqs) != 5 {
		t.Fatalf("upstream got %d requests, want 5", len(up.reqs))
	}
	for _, s := range up.reqs {
		if !strings.HasSuffix(s.Path, "/_search") || s.Header.Get("Authorization") != "Basic dTpw" || strings.Contains(string(s.Body), "rerank") {
			t.Errorf("upstream request %s %s %v %s", s.Method, s.Path, s.Header, s.Body)
		}
	}
}

func TestMsearchHeaderParameters(t *testing.T) {
	up := newUpstream(t, 20, nil)
	p, err := New(Config{Upstream: up.URL}, &reverser{})
	if err != nil {
		t.Fatal(err)
	}
	base := startProxy(t, p)
	body := `{"index":["a","b"],"routing":"r1","request_cache":true,"preference":"_local"}` + "\n" +
		`{"query":{"match_all":{}},"ext":{"rerank":{"query":"q"}}}` + "\n"
	resp, b := do(t, "POST", base+"/_msearch?typed_keys=true&max_concurrent_searches=2", body, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	s := up.last(t)
	if s.Path != "/a,b/_search" {
		t.Errorf("upstream path %q", s.Path)
	}
	q, _ := url.ParseQuery(s.Query)
	want := url.Values{"typed_keys": {"true"}, "routing": {"r1"}, "request_cache": {"true"}, "preference": {"_local"}}
	if fmt.Sprint(q) != fmt.Sprint(want) {
		t.Errorf("upstream query %v, want %v", q, want)
	}
}

func TestMsearchPassThrough(t *testing.T) {
	up := newUpstream(t, 20, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"took":3,"responses":[{"engine":"answer","status":200}]}`)
	})
	p, err := New(Config{Upstream: up.URL}, &reverser{})
	if err != nil {
		t.Fatal(err)
	}
	base := startProxy(t, p)
	body := "{\"index\":\"idx\"}\n{\"query\":{\"match_all\":{}}}\n"
	resp, b := do(t, "POST", base+"/_msearch?rest_total_hits_as_int=true", body, map[string]string{"Content-Type": "application/x-ndjson"})
	if resp.StatusCode != 200 || string(b) != `{"took":3,"responses":[{"engine":"answer","status":200}]}` {
		t.Fatalf("pass-through: %d %s", resp.StatusCode, b)
	}
	s := up.last(t)
	if s.Path != "/_msearch" || s.Query != "rest_total_hits_as_int=true" || string(s.Body) != body || s.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Errorf("upstream got %s ?%s %q %v", s.Path, s.Query, s.Body, s.Header)
	}
	if !strings.HasPrefix(resp.Header.Get(HeaderRerank), "skipped") {
		t.Errorf("%s: %q", HeaderRerank, resp.Header.Get(HeaderRerank))
	}
}

func TestMsearchBadNDJSON(t *testing.T) {
	up := newUpstream(t, 20, nil)
	p, err := New(Config{Upstream: up.URL}, &reverser{})
	if err != nil {
		t.Fatal(err)
	}
	base := startProxy(t, p)
	tests := []struct{ name, body, want string }{
		{"empty", "", "_msearch body is empty"},
		{"blank lines", "\n\n", "_msearch body is empty"},
		{"header not JSON", "not json\n{}\n", "line 1: the header is not a JSON object"},
		{"header an array", "[1]\n{}\n", "line 1: the header is not a JSON object"},
		{"body not JSON", "{}\n{\"query\":\n", "line 2: the search body is not a JSON object"},
		{"third line", "{}\n{}\n{\"index\":\"a\"}\n", "line 3: a header without a search body"},
		{"empty body line", "{}\n\n{}\n{}\n", "line 2: empty search body"},
		{"bad header value", "{\"index\":{\"a\":1}}\n{}\n", `line 1: header "index"`},
		{"bad max_concurrent", "", "max_concurrent_searches"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := base + "/idx/_msearch"
			if tc.name == "bad max_concurrent" {
				u += "?max_concurrent_searches=0"
			}
			up.mu.Lock()
			before := len(up.reqs)
			up.mu.Unlock()
			resp, b := do(t, "POST", u, tc.body, map[string]string{"Content-Type": "application/x-ndjson"})
			st, e := itemStatus(t, b)
			if resp.StatusCode != 400 || st != 400 || !strings.HasPrefix(e, "illegal_argument_exception: crossrank: ") || !strings.Contains(e, tc.want) {
				t.Errorf("%d %s, want 400 naming %q", resp.StatusCode, b, tc.want)
			}
			up.mu.Lock()
			n := len(up.reqs)
			up.mu.Unlock()
			if n != before {
				t.Errorf("a bad _msearch reached the engine")
			}
		})
	}
}

func TestMsearchTarget(t *testing.T) {
	tests := []struct {
		path, target string
		ok           bool
	}{
		{"/_msearch", "", true},
		{"/_msearch/", "", true},
		{"/idx/_msearch", "idx", true},
		{"/a,b/_msearch", "a,b", true},
		{"/a/b/_msearch", "", false},
		{"//_msearch", "", false},
		{"/idx/_search", "", false},
		{"/idx/_msearch/template", "", false},
	}
	for _, tc := range tests {
		got, ok := msearchTarget(tc.path)
		if got != tc.target || ok != tc.ok {
			t.Errorf("msearchTarget(%q) = %q, %v; want %q, %v", tc.path, got, ok, tc.target, tc.ok)
		}
	}
}

func TestMsearchEngineDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there any more
	p, err := New(Config{Upstream: down}, &reverser{})
	if err != nil {
		t.Fatal(err)
	}
	base := startProxy(t, p)
	body := "{\"index\":\"idx\"}\n{\"ext\":{\"rerank\":{\"query\":\"q\"}}}\n{}\n{\"size\":1}\n"
	resp, b := do(t, "POST", base+"/idx/_msearch", body, nil)
	st, e := itemStatus(t, b)
	if resp.StatusCode != 502 || st != 502 || !strings.HasPrefix(e, "upstream_connect_exception: crossrank: upstream "+down) {
		t.Errorf("engine down: %d %s", resp.StatusCode, b)
	}
}

func TestMsearchEngineGarbage(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"hits":{"hits":[{"_id":`) // cut short
	}))
	t.Cleanup(up.Close)
	p, err := New(Config{Upstream: up.URL}, &reverser{})
	if err != nil {
		t.Fatal(err)
	}
	base := startProxy(t, p)
	body := "{\"index\":\"idx\"}\n{\"ext\":{\"rerank\":{\"query\":\"q\"}}}\n"
	resp, b := do(t, "POST", base+"/_msearch", body, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	r := parseMsearchResp(t, b)
	if st, e := itemStatus(t, r.Responses[0]); st < 500 || e == "" {
		t.Errorf("garbage from the engine: item %s", r.Responses[0])
	}
}

func TestMsearchEngineSlow(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); up.Close() })
	p, err := New(Config{Upstream: up.URL, Timeout: 200 * time.Millisecond}, &reverser{})
	if err != nil {
		t.Fatal(err)
	}
	base := startProxy(t, p)
	body := "{\"index\":\"idx\"}\n{\"ext\":{\"rerank\":{\"query\":\"q\"}}}\n{\"index\":\"idx\"}\n{\"size\":1}\n"
	resp, b := do(t, "POST", base+"/_msearch", body, nil)
	st, e := itemStatus(t, b)
	if resp.StatusCode != 504 || st != 504 || !strings.HasPrefix(e, "timeout_exception: crossrank: upstream ") {
		t.Errorf("engine silent: %d %s", resp.StatusCode, b)
	}
}
