// Package server is the sidecar's HTTP front, on net/http: the rerank
// routes (Cohere/Jina /v1/rerank, TEI /rerank, /v1/rerank/hits), /health,
// /ready and /v1/models, the one JSON error shape of API.md on every route,
// per-request deadlines derived from the client's connection (a client that
// leaves cancels its request, and its queued pairs are dropped), a
// structured access log with request ids, and graceful shutdown. Other
// parts mount their routes with WithHandler (metrics, dashboard, plugin
// reload), the _search proxy with WithFallback, and cross-cutting concerns
// (auth, TLS checks, panic recovery) with WithMiddleware.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/crossrank/crossrank/sidecar/api"
	"github.com/crossrank/crossrank/sidecar/internal/hits"
	"github.com/crossrank/crossrank/sidecar/internal/jsonw"
	"github.com/crossrank/crossrank/sidecar/metrics"
	"github.com/crossrank/crossrank/sidecar/rerank"
)

// Defaults of a Server (the serve flags' defaults come from here).
const (
	DefaultMaxBodyBytes   = 16 << 20
	DefaultRequestTimeout = 30 * time.Second
	// DefaultMaxConns bounds open client connections (idle keep-alive ones
	// included); more wait in the kernel's accept queue.
	DefaultMaxConns = 4096
	// MaxHeaderBytes bounds a request's header block (431 beyond it).
	MaxHeaderBytes = 64 << 10
)

// WithReadTimeouts sets how long a client has to send its headers
// (default 10 s) and its whole request, body included (default 60 s):
// slow senders (slowloris) are cut off.
func WithReadTimeouts(header, whole time.Duration) Option {
	return func(s *Server) { s.headerTimeout, s.readTimeout = header, whole }
}

// WithMaxConns bounds the connections served at once (0: unbounded).
func WithMaxConns(n int) Option { return func(s *Server) { s.maxConns = n } }

// WithTLS serves HTTPS with cfg (see TLSReloader for certificates that
// change on disk).
func WithTLS(cfg *tls.Config) Option { return func(s *Server) { s.tlsConfig = cfg } }

// Option configures a Server.
type Option func(*Server)

// WithHandler mounts h at method and path (exact match), e.g. GET /metrics.
func WithHandler(method, path string, h http.Handler) Option {
	return func(s *Server) { s.extra = append(s.extra, route{method, path, h}) }
}

// WithFallback handles every request no route matches (the _search proxy);
// without it such requests get a JSON 404.
func WithFallback(h http.Handler) Option { return func(s *Server) { s.fallback = h } }

// WithMiddleware wraps every route, inside the request id and access log
// (so what it answers is logged) and outside the routing. Middlewares run in
// the order given.
func WithMiddleware(m func(http.Handler) http.Handler) Option {
	return func(s *Server) { s.middleware = append(s.middleware, m) }
}

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

// WithLogger logs server events and the access log to l.
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// Server serves the rerank API for one engine. It is an http.Handler.
type Server struct {
	eng        *rerank.Engine
	rec        metrics.Recorder
	extra      []route
	routes     map[string]map[string]http.Handler
	fallback   http.Handler
	middleware []func(http.Handler) http.Handler
	handler    http.Handler // the whole chain
	maxBody    int
	timeout    time.Duration
	log        *slog.Logger
	srv        *http.Server
	base       context.Context // every request's context derives from it
	cancelBase context.CancelFunc
	ready      atomic.Bool
	stopping   atomic.Bool

	maxInflight int64        // request bytes in flight (0: unbounded)
	inflight    atomic.Int64 // request bytes admitted now
	maxConns    int          // open connections (0: unbounded)
	tlsConfig   *tls.Config  // nil: plain HTTP

	headerTimeout, readTimeout time.Duration
	drain                      time.Duration
	tracer                     trace.Tracer // nil: no tracing (see WithTracerProvider)
	prop                       propagation.TextMapPropagator
}

type route struct {
	method, path string
	h            http.Handler
}

