// Package rerank is the sidecar's core engine: it takes a typed, already
// decoded request, prepares its documents (a plugin pipeline, or the
// identity rule plugins.PassageText), looks pairs up in the score cache,
// tokenizes the rest in the caller's goroutine, sends them to the model's
// dynamic batcher and returns logits, scores and the ranking. It knows
// nothing of HTTP, JSON encoding or cgo: errors carry a Kind the API layer
// maps to a status, and models come in through the models contracts. The
// HTTP API, the _search proxy, `crossrank score` and the bench all call
// Engine.Score.
//
// A model is a cross-encoder (pairs scored jointly, score = sigmoid(logit))
// or a bi-encoder (query and passages embedded apart through the same
// batcher, logit = cosine similarity, score = (cosine+1)/2; embeddings are
// cached by (model, pipeline, text) in a cache bounded in bytes). A cascade
// (WithCascades) scores every document with its first stage's model and
// passes the top keep of each stage to the next; see cascade.go.
package rerank

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/crossrank/crossrank/models"
	"github.com/crossrank/crossrank/plugins"
	"github.com/crossrank/crossrank/sidecar/batcher"
	"github.com/crossrank/crossrank/sidecar/internal/cache"
	"github.com/crossrank/crossrank/sidecar/internal/embcache"
	"github.com/crossrank/crossrank/sidecar/metrics"
)

// Model is one served model (see models.Model).
type Model = models.Model

// PipelineSource finds plugin pipelines by name (the plugin host's registry).
type PipelineSource interface {
	Pipeline(name string) (plugins.Pipeline, bool)
}

// PipelineFunc adapts a function to PipelineSource.
type PipelineFunc func(name string) (plugins.Pipeline, bool)

// Pipeline calls f.
func (f PipelineFunc) Pipeline(name string) (plugins.Pipeline, bool) { return f(name) }

// Request is one rerank request, already decoded into typed values. The
// engine checks its limits (document count, a negative token budget) and
// nothing else about its shape.
type Request struct {
	Model, Pipeline, Query string
	Documents              []json.RawMessage // each a JSON string or object
	// DocumentsField names the documents in errors ("documents[3]: ...";
	// default "documents").
	DocumentsField string
	// RankFields are the fields of object documents that make the text when
	// no pipeline runs (default: the identity rule, plugins.DocumentText).
	RankFields []string
	// MaxTokensPerDoc is the passage token budget (0: none).
	MaxTokensPerDoc int
	// Truncation is the direction and on/off switch of truncation; the
	// engine sets MaxLength.
	Truncation models.Truncation
	// Cascade names a cascade configured with WithCascades (instead of
	// Model); CascadeStages gives one inline instead. At most one of Model,
	// Cascade and CascadeStages is set.
	Cascade       string
	CascadeStages []Stage
}

// Result holds one logit and score per document, in request order, and the
// ranking.
type Result struct {
	Model string // the model, or the cascade ("cascade:NAME" inline: "cascade")
	Kind  models.Kind
	// UnknownModel is the model name the request gave when no model or
	// alias has it and the default model served it instead
	// (WithUnknownModelDefault); "" otherwise.
	UnknownModel string
	// Documents are the request's documents as the client sent them (not
	// the prepared texts), for encoders that return them.
	Documents []json.RawMessage
	// Logits are the raw scores: a cross-encoder's logit, a bi-encoder's
	// cosine similarity.
	Logits []float32
	// Scores map Logits into [0, 1], preserving order: sigmoid(logit) for a
	// cross-encoder, (cosine+1)/2 for a bi-encoder (ScoreOf).
	Scores []float64
	Texts  []string // the passage texts that were scored
	// Order is the ranking: document indices by score, highest first, ties
	// by index. Encoders write documents in this order.
	Order []int
	Meta  Meta
}

// Meta describes how a request was served.
type Meta struct {
	Tokens       int // real tokens of the sequences sent to the model
	CacheHits    int
	Pairs        int // sequences sent to the model (pairs, or a bi-encoder's texts)
	PaddedTokens int // tokens those sequences took in their batches, padding included
	Batches      int
	// EmbeddingCacheHits and EmbeddingCacheMisses count a bi-encoder's
	// query and passage texts found in, or missing from, the embedding cache.
	EmbeddingCacheHits, EmbeddingCacheMisses int
	// Cascade is the cascade's name (empty without one); Stages says what
	// each stage scored; Sources names, per document in request order, the
	// model whose score the document has (the last stage that scored it).
	Cascade string
	Stages  []StageMeta
	Sources []string
	Timings Timings
}

