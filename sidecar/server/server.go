// Package server is the sidecar's HTTP front: a fasthttp server with the
// rerank routes (Cohere/Jina /v1/rerank, TEI /rerank, /v1/rerank/hits),
// /health, /ready and /v1/models, JSON error bodies with the right statuses,
// per-request deadlines, and graceful shutdown. Other areas mount their
// routes with WithHandler (metrics, dashboard, plugin reload) and the _search
// proxy with WithFallback.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/crossrank/crossrank/sidecar/api"
	"github.com/crossrank/crossrank/sidecar/api/jsonw"
	"github.com/crossrank/crossrank/sidecar/metrics"
	"github.com/crossrank/crossrank/sidecar/rerank"
)

// Option configures a Server.
type Option func(*Server)

// WithHandler mounts h at method and path (exact match), e.g. GET /metrics.
func WithHandler(method, path string, h fasthttp.RequestHandler) Option {
	return func(s *Server) { s.extra = append(s.extra, route{method, path, h}) }
}

// WithFallback handles every request no route matches (the _search proxy);
// without it such requests get a JSON 404.
func WithFallback(h fasthttp.RequestHandler) Option { return func(s *Server) { s.fallback = h } }

// WithRecorder sends request events to r.
func WithRecorder(r metrics.Recorder) Option {
	return func(s *Server) {
		if r != nil {
			s.rec = r
		}
	}
}

// WithMaxBodyBytes limits request bodies (default 16 MiB); larger ones get 413.
func WithMaxBodyBytes(n int) Option { return func(s *Server) { s.maxBody = n } }

// WithRequestTimeout is the deadline of a request that sets no timeout_ms
// (default 30 s).
func WithRequestTimeout(d time.Duration) Option { return func(s *Server) { s.timeout = d } }

// WithDrainDelay makes Run, once its context ends, answer GET /ready with
// 503 and keep serving (new connections and requests included) for d before
// it closes the listener, so a load balancer's health check takes the
// replica out of rotation before connections are refused (default 0).
func WithDrainDelay(d time.Duration) Option { return func(s *Server) { s.drain = d } }

// WithLogger logs server events to l.
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// Server serves the rerank API for one engine.
type Server struct {
	eng      *rerank.Engine
	rec      metrics.Recorder
	extra    []route
	routes   map[string]map[string]fasthttp.RequestHandler
	fallback fasthttp.RequestHandler
	maxBody  int
	timeout  time.Duration
	log      *slog.Logger
	srv      *fasthttp.Server
	ready    atomic.Bool
	stopping atomic.Bool
	drain    time.Duration
}

type route struct {
	method, path string
	h            fasthttp.RequestHandler
}

// New builds a server for eng. It reports ready (GET /ready) once SetReady
// is called.
func New(eng *rerank.Engine, opts ...Option) *Server {
	s := &Server{eng: eng, rec: metrics.Nop{}, maxBody: 16 << 20, timeout: 30 * time.Second, log: slog.Default()}
	for _, o := range opts {
		o(s)
	}
	s.routes = map[string]map[string]fasthttp.RequestHandler{}
	add := func(method, path string, h fasthttp.RequestHandler) {
		if s.routes[path] == nil {
			s.routes[path] = map[string]fasthttp.RequestHandler{}
		}
		s.routes[path][method] = h
	}
	add("POST", "/v1/rerank", s.instrument("/v1/rerank", s.handleRerank))
	add("POST", "/rerank", s.instrument("/rerank", s.handleTEI))
	add("POST", "/v1/rerank/hits", s.instrument("/v1/rerank/hits", s.handleHits))
	add("GET", "/health", s.handleHealth)
	add("GET", "/ready", s.handleReady)
	add("GET", "/v1/models", s.handleModels)
	for _, r := range s.extra {
		add(r.method, r.path, r.h)
	}
	s.srv = &fasthttp.Server{
		Handler:               s.Handler,
		Name:                  "crossrank",
		MaxRequestBodySize:    s.maxBody,
		ReadTimeout:           60 * time.Second,
		IdleTimeout:           120 * time.Second,
		CloseOnShutdown:       true,
		NoDefaultServerHeader: false,
		ErrorHandler:          s.handleReadError,
		Logger:                fasthttpLogger{s.log},
	}
	return s
}