// New builds a server for eng. It reports ready (GET /ready) once SetReady
// is called.
func New(eng *rerank.Engine, opts ...Option) *Server {
	s := &Server{eng: eng, rec: metrics.Nop{}, maxBody: DefaultMaxBodyBytes, timeout: DefaultRequestTimeout, log: slog.Default(),
		headerTimeout: 10 * time.Second, readTimeout: 60 * time.Second}
	for _, o := range opts {
		o(s)
	}
	s.base, s.cancelBase = context.WithCancel(context.Background())
	s.routes = map[string]map[string]http.Handler{}
	add := func(method, path string, h http.Handler) {
		if s.routes[path] == nil {
			s.routes[path] = map[string]http.Handler{}
		}
		s.routes[path][method] = h
	}
	add("POST", "/v1/rerank", s.instrument("/v1/rerank", s.handleRerank))
	add("POST", "/v2/rerank", s.instrument("/v2/rerank", s.handleRerank)) // Cohere's ClientV2
	add("POST", "/rerank", s.instrument("/rerank", s.handleTEI))
	add("POST", "/v1/rerank/hits", s.instrument("/v1/rerank/hits", s.handleHits))
	add("GET", "/health", http.HandlerFunc(s.handleHealth))
	add("GET", "/ready", http.HandlerFunc(s.handleReady))
	add("GET", "/v1/models", http.HandlerFunc(s.handleModels))
	for _, r := range s.extra {
		add(r.method, r.path, r.h)
	}
	var h http.Handler = http.HandlerFunc(s.route)
	for i := len(s.middleware) - 1; i >= 0; i-- {
		h = s.middleware[i](h)
	}
	s.handler = s.accessLog(s.traced(s.recoverPanics(s.limitInflight(s.limitBody(h)))))
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.headerTimeout,
		ReadTimeout:       s.readTimeout,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    MaxHeaderBytes,
		TLSConfig:         s.tlsConfig,
		BaseContext:       func(net.Listener) context.Context { return s.base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	return s
}

// SetReady marks the models loaded and warmed (GET /ready answers 200).
func (s *Server) SetReady(v bool) { s.ready.Store(v) }

// ServeHTTP runs one request through the whole chain: request id, access
// log, body limit, middlewares, routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// route dispatches to the route, the fallback, or a JSON 404/405.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	methods, ok := s.routes[path]
	if !ok {
		if s.fallback != nil {
			s.fallback.ServeHTTP(w, r)
			return
		}
		WriteError(w, r, api.Errorf(http.StatusNotFound, api.TypeNotFound, "no route %s %s", r.Method, path))
		return
	}
	h, ok := methods[r.Method]
	if !ok {
		if s.fallback != nil && path != "/health" && path != "/ready" {
			s.fallback.ServeHTTP(w, r)
			return
		}
		WriteError(w, r, api.Errorf(http.StatusMethodNotAllowed, api.TypeBadRequest, "%s is not allowed on %s", r.Method, path))
		return
	}
	h.ServeHTTP(w, r)
}