// StageMeta describes one cascade stage of a request.
type StageMeta struct {
	Model  string
	Kind   models.Kind
	Scored int // documents this stage scored
	Kept   int // of those, passed on to the next stage (the last: all it scored)
}

// Timings are the wall times of a request's stages.
type Timings struct {
	Plugins, Tokenize, Queue, Inference, Total time.Duration
}

// Defaults of an Engine (the serve flags' defaults come from here).
const (
	DefaultCacheSize    = 100_000
	DefaultMaxDocuments = 1000
	// DefaultEmbeddingCacheBytes holds about 170,000 384-dimension embeddings.
	DefaultEmbeddingCacheBytes = 256 << 20
)

// Option configures an Engine.
type Option func(*Engine)

// WithBatcher sets the batching policy for every model.
func WithBatcher(c batcher.Config) Option { return func(e *Engine) { e.bcfg = c } }

// WithCacheSize bounds the score cache to n entries (0 turns it off).
func WithCacheSize(n int) Option { return func(e *Engine) { e.cacheSize = n } }

// WithMaxDocuments limits documents per request (default
// DefaultMaxDocuments).
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

// WithEmbeddingCacheBytes bounds the bi-encoders' embedding cache to n
// bytes (4 per dimension plus embcache.EntryOverhead per text; 0 turns it
// off; default DefaultEmbeddingCacheBytes).
func WithEmbeddingCacheBytes(n int64) Option { return func(e *Engine) { e.embBytes = n } }

// WithCascades configures named cascades (see Stage); New checks that every
// stage names a served model and keeps at least one document.
func WithCascades(c map[string][]Stage) Option { return func(e *Engine) { e.cascades = c } }

// WithDefaultModel names the model used when a request names none (default:
// the first).
func WithDefaultModel(name string) Option { return func(e *Engine) { e.def = name } }

// WithModelAliases lets requests name a served model by another name
// (alias → served model name), e.g. "rerank-v3.5" → "ms-marco" for Cohere
// clients, which always send one of Cohere's model names. New rejects an
// alias whose target is not served or that shadows a served model.
func WithModelAliases(aliases map[string]string) Option {
	return func(e *Engine) {
		e.aliases = make(map[string]string, len(aliases))
		for k, v := range aliases {
			e.aliases[k] = v
		}
	}
}

// WithUnknownModelDefault makes a request naming an unknown model (neither
// served nor an alias) go to the default model instead of failing with
// KindNotFound; Result.UnknownModel then records the name asked for.
func WithUnknownModelDefault(on bool) Option { return func(e *Engine) { e.unknownDefault = on } }

// Engine scores rerank requests. It is safe for concurrent use.
type Engine struct {
	models         map[string]*model
	aliases        map[string]string
	unknownDefault bool
	names          []string
	def            string
	bcfg           batcher.Config
	cacheSize      int
	cache          *cache.Cache
	embBytes       int64
	emb            *embcache.Cache
	cascades       map[string][]Stage
	maxDocs        int
	pipelines      PipelineSource
	defPipeline    string
	rec            metrics.Recorder
	observer       func(batcher.BatchInfo)
	tp             trace.TracerProvider // nil: no tracing
	tracer         trace.Tracer
}

type model struct {
	Model
	batcher *batcher.Batcher
	pools   sync.Map             // Truncation → *sync.Pool of PairEncoder or TextEncoder
	text    models.TextTokenizer // a bi-encoder's tokenizer
}

// New starts an engine, with one batcher per model. Close stops it; the
// models' scorers stay the caller's to close.
func New(ms []Model, opts ...Option) (*Engine, error) {
	e := &Engine{models: map[string]*model{}, cacheSize: DefaultCacheSize, embBytes: DefaultEmbeddingCacheBytes, maxDocs: DefaultMaxDocuments, rec: metrics.Nop{}, bcfg: batcher.DefaultConfig()}
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
	e.emb = embcache.New(e.embBytes)
	for _, m := range ms {
		if err := e.add(m); err != nil {
			e.Close(context.Background())
			return nil, err
		}
	}
	if e.def == "" {
		e.def = ms[0].Name
	}
	if err := e.checkNames(); err != nil {
		e.Close(context.Background())
		return nil, err
	}
	return e, nil
}

