package bench

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestClientOutlivesServerKeepAlive: a server that closes idle keep-alive
// connections after 5 s (uvicorn's default, so Infinity's) must not fail the
// next request, which would be a POST on a dead connection.
func TestClientOutlivesServerKeepAlive(t *testing.T) {
	if testing.Short() {
		t.Skip("waits past a 5 s keep-alive timeout")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		IdleTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var req rerankRequest
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			type result struct {
				Index int     `json:"index"`
				Score float64 `json:"relevance_score"`
			}
			res := struct {
				Results []result `json:"results"`
			}{}
			for i := range req.Documents {
				res.Results = append(res.Results, result{Index: i, Score: float64(i)})
			}
			_ = json.NewEncoder(w).Encode(res)
		}),
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	c, err := NewClient("http://"+ln.Addr().String(), "")
	if err != nil {
		t.Fatal(err)
	}
	docs := []json.RawMessage{json.RawMessage(`"a"`), json.RawMessage(`"b"`)}
	for i := range 2 {
		if code, err := c.Rerank(context.Background(), "q", docs, 10*time.Second); err != nil || code != http.StatusOK {
			t.Fatalf("request %d: %d, %v", i, code, err)
		}
		if i == 0 {
			time.Sleep(5*time.Second + 500*time.Millisecond) // the server has closed the idle connection
		}
	}
}
