// Package rerank is the sidecar's core engine: it prepares a request's
// documents (a plugin pipeline, or the built-in field joiner), looks pairs up
// in the score cache, tokenizes the rest in the caller's goroutine, sends them
// to the model's dynamic batcher and returns logits and scores. The HTTP API,
// the _search proxy and the bench all call Engine.Score; RerankHits reorders
// an Elasticsearch/OpenSearch _search response.
package rerank

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/crossrank/crossrank/models"
	"github.com/crossrank/crossrank/plugins"
	"github.com/crossrank/crossrank/sidecar/batcher"
	"github.com/crossrank/crossrank/sidecar/cache"
	"github.com/crossrank/crossrank/sidecar/metrics"
)

// Truncation says how a pair is cut to fit.
type Truncation struct {
	// MaxLength is the most tokens per pair, specials included (0: the
	// model's maximum).
	MaxLength int
	// Left cuts from the start of the text instead of its end.
	Left bool
	// None turns truncation off; pairs longer than the model's maximum are
	// then an error.
	None bool
}

// Tokenizer is what the engine needs from a model's tokenizer.
type Tokenizer interface {
	plugins.Tokenizer
	// MaxLength is the model's longest sequence, specials included.
	MaxLength() int
	// NewEncoder returns an encoder for one goroutine at a time.
	NewEncoder(t Truncation) (Encoder, error)
}

// Encoder encodes (query, passage) pairs, longest-first truncation.
type Encoder interface {
	// EncodePairs returns one sequence per passage; the slices stay valid
	// only until the next call.
	EncodePairs(query string, passages []string) ([]batcher.Seq, error)
}

// PipelineSource finds plugin pipelines by name (the plugin host's registry).
type PipelineSource interface {
	Pipeline(name string) (plugins.Pipeline, bool)
}

// PipelineFunc adapts a function to PipelineSource.
type PipelineFunc func(name string) (plugins.Pipeline, bool)

// Pipeline calls f.
func (f PipelineFunc) Pipeline(name string) (plugins.Pipeline, bool) { return f(name) }

// Model is one served model.
type Model struct {
	Name      string
	Scorer    models.Scorer
	Tokenizer Tokenizer
}

// Request is one rerank request.
type Request struct {
	Model, Pipeline, Query string
	Documents              []json.RawMessage // each a JSON string or object
	RankFields             []string          // object documents without a pipeline (default ["text"])
	MaxTokensPerDoc        int               // passage token budget (0: none)
	TruncateDirection      string            // "right" (default) or "left"
	NoTruncate             bool              // over-long pairs are an error instead of cut
}

// Result holds one logit and score per document, in request order.
type Result struct {
	Model  string
	Logits []float32
	Scores []float64 // sigmoid(logit)
	Texts  []string  // the passage texts that were scored
	Meta   Meta
}

// Meta describes how a request was served.
type Meta struct {
	Tokens       int // real tokens of the pairs sent to the model
	CacheHits    int
	Pairs        int // pairs sent to the model (documents less cache hits)
	PaddedTokens int // tokens those pairs took in their batches, padding included
	Batches      int
	Timings      Timings
}

// Timings are the wall times of a request's stages.
type Timings struct {
	Plugins, Tokenize, Queue, Inference, Total time.Duration
}

// Option configures an Engine.
type Option func(*Engine)

// WithBatcher sets the batching policy for every model.
func WithBatcher(c batcher.Config) Option { return func(e *Engine) { e.bcfg = c } }

// WithCacheSize bounds the score cache to n entries (0 turns it off).
func WithCacheSize(n int) Option { return func(e *Engine) { e.cacheSize = n } }

// WithMaxDocuments limits documents per request (default 1000).
func WithMaxDocuments(n int) Option { return func(e *Engine) { e.maxDocs = n } }

// WithPipelines sets where named pipelines come from, and the one used when
// a request names none ("" for the built-in field joiner).
func WithPipelines(src PipelineSource, defaultName string) Option {
	return func(e *Engine) { e.pipelines, e.defPipeline = src, defaultName }
}