// add checks one model and starts its batcher.
func (e *Engine) add(m Model) error {
	if m.Kind == "" {
		m.Kind = models.CrossEncoder
	}
	var text models.TextTokenizer
	switch m.Kind {
	case models.CrossEncoder:
		if m.Name == "" || m.Scorer == nil || m.Tokenizer == nil {
			return fmt.Errorf("rerank: model %q needs a name, a scorer and a tokenizer", m.Name)
		}
	case models.BiEncoder:
		var ok bool
		text, ok = m.Tokenizer.(models.TextTokenizer)
		if m.Name == "" || m.Embedder == nil || !ok {
			return fmt.Errorf("rerank: bi-encoder %q needs a name, an embedder and a tokenizer that encodes single texts", m.Name)
		}
	default:
		return fmt.Errorf("rerank: model %q: unknown kind %q", m.Name, m.Kind)
	}
	if _, dup := e.models[m.Name]; dup {
		return fmt.Errorf("rerank: model %q given twice", m.Name)
	}
	bopts := []batcher.Option{batcher.WithRecorder(e.rec)}
	if e.observer != nil {
		bopts = append(bopts, batcher.WithObserver(e.observer))
	}
	if e.tp != nil {
		bopts = append(bopts, batcher.WithTracerProvider(e.tp))
	}
	em := &model{Model: m, text: text}
	if m.Kind == models.BiEncoder {
		em.batcher = batcher.NewEmbedder(m.Name, m.Embedder, e.bcfg, bopts...)
	} else {
		em.batcher = batcher.New(m.Name, m.Scorer, e.bcfg, bopts...)
	}
	e.models[m.Name] = em
	e.names = append(e.names, m.Name)
	return nil
}

// checkNames checks what names other models once they are all added: the
// cascades' stages, the default model and the aliases.
func (e *Engine) checkNames() error {
	for name, stages := range e.cascades {
		if name == "" {
			return errors.New("rerank: a cascade needs a name")
		}
		if err := e.checkStages(stages); err != nil {
			return fmt.Errorf("rerank: cascade %q: %w", name, err)
		}
	}
	if _, ok := e.models[e.def]; !ok {
		return fmt.Errorf("rerank: default model %q is not among the models", e.def)
	}
	for alias, target := range e.aliases {
		switch _, served := e.models[target]; {
		case alias == "" || target == "":
			return fmt.Errorf("rerank: model alias %q=%q: both names are needed", alias, target)
		case e.models[alias] != nil:
			return fmt.Errorf("rerank: model alias %q: a served model already has that name", alias)
		case !served:
			return fmt.Errorf("rerank: model alias %q: its target %q is not served (served: %v)", alias, target, e.ModelNames())
		}
	}
	return nil
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
	info := m.Model.Info()
	info.Name = name
	return info, true
}

// Cascades lists the configured cascades by name.
func (e *Engine) Cascades() map[string][]Stage {
	out := make(map[string][]Stage, len(e.cascades))
	for k, v := range e.cascades {
		out[k] = append([]Stage(nil), v...)
	}
	return out
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

// Score scores every document of req against its query and ranks them. It
// honours ctx: a passed deadline is a KindDeadline error, and the pairs of a
// cancelled request are dropped before inference. Errors are *Error values
// (see AsError).
func (e *Engine) Score(ctx context.Context, req Request) (*Result, error) {
	start := time.Now()
	ctx, span := e.start(ctx, SpanRerank)
	var res *Result
	var err error
	if req.Cascade != "" || req.CascadeStages != nil {
		res, err = e.cascade(ctx, req)
	} else {
		res, err = e.score(ctx, req)
		if err == nil {
			_, rspan := e.start(ctx, SpanReorder)
			res.Order = Order(res.Scores)
			end(rspan, nil)
		}
	}
	if err != nil {
		err = AsError(err)
		end(span, err)
		return nil, err
	}
	res.Meta.Timings.Total = time.Since(start)
	describe(span, res.Meta)
	end(span, nil)
	return res, nil
}

// ScoreOf maps a model's raw score into [0, 1], preserving order: the
// sigmoid of a cross-encoder's logit, (cosine+1)/2 of a bi-encoder's cosine
// similarity (clamped, as rounding can pass ±1).
func ScoreOf(k models.Kind, raw float32) float64 {
	if k == models.BiEncoder {
		return min(max((float64(raw)+1)/2, 0), 1)
	}
	return Sigmoid(raw)
}

func (e *Engine) score(ctx context.Context, req Request) (*Result, error) {
	m, pname, err := e.resolve(req)
	if err != nil {
		return nil, err
	}
	if e.tracer != nil {
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			span.SetAttributes(AttrModel.String(m.Name), AttrPipeline.String(pname), AttrDocuments.Int(len(req.Documents)))
		}
	}
	res := &Result{
		Model:     m.Name,
		Kind:      m.Kind,
		Logits:    make([]float32, len(req.Documents)),
		Scores:    make([]float64, len(req.Documents)),
		Texts:     make([]string, len(req.Documents)),
		Documents: req.Documents,
	}
	if m.Name != req.Model && req.Model != "" && e.aliases[req.Model] == "" {
		res.UnknownModel = req.Model
	}
	if len(req.Documents) == 0 {
		return res, nil
	}
	query, err := e.prepare(ctx, m, pname, req, res)
	if err != nil {
		return nil, err
	}
	if m.Kind == models.BiEncoder {
		if err := e.embedScore(ctx, m, req, pname, query, res); err != nil {
			return nil, err
		}
	} else {
		keys, miss := e.lookup(m.Name, pname, req, query, res)
		if len(miss) > 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if err := e.scoreMisses(ctx, m, req, pname, query, keys, miss, res); err != nil {
				return nil, err
			}
		}
	}
	for i, v := range res.Logits {
		res.Scores[i] = ScoreOf(m.Kind, v)
	}
	return res, nil
}