// Serve accepts connections on ln until Shutdown (over TLS with
// WithTLS), at most WithMaxConns of them at once.
func (s *Server) Serve(ln net.Listener) error {
	if s.maxConns > 0 {
		ln = limitListener(ln, s.maxConns)
	}
	var err error
	if s.tlsConfig != nil {
		err = s.srv.ServeTLS(ln, "", "")
	} else {
		err = s.srv.Serve(ln)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// Shutdown stops accepting connections and waits for in-flight requests
// until ctx ends, then cancels the ones left; /ready turns 503 at once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopping.Store(true)
	s.ready.Store(false)
	err := s.srv.Shutdown(ctx)
	s.cancelBase()
	if err != nil {
		_ = s.srv.Close()
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
	if s.eng != nil {
		if cerr := s.eng.Close(sctx); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// instrument counts a rerank route's requests for the recorder.
func (s *Server) instrument(name string, h func(http.ResponseWriter, *http.Request) int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.rec.Inflight(1)
		defer s.rec.Inflight(-1) // also when h panics (recoverPanics answers)
		sw := asStatusWriter(w)
		pairs := h(sw, r)
		s.rec.Request(name, sw.status, time.Since(start), pairs)
	})
}

// requestContext is the context of a scoring request: the client's (it ends
// when the client leaves or the server stops) with the request's deadline.
func (s *Server) requestContext(r *http.Request, timeoutMS int) (context.Context, context.CancelFunc) {
	d := s.timeout
	if timeoutMS > 0 {
		d = api.Timeout(timeoutMS)
	}
	if d <= 0 {
		return context.WithCancel(r.Context())
	}
	return context.WithTimeout(r.Context(), d)
}

// WriteError writes err as the one JSON error shape of API.md, with the
// status api.ErrorOf maps it to, and hands the cause to the access log.
// Routes mounted with WithHandler use it too.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := api.ErrorOf(err)
	if info := infoOf(r.Context()); info != nil {
		info.err = err
	}
	if e.Status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	_, _ = w.Write(api.AppendError(nil, e))
}

func writeJSON(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// readBody reads a request body within the server's limit.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := readAll(r)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			WriteError(w, r, api.Errorf(http.StatusRequestEntityTooLarge, api.TypeTooLarge, "request body is larger than the limit of %d bytes", tooLarge.Limit))
		} else {
			WriteError(w, r, api.Errorf(http.StatusBadRequest, api.TypeBadRequest, "cannot read request: %v", err))
		}
		return nil, false
	}
	return b, true
}

// warnUnknownModel tells the client, in a Warning header (RFC 7234 code 299,
// "miscellaneous persistent warning"), that the model it named is unknown
// and the default served it (--unknown-model-default).
func warnUnknownModel(w http.ResponseWriter, res *rerank.Result) {
	if res != nil && res.UnknownModel != "" {
		w.Header().Set("Warning", `299 crossrank "model '`+headerSafe(res.UnknownModel)+`' is not served; the default model '`+headerSafe(res.Model)+`' answered"`)
	}
}

// headerSafe keeps a client-given name fit for a quoted header string:
// printable ASCII without quotes or backslashes, at most 128 bytes.
func headerSafe(s string) string {
	b := make([]byte, 0, min(len(s), 128))
	for i := 0; i < len(s) && len(b) < 128; i++ {
		if c := s[i]; c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			b = append(b, c)
		} else {
			b = append(b, '?')
		}
	}
	return string(b)
}

// readAll reads the body into one buffer of its declared length (the body
// limit already applies), so a large body is not copied while it grows.
func readAll(r *http.Request) ([]byte, error) {
	if r.ContentLength <= 0 {
		return io.ReadAll(r.Body)
	}
	b := make([]byte, r.ContentLength+1) // +1: a body longer than declared is an error
	n, err := io.ReadFull(r.Body, b)
	switch {
	case err == nil:
		return nil, errors.New("body is longer than its Content-Length")
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		if int64(n) != r.ContentLength {
			return nil, fmt.Errorf("body ended after %d of %d bytes", n, r.ContentLength)
		}
		return b[:n], nil
	default:
		return nil, err
	}
}

// scored records what a scoring request did, for the access log.
func scored(r *http.Request, res *rerank.Result) {
	if info := infoOf(r.Context()); info != nil && res != nil {
		info.pairs, info.model = res.Meta.Pairs, res.Model
	}
}

func (s *Server) handleRerank(w http.ResponseWriter, r *http.Request) int {
	endDecode := s.stage(r.Context(), SpanDecode)
	body, ok := readBody(w, r)
	if !ok {
		endDecode()
		return 0
	}
	req, err := api.DecodeRerank(body)
	endDecode()
	if err != nil {
		WriteError(w, r, err)
		return 0
	}
	c, cancel := s.requestContext(r, req.TimeoutMS)
	defer cancel()
	res, err := s.eng.Score(c, req.Engine())
	if err != nil {
		WriteError(w, r, err)
		return 0
	}
	scored(r, res)
	warnUnknownModel(w, res)
	endEncode := s.stage(r.Context(), SpanEncode)
	writeJSON(w, req.AppendResponse(make([]byte, 0, 64+48*len(res.Scores)), RequestID(r.Context()), res))
	endEncode()
	return res.Meta.Pairs
}

