package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/crossrank/crossrank/sidecar/proxy"
	"github.com/crossrank/crossrank/sidecar/rerank"
)

// A proxy in front of an engine at 127.0.0.1:9200, reranking searches on
// "articles" by default. In the sidecar, the ranker is the engine
// (*rerank.Engine) and the proxy is the server's fallback handler.
func ExampleNew() {
	p, err := proxy.New(proxy.Config{
		Upstream: "http://127.0.0.1:9200",
		Indices: map[string]proxy.IndexDefaults{
			"articles": {Fields: []string{"title", "text"}, Window: 50, QueryPath: "query.match.text"},
		},
	}, proxy.RankerFunc(func(ctx context.Context, req rerank.Request) (*rerank.Result, error) {
		return nil, errors.New("stands in for the engine")
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := &http.Server{Handler: p}
	go srv.Serve(ln)
	defer srv.Close()
	fmt.Println("forwarding to", p.Upstream())
	// Output: forwarding to http://127.0.0.1:9200
}
