package proxy

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/sidecar/rerank"
)

// benchSearch measures one search of 50 hits, size 10, window 50, over
// loopback: direct to the upstream, through the proxy without reranking, and
// through the proxy with a reranker that returns the hits as they are (the
// proxy's own cost: body rewrite, forward, page cut).
func BenchmarkSearch(b *testing.B) {
	up := newUpstream(b, 50, nil)
	identity := RankerFunc(func(_ context.Context, req rerank.Request) (*rerank.Result, error) {
		n := len(req.Documents)
		res := &rerank.Result{Scores: make([]float64, n), Order: make([]int, n)}
		for i := range n {
			res.Order[i] = i
		}
		return res, nil
	})
	p, err := New(Config{Upstream: up.URL}, identity)
	if err != nil {
		b.Fatal(err)
	}
	base := startProxy(b, p)
	cases := []struct{ name, url, body string }{
		{"direct", up.URL + "/idx/_search", `{"size":50}`},
		{"proxy-pass", base + "/idx/_search", `{"size":50}`},
		{"proxy-rerank", base + "/idx/_search", `{"size":10,"ext":{"rerank":{"query":"q","window":50}}}`},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				resp, err := http.Post(c.url, "application/json", strings.NewReader(c.body))
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatal(resp.Status)
				}
			}
		})
	}
}
