package loader_test

import (
	"context"
	"fmt"
	"log"

	"github.com/crossrank/crossrank/models/loader"
	"github.com/crossrank/crossrank/models/ort"
	"github.com/crossrank/crossrank/sidecar/rerank"
)

// Load a model folder and serve it with the engine, as `crossrank serve`
// and `crossrank score` do.
func ExampleLoad() {
	ctx := context.Background()
	m, err := loader.Load(ctx, "twin", ".cache/models/twin", ort.WithThreads(1, 1))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Scorer.Close()
	eng, err := rerank.New([]rerank.Model{m})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close(ctx)
	res, err := eng.Score(ctx, rerank.Request{Query: "what is go", Documents: nil})
	fmt.Println(len(res.Order), err)
}
