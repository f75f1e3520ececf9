package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestPagingOverflow: from and size in int64 with Elasticsearch's rule —
// from+size above max_result_window (10000 unless the index sets its own)
// is a 400 in the engine's error shape, before anything is sent upstream;
// the reported crash (size 2^63-1, from 1) in the body, as strings, and in
// the query string.
func TestPagingOverflow(t *testing.T) {
	tests := []struct {
		name, path, body string
		want             int
	}{
		{"body", "/idx/_search", `{"size":9223372036854775807,"from":1,"ext":{"rerank":{"query":"q"}}}`, 400},
		{"strings", "/idx/_search", `{"size":"9223372036854775807","from":"1","ext":{"rerank":{"query":"q"}}}`, 400},
		{"query string", "/idx/_search?size=9223372036854775807&from=1", `{"ext":{"rerank":{"query":"q"}}}`, 400},
		{"from max", "/idx/_search?from=9223372036854775807", `{"ext":{"rerank":{"query":"q"}}}`, 400},
		{"past int64", "/idx/_search", `{"size":92233720368547758070,"ext":{"rerank":{"query":"q"}}}`, 400},
		{"just over", "/idx/_search", `{"size":10000,"from":1,"ext":{"rerank":{"query":"q"}}}`, 400},
		{"window over", "/idx/_search", `{"ext":{"rerank":{"query":"q","window":10001}}}`, 400},
		{"index limit", "/small/_search", `{"size":30,"from":1,"ext":{"rerank":{"query":"q"}}}`, 400},
		{"at the limit", "/idx/_search", `{"size":9990,"from":10,"ext":{"rerank":{"query":"q","window":5}}}`, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, 50, nil)
			p, err := New(Config{Upstream: up.URL, Indices: map[string]IndexDefaults{"small": {MaxResultWindow: 30}}}, &reverser{})
			if err != nil {
				t.Fatal(err)
			}
			resp, body := do(t, "POST", startProxy(t, p)+tc.path, tc.body, nil)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, body)
			}
			if tc.want != 400 {
				return
			}
			e := esErrorOf(t, body)
			if e.Error.Type != "illegal_argument_exception" || e.Status != 400 {
				t.Errorf("error body %s", body)
			}
			up.mu.Lock()
			defer up.mu.Unlock()
			if len(up.reqs) != 0 {
				t.Error("an over-large page reached the upstream")
			}
		})
	}
}

// TestPathEscape: a path whose ".." segments (plain or percent-encoded)
// would climb out of the upstream's prefix is a 400 and never forwarded;
// ones that stay inside are forwarded normalised.
func TestPathEscape(t *testing.T) {
	tests := []struct {
		raw, want string // want "" : 400
	}{
		{"/../../secret", ""},
		{"/%2e%2e/secret", ""},
		{"/%2E%2e/%2e%2E/secret", ""},
		{"/idx/..%2F..%2Fsecret", ""},
		{"/idx/%2e%2e%5c%2e%2e%5csecret", ""},
		{"/a/./../../secret", ""},
		{"/idx/../other/_doc/1", "/prefix/other/_doc/1"},
		{"/idx/./_doc/1", "/prefix/idx/_doc/1"},
		{"/idx/_doc/a%2Fb", "/prefix/idx/_doc/a/b"},
		{"/", "/prefix/"},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			up := newUpstream(t, 5, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{}`) })
			p, err := New(Config{Upstream: up.URL + "/prefix"}, &reverser{})
			if err != nil {
				t.Fatal(err)
			}
			status, body := rawRequest(t, startProxy(t, p), "GET "+tc.raw+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			if tc.want == "" {
				if status != 400 || !strings.Contains(body, "leaves the root") {
					t.Fatalf("status %d, want 400: %s", status, body)
				}
				up.mu.Lock()
				defer up.mu.Unlock()
				if len(up.reqs) != 0 {
					t.Fatalf("forwarded as %s", up.reqs[0].Path)
				}
				return
			}
			if status != 200 {
				t.Fatalf("status %d: %s", status, body)
			}
			if got := up.last(t).Path; got != tc.want {
				t.Errorf("forwarded as %q, want %q", got, tc.want)
			}
		})
	}
}

// TestHopHeaders: hop-by-hop headers, the ones Connection names, Expect and
// the sidecar's own X-Api-Key stay at the proxy; Authorization passes.
func TestHopHeaders(t *testing.T) {
	up := newUpstream(t, 5, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{}`) })
	p, err := New(Config{Upstream: up.URL}, &reverser{})
	if err != nil {
		t.Fatal(err)
	}
	req := "POST /idx/_doc/1 HTTP/1.1\r\nHost: x\r\nConnection: close, X-Secret-Hop\r\nX-Secret-Hop: 1\r\n" +
		"X-Api-Key: sidecar-key\r\nAuthorization: Bearer engine-token\r\nTe: trailers\r\nUpgrade: h2c\r\n" +
		"Content-Length: 2\r\n\r\n{}"
	if status, body := rawRequest(t, startProxy(t, p), req); status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	h := up.last(t).Header
	for _, name := range []string{"X-Secret-Hop", "X-Api-Key", "Te", "Upgrade", "Expect"} {
		if v := h.Get(name); v != "" {
			t.Errorf("%s forwarded: %q", name, v)
		}
	}
	if got := h.Get("Authorization"); got != "Bearer engine-token" {
		t.Errorf("Authorization = %q, want it passed through", got)
	}
}