// WithRecorder sends metrics events to r.
func WithRecorder(r metrics.Recorder) Option {
	return func(e *Engine) {
		if r != nil {
			e.rec = r
		}
	}
}

// WithBatchObserver calls f after every batch of every model.
func WithBatchObserver(f func(batcher.BatchInfo)) Option { return func(e *Engine) { e.observer = f } }

// WithDefaultModel names the model used when a request names none (default:
// the first).
func WithDefaultModel(name string) Option { return func(e *Engine) { e.def = name } }

// Engine scores rerank requests. It is safe for concurrent use.
type Engine struct {
	models      map[string]*model
	names       []string
	def         string
	bcfg        batcher.Config
	cacheSize   int
	cache       *cache.Cache
	maxDocs     int
	pipelines   PipelineSource
	defPipeline string
	rec         metrics.Recorder
	observer    func(batcher.BatchInfo)
}

type model struct {
	Model
	batcher *batcher.Batcher
	pools   sync.Map // Truncation → *sync.Pool of Encoder
}

// New starts an engine, with one batcher per model. Close stops it; the
// models' scorers stay the caller's to close.
func New(ms []Model, opts ...Option) (*Engine, error) {
	e := &Engine{models: map[string]*model{}, cacheSize: 100_000, maxDocs: 1000, rec: metrics.Nop{}, bcfg: batcher.DefaultConfig()}
	for _, o := range opts {
		o(e)
	}
	if len(ms) == 0 {
		return nil, errors.New("rerank: no model")
	}
	if e.maxDocs <= 0 {
		return nil, fmt.Errorf("rerank: max documents %d must be positive", e.maxDocs)
	}
	e.cache = cache.New(e.cacheSize)
	for _, m := range ms {
		if m.Name == "" || m.Scorer == nil || m.Tokenizer == nil {
			return nil, fmt.Errorf("rerank: model %q needs a name, a scorer and a tokenizer", m.Name)
		}
		if _, dup := e.models[m.Name]; dup {
			return nil, fmt.Errorf("rerank: model %q given twice", m.Name)
		}
		bopts := []batcher.Option{batcher.WithRecorder(e.rec)}
		if e.observer != nil {
			bopts = append(bopts, batcher.WithObserver(e.observer))
		}
		e.models[m.Name] = &model{Model: m, batcher: batcher.New(m.Name, m.Scorer, e.bcfg, bopts...)}
		e.names = append(e.names, m.Name)
	}
	if e.def == "" {
		e.def = ms[0].Name
	} else if _, ok := e.models[e.def]; !ok {
		e.Close(context.Background())
		return nil, fmt.Errorf("rerank: default model %q is not among the models", e.def)
	}
	return e, nil
}

// Close stops the batchers after the queued pairs are scored, or when ctx
// ends.
func (e *Engine) Close(ctx context.Context) error {
	var errs []error
	for _, n := range e.names {
		errs = append(errs, e.models[n].batcher.Close(ctx))
	}
	return errors.Join(errs...)
}

// ModelNames lists the served models, the default first.
func (e *Engine) ModelNames() []string {
	out := []string{e.def}
	for _, n := range e.names {
		if n != e.def {
			out = append(out, n)
		}
	}
	return out
}

// ModelInfo describes a served model by name.
func (e *Engine) ModelInfo(name string) (models.Info, bool) {
	m, ok := e.models[name]
	if !ok {
		return models.Info{}, false
	}
	info := m.Scorer.Info()
	info.Name = name
	return info, true
}

// MaxDocuments is the most documents one request may carry.
func (e *Engine) MaxDocuments() int { return e.maxDocs }

// Batcher returns the named model's batcher (for stats and tests).
func (e *Engine) Batcher(name string) (*batcher.Batcher, bool) {
	m, ok := e.models[name]
	if !ok {
		return nil, false
	}
	return m.batcher, true
}

