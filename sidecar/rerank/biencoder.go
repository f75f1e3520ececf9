package rerank

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/crossrank/crossrank/models"
	"github.com/crossrank/crossrank/sidecar/batcher"
	"github.com/crossrank/crossrank/sidecar/internal/embcache"
	"github.com/crossrank/crossrank/sidecar/metrics"
)

// EmbeddingCacheRecorder is implemented by recorders that count embedding
// cache look-ups (internal/metrics/prom does); the engine calls it once per
// bi-encoder request when its recorder has it.
type EmbeddingCacheRecorder interface {
	EmbeddingCache(hits, misses int)
}

// textJob is one distinct text a bi-encoder request needs embedded.
type textJob struct {
	text   string
	key    embcache.Key
	budget int // passage token budget (0: the model's maximum)
	vec    []float32
}

// embedScore is a bi-encoder's scoring step: the query is embedded once
// and each distinct passage once (cache hits skip both steps), as single
// sequences through the model's batcher, and each document's logit is the
// cosine similarity of its passage with the query.
func (e *Engine) embedScore(ctx context.Context, m *model, req Request, pname, query string, res *Result) error {
	field := docsField(req)
	budget := 0
	if req.MaxTokensPerDoc > 0 && pname == "" && !req.Truncation.Off {
		budget = req.MaxTokensPerDoc
	}
	jobs := make([]*textJob, 0, len(res.Texts)+1)
	byKey := make(map[embcache.Key]*textJob, len(res.Texts)+1)
	find := func(text string, b int) *textJob {
		k := e.emb.Key(m.Name, textScope(pname, req.Truncation, b), text)
		if e.emb == nil { // no cache: key on the text alone within the request
			k = embcache.Key{}
		}
		if j, ok := byKey[k]; ok && e.emb != nil {
			return j
		}
		j := &textJob{text: text, key: k, budget: b}
		if v, ok := e.emb.Get(k); ok {
			j.vec = v
			res.Meta.EmbeddingCacheHits++
		} else {
			res.Meta.EmbeddingCacheMisses++
		}
		if e.emb != nil {
			byKey[k] = j
		}
		jobs = append(jobs, j)
		return j
	}
	q := find(query, 0)
	docs := make([]*textJob, len(res.Texts))
	for i, t := range res.Texts {
		docs[i] = find(t, budget)
	}
	if r, ok := e.rec.(EmbeddingCacheRecorder); ok {
		r.EmbeddingCache(res.Meta.EmbeddingCacheHits, res.Meta.EmbeddingCacheMisses)
	}
	if err := e.embedMisses(ctx, m, req.Truncation, jobs, docs, q, field, res); err != nil {
		return err
	}
	for i, d := range docs {
		c := Cosine(q.vec, d.vec)
		if math.IsNaN(c) || math.IsInf(c, 0) {
			return &Error{Kind: KindInternal, Message: fmt.Sprintf("model %q gave a non-finite embedding for document %d", m.Name, i)}
		}
		res.Logits[i] = float32(c)
	}
	return nil
}