// resolve checks req's limits and finds its model and pipeline name ("" for
// the identity rule).
func (e *Engine) resolve(req Request) (*model, string, error) {
	if len(req.Documents) > e.maxDocs {
		return nil, "", Invalid(docsField(req), "%d documents is more than the limit of %d", len(req.Documents), e.maxDocs)
	}
	if req.MaxTokensPerDoc < 0 {
		return nil, "", Invalid("max_tokens_per_doc", "%d is negative", req.MaxTokensPerDoc)
	}
	name := req.Model
	if name == "" {
		name = e.def
	}
	if target, ok := e.aliases[name]; ok {
		name = target
	}
	m, ok := e.models[name]
	if !ok && e.unknownDefault {
		m, ok = e.models[e.def], true
	}
	if !ok {
		return nil, "", NotFound("model %q not found (served: %v%s)", name, e.ModelNames(), e.aliasList())
	}
	if max := m.Tokenizer.MaxLength(); max > 0 && req.MaxTokensPerDoc > max {
		return nil, "", Invalid("max_tokens_per_doc", "%d is more than the model's maximum of %d tokens", req.MaxTokensPerDoc, max)
	}
	pname := req.Pipeline
	if pname == "" {
		pname = e.defPipeline
	}
	if pname == "none" {
		pname = ""
	}
	return m, pname, nil
}

// aliasList describes the aliases for a not-found message.
func (e *Engine) aliasList() string {
	if len(e.aliases) == 0 {
		return ""
	}
	names := make([]string, 0, len(e.aliases))
	for a := range e.aliases {
		names = append(names, a)
	}
	sort.Strings(names)
	return fmt.Sprintf("; aliases: %v", names)
}

func docsField(req Request) string {
	if req.DocumentsField != "" {
		return req.DocumentsField
	}
	return "documents"
}

// prepare turns the documents into passage texts (res.Texts) with the
// pipeline, or with the identity rule when there is none, and returns the
// query text to score against. It owns the plugins stage timing.
func (e *Engine) prepare(ctx context.Context, m *model, pname string, req Request, res *Result) (string, error) {
	if pname == "" {
		for i, d := range req.Documents {
			t, err := plugins.PassageText(d, req.RankFields)
			if err != nil {
				return "", &Error{Kind: KindInvalid, Field: fmt.Sprintf("%s[%d]", docsField(req), i), Message: err.Error(), Err: err}
			}
			res.Texts[i] = t
		}
		return req.Query, nil
	}
	var p plugins.Pipeline
	ok := false
	if e.pipelines != nil {
		p, ok = e.pipelines.Pipeline(pname)
	}
	if p == nil || !ok {
		return "", NotFound("pipeline %q not found", pname)
	}
	t0 := time.Now()
	pctx, span := e.start(ctx, SpanPlugins)
	out, err := p.Prepare(pctx, m.Tokenizer, plugins.Input{Query: req.Query, Documents: req.Documents, MaxTokensPerDoc: req.MaxTokensPerDoc})
	res.Meta.Timings.Plugins = time.Since(t0)
	e.rec.Stage(metrics.StagePlugins, res.Meta.Timings.Plugins)
	if err != nil {
		err = pluginError(ctx, pname, err)
		end(span, err)
		return "", err
	}
	end(span, nil)
	if len(out.Passages) != len(req.Documents) {
		return "", &Error{Kind: KindPluginFault, Message: fmt.Sprintf("pipeline %q returned %d passages for %d documents", pname, len(out.Passages), len(req.Documents))}
	}
	copy(res.Texts, out.Passages)
	return out.Query, nil
}