type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug(fmt.Sprintf(format, args...))
}

// SetReady marks the models loaded and warmed (GET /ready answers 200).
func (s *Server) SetReady(v bool) { s.ready.Store(v) }

// Handler routes one request.
func (s *Server) Handler(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	methods, ok := s.routes[path]
	if !ok {
		if s.fallback != nil {
			s.fallback(ctx)
			return
		}
		writeError(ctx, rerank.Errorf(http.StatusNotFound, rerank.TypeNotFound, "no route %s %s", ctx.Method(), path))
		return
	}
	h, ok := methods[string(ctx.Method())]
	if !ok {
		if s.fallback != nil && path != "/health" && path != "/ready" {
			s.fallback(ctx)
			return
		}
		writeError(ctx, rerank.Errorf(http.StatusMethodNotAllowed, rerank.TypeBadRequest, "%s is not allowed on %s", ctx.Method(), path))
		return
	}
	h(ctx)
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.srv.Serve(ln); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// Shutdown stops accepting connections and waits for in-flight requests
// until ctx ends; /ready turns 503 at once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopping.Store(true)
	s.ready.Store(false)
	if err := s.srv.ShutdownWithContext(ctx); err != nil {
		return fmt.Errorf("server: shutdown: %w", err)
	}
	return nil
}

// Run serves on ln until ctx ends, then shuts down gracefully: after the
// drain delay (WithDrainDelay), in-flight requests get up to grace to
// finish, then the engine's queues drain.
func (s *Server) Run(ctx context.Context, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if s.drain > 0 {
		s.stopping.Store(true) // GET /ready: 503
		s.log.Info("draining: not ready, still serving", "drain_delay", s.drain)
		select {
		case err := <-errc:
			return err
		case <-time.After(s.drain):
		}
	}
	s.log.Info("shutting down", "grace", grace)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := s.Shutdown(sctx)
	if serr := <-errc; serr != nil && err == nil {
		err = serr
	}
	if cerr := s.eng.Close(sctx); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

func (s *Server) instrument(name string, h func(*fasthttp.RequestCtx) int) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		start := time.Now()
		s.rec.Inflight(1)
		pairs := h(ctx)
		s.rec.Inflight(-1)
		s.rec.Request(name, ctx.Response.StatusCode(), time.Since(start), pairs)
	}
}

func (s *Server) requestContext(timeoutMS int) (context.Context, context.CancelFunc) {
	d := s.timeout
	if timeoutMS > 0 {
		d = api.Timeout(timeoutMS)
	}
	if d <= 0 {
		return context.WithCancel(context.Background())
	}
	return context.WithTimeout(context.Background(), d)
}

func writeError(ctx *fasthttp.RequestCtx, err error) {
	e := rerank.AsError(err)
	if e.Status == http.StatusTooManyRequests {
		ctx.Response.Header.Set("Retry-After", "1")
	}
	ctx.SetStatusCode(e.Status)
	ctx.SetContentType("application/json")
	ctx.SetBody(api.AppendError(nil, e))
}

func writeJSON(ctx *fasthttp.RequestCtx, body []byte) {
	ctx.SetStatusCode(http.StatusOK)
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}

func (s *Server) handleReadError(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		writeError(ctx, rerank.Errorf(http.StatusRequestEntityTooLarge, rerank.TypeTooLarge, "request body is larger than the limit of %d bytes", s.maxBody))
		return
	}
	writeError(ctx, rerank.Errorf(http.StatusBadRequest, rerank.TypeBadRequest, "cannot read request: %v", err))
}