// embedMisses tokenizes the jobs without a vector, in this goroutine, and
// embeds them in one batcher submission.
func (e *Engine) embedMisses(ctx context.Context, m *model, tr models.Truncation, jobs, docs []*textJob, q *textJob, field string, res *Result) error {
	var miss []*textJob
	for _, j := range jobs {
		if j.vec == nil {
			miss = append(miss, j)
		}
	}
	if len(miss) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// The field that names a text in errors: the query, or its first document.
	name := func(j *textJob) string {
		if j == q {
			return "query"
		}
		for i, d := range docs {
			if d == j {
				return fmt.Sprintf("%s[%d]", field, i)
			}
		}
		return field
	}
	t1 := time.Now()
	seqs := make([]batcher.Seq, len(miss))
	total := 0
	for _, group := range groupByBudget(miss) {
		texts := make([]string, len(group))
		for k, idx := range group {
			texts[k] = miss[idx].text
		}
		out, err := m.encodeTexts(tr, miss[group[0]].budget, texts)
		if err != nil {
			return err
		}
		maxLen := m.Tokenizer.MaxLength()
		for k, s := range out {
			j := miss[group[k]]
			if tr.Off && len(s.IDs) > maxLen {
				return Invalid(name(j), "%d tokens, more than the model's %d, and truncation is off", len(s.IDs), maxLen)
			}
			n := len(s.IDs)
			flat := make([]int64, 2*n)
			copy(flat[:n], s.IDs)
			copy(flat[n:], s.TypeIDs)
			seqs[group[k]] = batcher.Seq{IDs: flat[:n:n], TypeIDs: flat[n:]}
			total += n
		}
	}
	res.Meta.Timings.Tokenize = time.Since(t1)
	e.rec.Stage(metrics.StageTokenize, res.Meta.Timings.Tokenize)
	res.Meta.Tokens = total
	res.Meta.Pairs = len(seqs)

	br, err := m.batcher.Submit(ctx, seqs)
	if err != nil {
		return fmt.Errorf("rerank: %w", err)
	}
	res.Meta.PaddedTokens = br.PaddedTokens
	res.Meta.Batches = br.Batches
	res.Meta.Timings.Queue = br.Queue
	res.Meta.Timings.Inference = br.Inference
	for k, j := range miss {
		// A copy: the backend's rows share one array per batch, which a
		// cached row would keep alive whole.
		j.vec = append([]float32(nil), br.Embeddings[k]...)
		e.emb.Put(j.key, j.vec)
	}
	return nil
}

// groupByBudget returns the indices of jobs grouped by token budget, in
// order of first appearance (a request has at most two budgets: the
// query's and the passages').
func groupByBudget(jobs []*textJob) [][]int {
	var groups [][]int
	at := map[int]int{}
	for i, j := range jobs {
		g, ok := at[j.budget]
		if !ok {
			g = len(groups)
			at[j.budget] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// encodeTexts encodes single texts truncated to budget word pieces (plus
// specials; 0: the model's maximum), as tr says.
func (m *model) encodeTexts(tr models.Truncation, budget int, texts []string) ([]models.Sequence, error) {
	maxLen := m.Tokenizer.MaxLength()
	tr.MaxLength = maxLen
	if budget > 0 {
		// [CLS] text [SEP]: two specials besides the budget.
		tr.MaxLength = min(budget+2, maxLen)
	}
	if tr.Off {
		tr.MaxLength = 0
	}
	type textPool struct{ sync.Pool }
	poolAny, _ := m.pools.LoadOrStore(textKey{tr}, &textPool{})
	pool := poolAny.(*textPool)
	enc, _ := pool.Get().(models.TextEncoder)
	if enc == nil {
		var err error
		if enc, err = m.text.NewEncoder(tr); err != nil {
			return nil, fmt.Errorf("rerank: tokenizer: %w", err)
		}
	}
	defer pool.Put(enc)
	out, err := enc.EncodeTexts(texts)
	if err != nil {
		return nil, fmt.Errorf("rerank: tokenize: %w", err)
	}
	return out, nil
}

// textKey keys the single-text encoder pools apart from the pair ones.
type textKey struct{ models.Truncation }

// textScope folds what changes a text's tokens, besides the text, into the
// scope of its embedding cache key: the pipeline, the token budget and the
// truncation.
func textScope(pipeline string, tr models.Truncation, budget int) string {
	if budget == 0 && tr.Direction == models.Right && !tr.Off {
		return pipeline
	}
	return fmt.Sprintf("%s\x00%d\x00%s\x00%t", pipeline, budget, tr.Direction, tr.Off)
}

// Cosine is the cosine similarity of a and b, computed in float64 (0 when
// either is all zeros or their lengths differ).
func Cosine(a, b []float32) float64 {
	if len(a) != len(b) {
		return 0
	}
	var dot, na, nb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot += x * y
		na += x * x
		nb += y * y
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}