// TestUpstreamAnswerCap: a search answer to rerank larger than
// MaxResponseBytes is a 502, not read whole into memory.
func TestUpstreamAnswerCap(t *testing.T) {
	up := newUpstream(t, 2000, nil)
	p, err := New(Config{Upstream: up.URL, MaxResponseBytes: 4096}, &reverser{})
	if err != nil {
		t.Fatal(err)
	}
	resp, body := do(t, "POST", startProxy(t, p)+"/idx/_search", `{"ext":{"rerank":{"query":"q","window":1000}}}`, nil)
	if resp.StatusCode != 502 || !strings.Contains(string(body), "larger than the 4096 bytes") {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
}

// rawRequest writes req as it is on a new connection and returns the
// status and body of the answer.
func rawRequest(t *testing.T, base, req string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestReframing: a chunked body with a conflicting Content-Length reaches
// the upstream as one request with its own Content-Length and no
// Transfer-Encoding, so the two sides can never disagree on where it ends.
func TestReframing(t *testing.T) {
	up := newUpstream(t, 5, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{}`) })
	p, err := New(Config{Upstream: up.URL}, &reverser{})
	if err != nil {
		t.Fatal(err)
	}
	req := "POST /idx/_doc/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
		"7\r\n{\"a\":1}\r\n0\r\n\r\n"
	if status, body := rawRequest(t, startProxy(t, p), req); status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	got := up.last(t)
	if string(got.Body) != `{"a":1}` || got.Header.Get("Transfer-Encoding") != "" {
		t.Errorf("upstream got body %q, Transfer-Encoding %q", got.Body, got.Header.Get("Transfer-Encoding"))
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if len(up.reqs) != 1 {
		t.Errorf("upstream saw %d requests, want 1", len(up.reqs))
	}
}

// TestPagingOverflowRealEngine: the reported crash (size 2^63-1, from 1)
// against the real engine on the twin: a 400, and the next search is
// reranked as usual by the same process.
func TestPagingOverflowRealEngine(t *testing.T) {
	eng, _, _ := realEngine(t)
	up := newUpstream(t, 20, nil)
	p, err := New(Config{Upstream: up.URL}, eng)
	if err != nil {
		t.Fatal(err)
	}
	base := startProxy(t, p)
	for _, path := range []string{"/idx/_search", "/idx/_search?size=9223372036854775807&from=1"} {
		resp, body := do(t, "POST", base+path, `{"size":9223372036854775807,"from":1,"ext":{"rerank":{"query":"doc","fields":["title"]}}}`, nil)
		if resp.StatusCode != 400 || !strings.Contains(string(body), "max_result_window") {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	resp, body := do(t, "POST", base+"/idx/_search", `{"size":5,"from":2,"ext":{"rerank":{"query":"doc","fields":["title"],"window":10}}}`, nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get(HeaderRerank), "applied") {
		t.Fatalf("after: %d %s %s", resp.StatusCode, resp.Header.Get(HeaderRerank), body)
	}
}
