package rerank_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/internal/reranktest"
	"github.com/crossrank/crossrank/sidecar/rerank"
)

// TestCascade: a bi-encoder → cross-encoder cascade ranks first the
// cross-encoder's order over the bi-encoder's top keep, then the rest in
// the bi-encoder's order, each model scoring as it does alone; the meta
// names each document's score source.
func TestCascade(t *testing.T) {
	bi := reranktest.MiniLM(t, "minilm", 1)
	ce := twin(t)
	e, err := rerank.New([]rerank.Model{bi, ce}, rerank.WithCascades(map[string][]rerank.Stage{
		"fast": {{Model: "minilm", Keep: 4}, {Model: "twin", Keep: 2}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	var texts []string
	for i := range 10 {
		texts = append(texts, fmt.Sprintf("passage %d about %s", i, []string{"rivers", "bananas", "the capital of Australia", "cross-encoders", "music"}[i%5]))
	}
	query := "which city is the capital of Australia"
	ctx := context.Background()
	alone := func(model string, idx []int) *rerank.Result {
		sub := make([]string, len(idx))
		for k, i := range idx {
			sub[k] = texts[i]
		}
		r, err := e.Score(ctx, rerank.Request{Model: model, Query: query, Documents: docs(sub...)})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	all := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	biRes := alone("minilm", all)
	top := biRes.Order[:4]
	ceRes := alone("twin", top)
	var want []int
	for _, k := range ceRes.Order {
		want = append(want, top[k])
	}
	want = append(want, biRes.Order[4:]...)

	for _, req := range []rerank.Request{
		{Cascade: "fast", Query: query, Documents: docs(texts...)},
		{CascadeStages: []rerank.Stage{{Model: "minilm", Keep: 4}, {Model: "twin", Keep: 1}}, Query: query, Documents: docs(texts...)},
	} {
		res, err := e.Score(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Order, want) {
			t.Fatalf("order %v, want %v (bi-encoder %v, cross-encoder over its top 4 %v)", res.Order, want, biRes.Order, ceRes.Order)
		}
		for k, i := range top {
			if res.Meta.Sources[i] != "twin" || res.Logits[i] != ceRes.Logits[k] {
				t.Fatalf("document %d: source %q logit %v, want twin %v", i, res.Meta.Sources[i], res.Logits[i], ceRes.Logits[k])
			}
		}
		for _, i := range biRes.Order[4:] {
			if res.Meta.Sources[i] != "minilm" || res.Logits[i] != biRes.Logits[i] {
				t.Fatalf("document %d: source %q logit %v, want minilm %v", i, res.Meta.Sources[i], res.Logits[i], biRes.Logits[i])
			}
		}
		st := res.Meta.Stages
		if len(st) != 2 || st[0].Scored != 10 || st[0].Kept != 4 || st[1].Scored != 4 || st[1].Kept != 4 {
			t.Fatalf("stages %+v", st)
		}
	}
	// Keep larger than the documents: every stage scores them all.
	res, err := e.Score(ctx, rerank.Request{CascadeStages: []rerank.Stage{{Model: "minilm", Keep: 100}, {Model: "twin", Keep: 100}}, Query: query, Documents: docs(texts[:3]...)})
	if err != nil {
		t.Fatal(err)
	}
	if want := alone("twin", []int{0, 1, 2}).Order; !slices.Equal(res.Order, want) {
		t.Fatalf("order %v, want the cross-encoder's %v", res.Order, want)
	}
}

func TestCascadeErrors(t *testing.T) {
	bi := reranktest.MiniLM(t, "minilm", 1)
	ce := twin(t)
	for _, tc := range []struct {
		name     string
		cascades map[string][]rerank.Stage
		want     string
	}{
		{"unknown model", map[string][]rerank.Stage{"fast": {{Model: "minilm", Keep: 10}, {Model: "ms-marco", Keep: 2}}}, `stage 1: model "ms-marco" is not served`},
		{"keep 0", map[string][]rerank.Stage{"fast": {{Model: "minilm", Keep: 0}}}, "keep 0 must be at least 1"},
		{"no stages", map[string][]rerank.Stage{"fast": nil}, "no stages"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rerank.New([]rerank.Model{bi, ce}, rerank.WithCascades(tc.cascades))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %v, want %q", err, tc.want)
			}
		})
	}
	e, err := rerank.New([]rerank.Model{bi, ce}, rerank.WithCascades(map[string][]rerank.Stage{"fast": {{Model: "minilm", Keep: 1}, {Model: "twin", Keep: 1}}}))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	for _, tc := range []struct {
		name string
		req  rerank.Request
		want string
	}{
		{"unknown cascade", rerank.Request{Cascade: "slow"}, `cascade "slow" is not configured`},
		{"model and cascade", rerank.Request{Cascade: "fast", Model: "twin"}, "not both"},
		{"inline unknown model", rerank.Request{CascadeStages: []rerank.Stage{{Model: "nope", Keep: 1}}}, `model "nope" is not served`},
		{"inline keep 0", rerank.Request{CascadeStages: []rerank.Stage{{Model: "twin", Keep: 0}}}, "keep 0"},
		{"inline empty", rerank.Request{CascadeStages: []rerank.Stage{}}, "no stages"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Query = "q"
			tc.req.Documents = docs("a", "b")
			_, err := e.Score(context.Background(), tc.req)
			var re *rerank.Error
			if !errors.As(err, &re) || re.Kind != rerank.KindInvalid || re.Field != "cascade" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want invalid cascade %q", err, tc.want)
			}
		})
	}
}
