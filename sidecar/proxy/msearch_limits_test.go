package proxy

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestMsearchLimits: what a hostile _msearch can ask for is bounded, and
// each refusal is a 400 in the engine's shape naming the line, before
// anything reaches the engine.
func TestMsearchLimits(t *testing.T) {
	rerankPair := "{\"index\":\"idx\"}\n{\"ext\":{\"rerank\":{\"query\":\"q\"}}}\n"
	deep := "{\"query\":" + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + "}"
	tests := []struct {
		name, body string
		status     int
		want       string // in the error reason (400) or the body (pass-through)
		upstream   int    // requests the engine gets
	}{
		{"more searches than the limit", strings.Repeat(rerankPair, 4), 400, "line 7: the request holds 4 searches, more than the limit of 3", 0},
		{"the limit itself", strings.Repeat(rerankPair, 3), 200, `"responses":[`, 3},
		{"no rerank: the engine's to bound", strings.Repeat("{}\n{\"size\":1}\n", 5), 200, "engine msearch", 1},
		{"nesting past the JSON depth limit", "{}\n" + deep + "\n", 400, "line 2: the search body is not a JSON object", 0},
		{"nested header value", "{\"index\":[[[\"a\"]]]}\n{}\n", 400, `line 1: header "index"`, 0},
		{"index with a slash", "{\"index\":\"a/_doc\"}\n{\"ext\":{\"rerank\":{\"query\":\"q\"}}}\n", 400, `line 1: index "a/_doc" is not a valid search target`, 0},
		{"index climbing out", "{\"index\":\"..\"}\n{\"ext\":{\"rerank\":{\"query\":\"q\"}}}\n", 400, `line 1: index ".." is not a valid search target`, 0},
		{"index with a query", "{\"index\":\"a?x=1\"}\n{}\n", 400, `line 1: index "a?x=1" is not a valid search target`, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, 20, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"took":1,"responses":[{"engine msearch":true,"status":200}]}`)
			})
			p, err := New(Config{Upstream: up.URL, MaxSearches: 3}, &reverser{})
			if err != nil {
				t.Fatal(err)
			}
			base := startProxy(t, p)
			resp, b := do(t, "POST", base+"/_msearch", tc.body, map[string]string{"Content-Type": "application/x-ndjson"})
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %.300s", resp.StatusCode, tc.status, b)
			}
			if tc.status == 400 {
				st, e := itemStatus(t, b)
				if st != 400 || !strings.HasPrefix(e, "illegal_argument_exception: crossrank: _msearch ") || !strings.Contains(e, tc.want) {
					t.Errorf("%.300s, want 400 naming %q", b, tc.want)
				}
			} else if !strings.Contains(string(b), tc.want) {
				t.Errorf("%.300s, want %q in it", b, tc.want)
			}
			up.mu.Lock()
			n := len(up.reqs)
			up.mu.Unlock()
			if n != tc.upstream {
				t.Errorf("the engine got %d requests, want %d", n, tc.upstream)
			}
		})
	}
}

// TestMsearchBodyLimit: the server's body limit (http.MaxBytesReader, as
// sidecar/server's limitBody sets it) bounds an _msearch body: a 413 in the
// engine's shape, nothing forwarded.
func TestMsearchBodyLimit(t *testing.T) {
	up := newUpstream(t, 20, nil)
	p, err := New(Config{Upstream: up.URL}, &reverser{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.MaxBytesHandler(p, 1024)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); p.Close() })
	base := "http://" + ln.Addr().String()

	small := "{\"index\":\"idx\"}\n{\"ext\":{\"rerank\":{\"query\":\"q\"}},\"size\":2}\n"
	if resp, b := do(t, "POST", base+"/_msearch", small, nil); resp.StatusCode != 200 {
		t.Fatalf("a body under the limit: %d %s", resp.StatusCode, b)
	}
	resp, b := do(t, "POST", base+"/_msearch", strings.Repeat(small, 30), nil)
	st, e := itemStatus(t, b)
	if resp.StatusCode != 413 || st != 413 || !strings.Contains(e, "content_too_long_exception: crossrank: request body is larger than the limit of 1024 bytes") {
		t.Errorf("a body over the limit: %d %s", resp.StatusCode, b)
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if len(up.reqs) != 1 {
		t.Errorf("the engine got %d requests, want 1 (the small _msearch's one search)", len(up.reqs))
	}
}