// lookup fills res with cached logits and returns every pair's cache key and
// the indices of the misses.
func (e *Engine) lookup(name, pname string, req Request, query string, res *Result) ([]cache.Key, []int) {
	scope := cacheScope(pname, req)
	var miss []int
	keys := make([]cache.Key, len(res.Texts))
	for i, p := range res.Texts {
		keys[i] = e.cache.Key(name, scope, query, p)
		if v, hit := e.cache.Get(keys[i]); hit {
			res.Logits[i] = v
			res.Meta.CacheHits++
			continue
		}
		miss = append(miss, i)
	}
	e.rec.Cache(res.Meta.CacheHits, len(miss))
	return keys, miss
}

// scoreMisses tokenizes the missed pairs in this goroutine, sends them to
// the model's batcher, and stores their logits in res and the cache.
func (e *Engine) scoreMisses(ctx context.Context, m *model, req Request, pname, query string, keys []cache.Key, miss []int, res *Result) error {
	texts := make([]string, len(miss))
	for j, i := range miss {
		texts[j] = res.Texts[i]
	}
	tr := req.Truncation
	tr.MaxLength = 0
	if req.MaxTokensPerDoc > 0 && pname == "" && !tr.Off {
		// A pair budget of query + passage budget + 3 specials makes
		// longest-first truncation cut the passage to the budget whenever
		// it is the longer part.
		tr.MaxLength = m.Tokenizer.CountTokens(query) + req.MaxTokensPerDoc + 3
	}
	t1 := time.Now()
	_, span := e.start(ctx, SpanTokenize)
	seqs, tokens, err := m.encode(tr, query, texts, miss, docsField(req))
	end(span, err)
	if err != nil {
		return err
	}
	res.Meta.Timings.Tokenize = time.Since(t1)
	e.rec.Stage(metrics.StageTokenize, res.Meta.Timings.Tokenize)
	res.Meta.Tokens = tokens
	res.Meta.Pairs = len(seqs)

	br, err := m.batcher.Submit(ctx, seqs)
	if err != nil {
		return fmt.Errorf("rerank: %w", err)
	}
	res.Meta.PaddedTokens = br.PaddedTokens
	res.Meta.Batches = br.Batches
	res.Meta.Timings.Queue = br.Queue
	res.Meta.Timings.Inference = br.Inference
	for j, i := range miss {
		v := br.Logits[j]
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return &Error{Kind: KindInternal, Message: fmt.Sprintf("model %q gave a non-finite score (%v) for document %d", m.Name, v, i)}
		}
		res.Logits[i] = v
		e.cache.Put(keys[i], v)
	}
	return nil
}

// cacheScope folds what changes a pair's tokens, besides its texts, into the
// pipeline part of the cache key.
func cacheScope(pipeline string, req Request) string {
	tr := req.Truncation
	if req.MaxTokensPerDoc == 0 && tr.Direction == models.Right && !tr.Off {
		return pipeline
	}
	return fmt.Sprintf("%s\x00%d\x00%s\x00%t", pipeline, req.MaxTokensPerDoc, tr.Direction, tr.Off)
}

// encode tokenizes passages against query, truncating as tr says, and copies
// the pairs into memory the request owns. idx are the passages' document
// indices (for errors).
func (m *model) encode(tr models.Truncation, query string, passages []string, idx []int, field string) ([]batcher.Seq, int, error) {
	maxLen := m.Tokenizer.MaxLength()
	off := tr.Off
	if off {
		// Tokenize only far enough to know a pair is too long (maxLen+1
		// tokens), never a whole hostile passage.
		tr.Off, tr.MaxLength = false, maxLen+1
	} else if tr.MaxLength <= 0 || tr.MaxLength > maxLen {
		tr.MaxLength = maxLen
	}
	poolAny, _ := m.pools.LoadOrStore(tr, &sync.Pool{})
	pool := poolAny.(*sync.Pool)
	enc, _ := pool.Get().(models.PairEncoder)
	if enc == nil {
		var err error
		if enc, err = m.Tokenizer.NewPairEncoder(tr); err != nil {
			return nil, 0, fmt.Errorf("rerank: tokenizer: %w", err)
		}
	}
	defer pool.Put(enc)
	seqs, err := enc.EncodePairs(query, passages)
	if err != nil {
		return nil, 0, fmt.Errorf("rerank: tokenize: %w", err)
	}
	total := 0
	for j, s := range seqs {
		if off && len(s.IDs) > maxLen {
			return nil, 0, Invalid(fmt.Sprintf("%s[%d]", field, idx[j]), "more than the model's %d tokens with the query, and truncation is off", maxLen)
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