// Score scores every document of req against its query. It honours ctx's
// deadline (a passed deadline gives a 504 *Error via AsError); the pairs of a
// cancelled request are dropped before inference. Errors are *Error values
// or wrap the causes AsError maps.
func (e *Engine) Score(ctx context.Context, req Request) (*Result, error) {
	start := time.Now()
	if len(req.Documents) > e.maxDocs {
		return nil, Errorf(http.StatusUnprocessableEntity, TypeInvalid, "documents: %d documents is more than the limit of %d", len(req.Documents), e.maxDocs)
	}
	name := req.Model
	if name == "" {
		name = e.def
	}
	m, ok := e.models[name]
	if !ok {
		return nil, Errorf(http.StatusNotFound, TypeNotFound, "model %q not found (served: %v)", name, e.ModelNames())
	}
	tr, err := truncation(req)
	if err != nil {
		return nil, err
	}
	res := &Result{
		Model:  name,
		Logits: make([]float32, len(req.Documents)),
		Scores: make([]float64, len(req.Documents)),
	}
	if len(req.Documents) == 0 {
		res.Texts = []string{}
		return res, nil
	}

	// Prepare: plugin pipeline or built-in field joiner.
	pname := req.Pipeline
	if pname == "" {
		pname = e.defPipeline
	}
	t0 := time.Now()
	query := req.Query
	if pname != "" && pname != "none" {
		var p plugins.Pipeline
		if e.pipelines != nil {
			p, ok = e.pipelines.Pipeline(pname)
		}
		if p == nil || !ok {
			return nil, Errorf(http.StatusNotFound, TypeNotFound, "pipeline %q not found", pname)
		}
		out, err := p.Prepare(ctx, m.Tokenizer, plugins.Input{Query: req.Query, Documents: req.Documents, MaxTokensPerDoc: req.MaxTokensPerDoc})
		if err != nil {
			return nil, fmt.Errorf("rerank: pipeline %q: %w", pname, err)
		}
		if len(out.Passages) != len(req.Documents) {
			return nil, fmt.Errorf("rerank: pipeline %q returned %d passages for %d documents", pname, len(out.Passages), len(req.Documents))
		}
		query, res.Texts = out.Query, out.Passages
		res.Meta.Timings.Plugins = time.Since(t0)
		e.rec.Stage(metrics.StagePlugins, res.Meta.Timings.Plugins)
	} else {
		pname = ""
		res.Texts = make([]string, len(req.Documents))
		for i, d := range req.Documents {
			if res.Texts[i], err = DocumentText(d, req.RankFields); err != nil {
				return nil, docError(i, err)
			}
		}
	}

	// Cache look-up.
	cacheKey := func(p string) cache.Key { return e.cache.Key(name, cacheScope(pname, req), query, p) }
	var miss []int
	var missText []string
	keys := make([]cache.Key, len(res.Texts))
	for i, p := range res.Texts {
		keys[i] = cacheKey(p)
		if v, hit := e.cache.Get(keys[i]); hit {
			res.Logits[i] = v
			res.Meta.CacheHits++
			continue
		}
		miss = append(miss, i)
		missText = append(missText, p)
	}
	e.rec.Cache(res.Meta.CacheHits, len(miss))

	if len(miss) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// Tokenize in this goroutine.
		t1 := time.Now()
		if req.MaxTokensPerDoc > 0 && pname == "" && !tr.None {
			// A pair budget of query + passage budget + 3 specials makes
			// longest-first truncation cut the passage to the budget
			// whenever it is the longer part.
			tr.MaxLength = m.Tokenizer.CountTokens(query) + req.MaxTokensPerDoc + 3
		}
		seqs, tokens, err := m.encode(tr, query, missText)
		if err != nil {
			return nil, err
		}
		res.Meta.Timings.Tokenize = time.Since(t1)
		e.rec.Stage(metrics.StageTokenize, res.Meta.Timings.Tokenize)
		res.Meta.Tokens = tokens
		res.Meta.Pairs = len(seqs)

		br, err := m.batcher.Submit(ctx, seqs)
		if err != nil {
			return nil, fmt.Errorf("rerank: %w", err)
		}
		res.Meta.PaddedTokens = br.PaddedTokens
		res.Meta.Batches = br.Batches
		res.Meta.Timings.Queue = br.Queue
		res.Meta.Timings.Inference = br.Inference
		for j, i := range miss {
			v := br.Logits[j]
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, Errorf(http.StatusInternalServerError, TypeInternal, "model %q gave a non-finite score (%v) for document %d", name, v, i)
			}
			res.Logits[i] = v
			e.cache.Put(keys[i], v)
		}
	}
	for i, v := range res.Logits {
		res.Scores[i] = Sigmoid(v)
	}
	res.Meta.Timings.Total = time.Since(start)
	return res, nil
}