func (s *Server) handleRerank(ctx *fasthttp.RequestCtx) int {
	req, err := api.DecodeRerank(ctx.PostBody())
	if err != nil {
		writeError(ctx, err)
		return 0
	}
	c, cancel := s.requestContext(req.TimeoutMS)
	defer cancel()
	res, err := s.eng.Score(c, rerank.Request{
		Model: req.Model, Pipeline: req.Pipeline, Query: *req.Query, Documents: req.Documents,
		RankFields: req.RankFields, MaxTokensPerDoc: req.MaxTokensPerDoc,
	})
	if err != nil {
		writeError(ctx, err)
		return 0
	}
	topN := -1
	if req.TopN != nil {
		topN = *req.TopN
	}
	writeJSON(ctx, api.AppendRerankResponse(make([]byte, 0, 64+48*len(res.Scores)), api.NewID(), res, topN, req.ReturnDocuments))
	return res.Meta.Pairs
}

func (s *Server) handleTEI(ctx *fasthttp.RequestCtx) int {
	req, err := api.DecodeTEI(ctx.PostBody())
	if err != nil {
		writeError(ctx, err)
		return 0
	}
	c, cancel := s.requestContext(req.TimeoutMS)
	defer cancel()
	res, err := s.eng.Score(c, rerank.Request{
		Model: req.Model, Pipeline: req.Pipeline, Query: *req.Query, Documents: req.Texts,
		TruncateDirection: api.Direction(req.TruncationDirection),
		NoTruncate:        req.Truncate != nil && !*req.Truncate,
	})
	if err != nil {
		writeError(ctx, err)
		return 0
	}
	t := res.Meta.Timings
	h := &ctx.Response.Header
	h.Set("x-tokenization-time", strconv.FormatInt(t.Tokenize.Milliseconds(), 10))
	h.Set("x-queue-time", strconv.FormatInt(t.Queue.Milliseconds(), 10))
	h.Set("x-inference-time", strconv.FormatInt(t.Inference.Milliseconds(), 10))
	h.Set("x-total-time", strconv.FormatInt(t.Total.Milliseconds(), 10))
	writeJSON(ctx, api.AppendTEIResponse(make([]byte, 0, 2+40*len(res.Scores)), res, req.RawScores, req.ReturnText))
	return res.Meta.Pairs
}

func (s *Server) handleHits(ctx *fasthttp.RequestCtx) int {
	req, err := api.DecodeHits(ctx.PostBody())
	if err != nil {
		writeError(ctx, err)
		return 0
	}
	c, cancel := s.requestContext(req.TimeoutMS)
	defer cancel()
	out, err := rerank.RerankHitsResult(c, s.eng, req.Response, rerank.HitsOptions{
		Query: *req.Query, Fields: req.Fields, Window: req.Window, Pipeline: req.Pipeline, Model: req.Model,
	})
	if err != nil {
		writeError(ctx, err)
		return 0
	}
	writeJSON(ctx, out.Body)
	if out.Result == nil {
		return 0
	}
	return out.Result.Meta.Pairs
}

func (s *Server) handleHealth(ctx *fasthttp.RequestCtx) {
	writeJSON(ctx, []byte(`{"status":"ok"}`))
}

func (s *Server) handleReady(ctx *fasthttp.RequestCtx) {
	if !s.ready.Load() || s.stopping.Load() {
		writeError(ctx, rerank.Errorf(http.StatusServiceUnavailable, rerank.TypeUnavailable, "not ready"))
		return
	}
	writeJSON(ctx, []byte(`{"status":"ready"}`))
}

func (s *Server) handleModels(ctx *fasthttp.RequestCtx) {
	b := []byte(`{"object":"list","data":[`)
	for i, name := range s.eng.ModelNames() {
		info, _ := s.eng.ModelInfo(name)
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = jsonw.AppendString(b, name)
		b = append(b, `,"object":"model","default":`...)
		b = strconv.AppendBool(b, i == 0)
		b = append(b, `,"dir":`...)
		b = jsonw.AppendString(b, info.Dir)
		b = append(b, `,"file":`...)
		b = jsonw.AppendString(b, info.File)
		b = append(b, `,"provider":`...)
		b = jsonw.AppendString(b, info.Provider)
		b = append(b, `,"max_length":`...)
		b = strconv.AppendInt(b, int64(info.MaxLength), 10)
		b = append(b, `,"twin":`...)
		b = strconv.AppendBool(b, info.Twin)
		b = append(b, '}')
	}
	writeJSON(ctx, append(b, `]}`...))
}
