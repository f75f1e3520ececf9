package rerank

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Stage is one step of a cascade: Model scores the documents that reach
// it, and its Keep best go on to the next stage. The first stage scores
// every document. The last stage's Keep passes nothing on: it must be at
// least 1 like the others, and it does not cut the ranking (a request's
// top_n does).
type Stage struct {
	Model string `json:"model" yaml:"model"`
	Keep  int    `json:"keep" yaml:"keep"`
}

// checkStages checks that stages is a usable cascade on e's models.
func (e *Engine) checkStages(stages []Stage) error {
	if len(stages) == 0 {
		return errors.New("no stages")
	}
	for i, st := range stages {
		if _, ok := e.models[st.Model]; !ok {
			return fmt.Errorf("stage %d: model %q is not served (served: %v)", i, st.Model, e.ModelNames())
		}
		if st.Keep < 1 {
			return fmt.Errorf("stage %d (%s): keep %d must be at least 1", i, st.Model, st.Keep)
		}
	}
	return nil
}

// cascade scores req through a cascade. The ranking after each stage is
// that stage's order over the documents it scored, then the documents it
// did not score in the previous ranking's order; the final Order is the
// ranking after the last stage. Each document keeps the logit and score of
// the last stage that scored it (Meta.Sources names its model): scores of
// different stages are on different scales, so Order, not Scores, is the
// ranking.
func (e *Engine) cascade(ctx context.Context, req Request) (*Result, error) {
	name, stages := req.Cascade, req.CascadeStages
	switch {
	case req.Model != "":
		return nil, Invalid("cascade", "give a model or a cascade, not both")
	case name != "" && stages != nil:
		return nil, Invalid("cascade", "give a cascade's name or its stages, not both")
	case name != "":
		var ok bool
		if stages, ok = e.cascades[name]; !ok {
			return nil, Invalid("cascade", "cascade %q is not configured (configured: %v)", name, e.cascadeNames())
		}
	default:
		if err := e.checkStages(stages); err != nil {
			return nil, Invalid("cascade", "%v", err)
		}
		name = "cascade"
	}
	n := len(req.Documents)
	if n > e.maxDocs {
		return nil, Invalid(docsField(req), "%d documents is more than the limit of %d", n, e.maxDocs)
	}
	res := &Result{
		Model:     name,
		Kind:      e.models[stages[len(stages)-1].Model].Kind,
		Documents: req.Documents,
		Logits:    make([]float32, n),
		Scores:    make([]float64, n),
		Texts:     make([]string, n),
		Order:     make([]int, 0, n),
		Meta:      Meta{Cascade: name, Sources: make([]string, n)},
	}
	cand := make([]int, n) // documents reaching this stage, best first
	for i := range cand {
		cand[i] = i
	}
	var ranking []int
	for si, st := range stages {
		if len(cand) == 0 {
			break
		}
		sub := req
		sub.Model, sub.Cascade, sub.CascadeStages = st.Model, "", nil
		sub.Documents = make([]json.RawMessage, len(cand))
		for k, i := range cand {
			sub.Documents[k] = req.Documents[i]
		}
		r, err := e.score(ctx, sub)
		if err != nil {
			var ee *Error
			if errors.As(err, &ee) && ee.Kind == KindInvalid && strings.HasPrefix(ee.Field, docsField(req)+"[") {
				// Name the document by its index in the request.
				var k int
				if _, serr := fmt.Sscanf(ee.Field[len(docsField(req))+1:], "%d]", &k); serr == nil && k < len(cand) {
					ee.Field = fmt.Sprintf("%s[%d]", docsField(req), cand[k])
				}
			}
			return nil, err
		}
		stageOrder := make([]int, len(cand))
		for k, j := range Order(r.Scores) {
			stageOrder[k] = cand[j]
		}
		for k, i := range cand {
			res.Logits[i], res.Scores[i], res.Texts[i], res.Meta.Sources[i] = r.Logits[k], r.Scores[k], r.Texts[k], st.Model
		}
		if ranking == nil {
			ranking = stageOrder
		} else {
			ranking = append(stageOrder, ranking[len(cand):]...)
		}
		keep := len(cand)
		if si < len(stages)-1 {
			keep = min(st.Keep, len(cand))
		}
		addMeta(&res.Meta, r.Meta)
		res.Meta.Stages = append(res.Meta.Stages, StageMeta{Model: st.Model, Kind: r.Kind, Scored: len(cand), Kept: keep})
		cand = stageOrder[:keep]
	}
	res.Order = append(res.Order, ranking...)
	return res, nil
}

// addMeta adds a stage's counts and timings to a cascade's.
func addMeta(dst *Meta, m Meta) {
	dst.Tokens += m.Tokens
	dst.CacheHits += m.CacheHits
	dst.Pairs += m.Pairs
	dst.PaddedTokens += m.PaddedTokens
	dst.Batches += m.Batches
	dst.EmbeddingCacheHits += m.EmbeddingCacheHits
	dst.EmbeddingCacheMisses += m.EmbeddingCacheMisses
	dst.Timings.Plugins += m.Timings.Plugins
	dst.Timings.Tokenize += m.Timings.Tokenize
	dst.Timings.Queue += m.Timings.Queue
	dst.Timings.Inference += m.Timings.Inference
}

func (e *Engine) cascadeNames() []string {
	names := make([]string, 0, len(e.cascades))
	for k := range e.cascades {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