// cacheScope folds what changes a pair's tokens, besides its texts, into the
// pipeline part of the cache key.
func cacheScope(pipeline string, req Request) string {
	if req.MaxTokensPerDoc == 0 && req.TruncateDirection == "" && !req.NoTruncate {
		return pipeline
	}
	return fmt.Sprintf("%s\x00%d\x00%s\x00%t", pipeline, req.MaxTokensPerDoc, req.TruncateDirection, req.NoTruncate)
}

func truncation(req Request) (Truncation, error) {
	var t Truncation
	switch req.TruncateDirection {
	case "", "right", "Right":
	case "left", "Left":
		t.Left = true
	default:
		return t, Errorf(http.StatusUnprocessableEntity, TypeInvalid, "truncation_direction: %q is not right or left", req.TruncateDirection)
	}
	if req.MaxTokensPerDoc < 0 {
		return t, Errorf(http.StatusUnprocessableEntity, TypeInvalid, "max_tokens_per_doc: %d is negative", req.MaxTokensPerDoc)
	}
	t.None = req.NoTruncate
	return t, nil
}

// encode tokenizes passages against query, truncating as tr says (and to
// MaxTokensPerDoc passage tokens when the request sets it through the pair
// budget), and copies the pairs into memory the request owns.
func (m *model) encode(tr Truncation, query string, passages []string) ([]batcher.Seq, int, error) {
	maxLen := m.Tokenizer.MaxLength()
	if tr.None {
		tr.MaxLength = 0
	} else if tr.MaxLength <= 0 || tr.MaxLength > maxLen {
		tr.MaxLength = maxLen
	}
	poolAny, _ := m.pools.LoadOrStore(tr, &sync.Pool{})
	pool := poolAny.(*sync.Pool)
	enc, _ := pool.Get().(Encoder)
	if enc == nil {
		var err error
		if enc, err = m.Tokenizer.NewEncoder(tr); err != nil {
			return nil, 0, fmt.Errorf("rerank: tokenizer: %w", err)
		}
	}
	defer pool.Put(enc)
	seqs, err := enc.EncodePairs(query, passages)
	if err != nil {
		return nil, 0, fmt.Errorf("rerank: tokenize: %w", err)
	}
	total := 0
	for i, s := range seqs {
		if tr.None && len(s.IDs) > maxLen {
			return nil, 0, Errorf(http.StatusUnprocessableEntity, TypeInvalid, "documents[%d]: %d tokens with the query, more than the model's %d, and truncation is off", i, len(s.IDs), maxLen)
		}
		total += len(s.IDs)
	}
	flat := make([]int64, 2*total)
	out := make([]batcher.Seq, len(seqs))
	for i, s := range seqs {
		n := len(s.IDs)
		ids, types := flat[:n:n], flat[n:2*n:2*n]
		copy(ids, s.IDs)
		copy(types, s.TypeIDs)
		flat = flat[2*n:]
		out[i] = batcher.Seq{IDs: ids, TypeIDs: types}
	}
	return out, total, nil
}

// Sigmoid is the logistic function, computed in float64.
func Sigmoid(x float32) float64 { return 1 / (1 + math.Exp(-float64(x))) }

// Order returns document indices sorted by score, highest first, ties by
// index.
func Order(scores []float64) []int {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	return idx
}