func (s *Server) handleTEI(w http.ResponseWriter, r *http.Request) int {
	endDecode := s.stage(r.Context(), SpanDecode)
	body, ok := readBody(w, r)
	if !ok {
		endDecode()
		return 0
	}
	req, err := api.DecodeTEI(body)
	endDecode()
	if err != nil {
		WriteError(w, r, err)
		return 0
	}
	c, cancel := s.requestContext(r, req.TimeoutMS)
	defer cancel()
	res, err := s.eng.Score(c, req.Engine())
	if err != nil {
		WriteError(w, r, err)
		return 0
	}
	scored(r, res)
	warnUnknownModel(w, res)
	t := res.Meta.Timings
	h := w.Header()
	h.Set("x-tokenization-time", strconv.FormatInt(t.Tokenize.Milliseconds(), 10))
	h.Set("x-queue-time", strconv.FormatInt(t.Queue.Milliseconds(), 10))
	h.Set("x-inference-time", strconv.FormatInt(t.Inference.Milliseconds(), 10))
	h.Set("x-total-time", strconv.FormatInt(t.Total.Milliseconds(), 10))
	endEncode := s.stage(r.Context(), SpanEncode)
	writeJSON(w, api.AppendTEIResponse(make([]byte, 0, 2+40*len(res.Scores)), res, req.RawScores, req.ReturnText))
	endEncode()
	return res.Meta.Pairs
}

func (s *Server) handleHits(w http.ResponseWriter, r *http.Request) int {
	endDecode := s.stage(r.Context(), SpanDecode)
	body, ok := readBody(w, r)
	if !ok {
		endDecode()
		return 0
	}
	req, err := api.DecodeHits(body)
	endDecode()
	if err != nil {
		WriteError(w, r, err)
		return 0
	}
	c, cancel := s.requestContext(r, req.TimeoutMS)
	defer cancel()
	resp, err := hits.Parse(req.Response, req.Window)
	if err != nil {
		WriteError(w, r, err)
		return 0
	}
	var res *rerank.Result
	if docs := resp.Documents(); len(docs) > 0 {
		if res, err = s.eng.Score(c, req.Engine(docs, hits.DocumentsField)); err != nil {
			WriteError(w, r, err)
			return 0
		}
	}
	scored(r, res)
	warnUnknownModel(w, res)
	endEncode := s.stage(r.Context(), SpanEncode)
	writeJSON(w, resp.Append(make([]byte, 0, len(req.Response)+64*len(resp.Documents())), res, 0, -1))
	endEncode()
	if res == nil {
		return 0
	}
	return res.Meta.Pairs
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, []byte(`{"status":"ok"}`))
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() || s.stopping.Load() {
		WriteError(w, r, api.Errorf(http.StatusServiceUnavailable, api.TypeUnavailable, "not ready"))
		return
	}
	writeJSON(w, []byte(`{"status":"ready"}`))
}

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	if s.eng == nil {
		writeJSON(w, []byte(`{"object":"list","data":[]}`))
		return
	}
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
		if info.Precision != "" {
			b = append(b, `,"precision":`...)
			b = jsonw.AppendString(b, info.Precision)
		}
		b = append(b, `,"max_length":`...)
		b = strconv.AppendInt(b, int64(info.MaxLength), 10)
		b = append(b, `,"twin":`...)
		b = strconv.AppendBool(b, info.Twin)
		b = append(b, `,"kind":`...)
		b = jsonw.AppendString(b, string(info.Kind))
		b = append(b, `,"trained":`...)
		b = strconv.AppendBool(b, info.Trained)
		if info.Dim > 0 {
			b = append(b, `,"dim":`...)
			b = strconv.AppendInt(b, int64(info.Dim), 10)
		}
		b = append(b, '}')
	}
	writeJSON(w, append(b, `]}`...))
}
