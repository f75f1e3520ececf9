// Package proxy is the sidecar's _search proxy mode (`crossrank serve
// --upstream URL`): it stands in front of one Elasticsearch or OpenSearch
// cluster, forwards every request to it, and reranks the hits of
// `GET|POST /{index}/_search` by cross-encoder score.
//
// A search is reranked when its body carries an
// `"ext": {"rerank": {"query": ..., "fields": [...], "window": N, "pipeline": ..., "model" or "cascade": ...}}`
// section, or when the index has defaults (Config.Indices) whose query path
// finds the query text in the query DSL. The proxy removes ext.rerank before
// forwarding (the engines reject unknown ext sections), asks the engine for
// max(window, from+size) hits from the top, reorders the first window hits
// (the engine ranks their documents; _score rewritten, the original in
// _rerank.original_score, max_score updated, later hits unchanged) and
// writes the page (from, size) of the result.
//
// Everything else passes through unchanged: method, path, query string,
// headers (Authorization included), body, and the engine's answer — status,
// headers and body, streamed. Upstream errors come back as the engine sent
// them and are never reranked; an upstream that cannot be reached or does not
// answer in time gets an error body shaped like the engine's own (502, 504).
// The upstream is fixed by configuration: a request can never choose where
// it goes.
//
// `GET|POST /_msearch` and `/{target}/_msearch` (NDJSON header/body pairs)
// pass through untouched unless a search in them asks for a rerank; then
// each search goes through the single-search path as its own _search, at
// most 8 at a time, and the answers come back in order in the engine's
// _msearch shape, each with its "status", one failure never failing the
// others (at most Config.MaxSearches searches; see msearch.go).
package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/crossrank/crossrank/sidecar/api"
	"github.com/crossrank/crossrank/sidecar/internal/hits"
	"github.com/crossrank/crossrank/sidecar/internal/rawjson"
	"github.com/crossrank/crossrank/sidecar/rerank"
)

// Ranker scores and ranks documents; *rerank.Engine is one. The proxy
// parses the upstream's response once (sidecar/internal/hits), asks the
// Ranker for the ranking of the window's documents, and writes the page from
// the ranked result.
type Ranker interface {
	Score(ctx context.Context, req rerank.Request) (*rerank.Result, error)
}

// RankerFunc adapts a function to Ranker.
type RankerFunc func(ctx context.Context, req rerank.Request) (*rerank.Result, error)

// Score calls f.
func (f RankerFunc) Score(ctx context.Context, req rerank.Request) (*rerank.Result, error) {
	return f(ctx, req)
}

// Header names the proxy sets on a search it handled.
const (
	// HeaderRerank is "applied; window=N" on a reranked search, or
	// "skipped; REASON" when a search was forwarded without reranking.
	HeaderRerank = "X-Crossrank-Rerank"
	// HeaderAPIKey carries the sidecar's own API key in proxy mode (the
	// client's Authorization belongs to the engine). It is never forwarded.
	HeaderAPIKey = "X-Api-Key"
)

// Defaults of Config.
const (
	DefaultWindow  = 50
	DefaultTimeout = 60 * time.Second
	// DefaultMaxResultWindow is Elasticsearch's and OpenSearch's default
	// index.max_result_window: from+size above it is a 400.
	DefaultMaxResultWindow = 10000
	// DefaultMaxResponseBytes bounds the upstream answer the proxy reads to
	// rerank (a larger one is a 502; pass-through answers are streamed and
	// never held).
	DefaultMaxResponseBytes = 256 << 20
	// DefaultMaxSearches is Config.MaxSearches's default.
	DefaultMaxSearches = 100
)

// IndexDefaults are the rerank defaults for one index (YAML indices.<name>
// in the sidecar's config file).
type IndexDefaults struct {
	Fields    []string `yaml:"fields,omitempty"`
	Window    int      `yaml:"window,omitempty"`
	Pipeline  string   `yaml:"pipeline,omitempty"`
	QueryPath string   `yaml:"query_path,omitempty"` // JSON path into the query DSL
	// MaxResultWindow is the index's index.max_result_window when it is not
	// Elasticsearch's default (DefaultMaxResultWindow): a reranked search
	// whose from+size or window passes it is a 400, as the engine answers.
	MaxResultWindow int `yaml:"max_result_window,omitempty"`
}

// Config configures a Proxy.
type Config struct {
	// Upstream is the engine's base URL, http or https, with an optional
	// path prefix (http://es:9200, https://gw.example/search).
	Upstream string
	// Indices holds per-index rerank defaults. Keys are index names or
	// path.Match patterns ("logs-*", "*") matched against the search's
	// target as written in its path ("a,b" for a multi-index search); an
	// exact key wins over patterns, and patterns are tried in sorted order.
	Indices map[string]IndexDefaults
	// Window is the window when neither ext.rerank nor the index sets one
	// (default DefaultWindow).
	Window int
	// Model is the model that scores (empty: the engine's default).
	Model string
	// Timeout bounds each upstream exchange and each rerank (default
	// DefaultTimeout); for streamed answers it is the longest pause between
	// reads.
	Timeout time.Duration
	// MaxSearches bounds the searches of an _msearch that asks for a rerank
	// (the proxy runs each as its own _search); more is a 400 (default
	// DefaultMaxSearches). An _msearch that asks for none passes through
	// and is the engine's to bound.
	MaxSearches int
	// MaxConns bounds connections to the upstream (default 512).
	MaxConns int
	// MaxResponseBytes bounds a search answer read to be reranked (default
	// DefaultMaxResponseBytes).
	MaxResponseBytes int
	// TLSConfig is used for an https upstream (nil: the system's roots,
	// which honour SSL_CERT_FILE and SSL_CERT_DIR).
	TLSConfig *tls.Config
	// Logger logs upstream failures and failed reranks (default: slog's
	// default logger).
	Logger *slog.Logger
	// TracerProvider, when set, records each upstream exchange as a client
	// span and sends its W3C trace context (Propagator; nil:
	// propagation.TraceContext) upstream in place of the client's.
	TracerProvider trace.TracerProvider
	Propagator     propagation.TextMapPropagator
}

// Proxy forwards requests to the upstream and reranks searches.
type Proxy struct {
	cfg      Config
	rr       Ranker
	base     string // scheme://host[:port]
	prefix   string // path prefix, no trailing slash
	host     string // Host header for the upstream
	client   *fasthttp.HostClient
	patterns []string
	tracer   trace.Tracer // nil: no tracing
	prop     propagation.TextMapPropagator
}

// New returns a Proxy for cfg that ranks with rr.
func New(cfg Config, rr Ranker) (*Proxy, error) {
	if rr == nil {
		return nil, errors.New("proxy: nil ranker")
	}
	u, err := url.Parse(cfg.Upstream)
	if err != nil {
		return nil, fmt.Errorf("proxy: upstream %q: %w", cfg.Upstream, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("proxy: upstream %q: want http://host:port or https://host:port", cfg.Upstream)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("proxy: upstream %q: credentials, query and fragment are not allowed (clients send their own Authorization)", cfg.Upstream)
	}
	if cfg.Window < 0 {
		return nil, fmt.Errorf("proxy: window %d is negative", cfg.Window)
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxSearches <= 0 {
		cfg.MaxSearches = DefaultMaxSearches
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 512
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Proxy{cfg: cfg, rr: rr, host: u.Host, prefix: strings.TrimSuffix(u.EscapedPath(), "/")}
	p.tracing(cfg)
	addr := u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			addr = net.JoinHostPort(u.Hostname(), "443")
		} else {
			addr = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	p.base = u.Scheme + "://" + u.Host
	for name, d := range cfg.Indices {
		if _, err := path.Match(name, ""); err != nil {
			return nil, fmt.Errorf("proxy: indices: %q is not a valid pattern: %w", name, err)
		}
		if d.Window < 0 {
			return nil, fmt.Errorf("proxy: indices.%s.window: %d is negative", name, d.Window)
		}
		if d.MaxResultWindow < 0 {
			return nil, fmt.Errorf("proxy: indices.%s.max_result_window: %d is negative", name, d.MaxResultWindow)
		}
		if strings.ContainsAny(name, "*?[") {
			p.patterns = append(p.patterns, name)
		}
	}
	slices.Sort(p.patterns)
	p.client = &fasthttp.HostClient{
		Addr:                          addr,
		Name:                          "crossrank-proxy",
		IsTLS:                         u.Scheme == "https",
		TLSConfig:                     cfg.TLSConfig,
		MaxConns:                      cfg.MaxConns,
		ReadTimeout:                   cfg.Timeout,
		WriteTimeout:                  cfg.Timeout,
		MaxIdleConnDuration:           30 * time.Second,
		MaxResponseBodySize:           cfg.MaxResponseBytes, // streamed pass-through answers are not bounded by it
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
		NoDefaultUserAgentHeader:      true,
	}
	return p, nil
}

// Upstream returns the upstream base URL.
func (p *Proxy) Upstream() string { return p.base + p.prefix }

// Close closes idle upstream connections.
func (p *Proxy) Close() { p.client.CloseIdleConnections() }

// ServeHTTP serves one request: a search is reranked, anything else passes
// through. It is meant as the sidecar server's fallback handler, so the
// sidecar's own routes (/v1/rerank, /health, ...) keep working beside it.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeESError(w, http.StatusRequestEntityTooLarge, "content_too_long_exception", fmt.Sprintf("crossrank: request body is larger than the limit of %d bytes", tooLarge.Limit))
			return
		}
		writeESError(w, http.StatusBadRequest, "illegal_argument_exception", "crossrank: cannot read request: "+err.Error())
		return
	}
	rawPath, err := cleanPath(r)
	if err != nil {
		writeESError(w, http.StatusBadRequest, "illegal_argument_exception", "crossrank: "+err.Error())
		return
	}
	decoded, err := url.PathUnescape(rawPath)
	if err != nil {
		decoded = r.URL.Path
	}
	r = r.Clone(r.Context())
	r.RequestURI, r.URL.RawPath, r.URL.Path = rawPath, rawPath, decoded
	if r.URL.RawQuery != "" {
		r.RequestURI += "?" + r.URL.RawQuery
	}
	target, isSearch := searchTarget(decoded)
	if isSearch && (r.Method == http.MethodPost || r.Method == http.MethodGet) {
		p.search(w, r, body, target)
		return
	}
	if target, ok := msearchTarget(r.URL.Path); ok && (r.Method == http.MethodPost || r.Method == http.MethodGet) {
		p.msearch(w, r, body, target) // msearch.go
		return
	}
	p.pass(w, r, body, r.URL.RawQuery, "")
}

// cleanPath returns the request's path as sent (percent-encoding kept),
// with "." and ".." segments resolved. A ".." that would climb above the
// root — and so out of the upstream's path prefix once the engine or a
// gateway normalises it — is an error, whether written plainly or encoded
// ("%2e%2e", "..%2F..", "%5C"): each segment is also checked decoded, with
// "/" and "\" inside it read as separators.
func cleanPath(r *http.Request) (string, error) {
	rawPath, _, _ := strings.Cut(r.RequestURI, "?")
	if rawPath == "" || rawPath[0] != '/' {
		rawPath = r.URL.EscapedPath()
	}
	if rawPath == "" {
		rawPath = "/"
	}
	escape := fmt.Errorf("path %q leaves the root: \"..\" segments that climb above / are not forwarded", rawPath)
	segs := strings.Split(rawPath[1:], "/")
	out := make([]string, 0, len(segs))
	depth := 0
	for i, seg := range segs {
		dec, err := url.PathUnescape(seg)
		if err != nil {
			return "", fmt.Errorf("path %q: bad percent-encoding: %w", rawPath, err)
		}
		switch dec {
		case ".":
			if i == len(segs)-1 {
				out = append(out, "")
			}
			continue
		case "..":
			if len(out) == 0 {
				return "", escape
			}
			out = out[:len(out)-1]
			depth--
			if i == len(segs)-1 {
				out = append(out, "")
			}
			continue
		}
		// A segment hiding separators: walk its parts on their own depth.
		if strings.ContainsAny(dec, "/\\") {
			d := depth
			for _, part := range strings.FieldsFunc(dec, func(r rune) bool { return r == '/' || r == '\\' }) {
				switch part {
				case "..":
					if d--; d < 0 {
						return "", escape
					}
				case ".":
				default:
					d++
				}
			}
		}
		out = append(out, seg)
		depth++
	}
	return "/" + strings.Join(out, "/"), nil
}

// searchTarget says whether a path is a search ("/_search" or
// "/{target}/_search") and returns its target.
func searchTarget(p string) (string, bool) {
	p = strings.TrimSuffix(p, "/")
	if p == "/_search" {
		return "", true
	}
	rest, ok := strings.CutSuffix(p, "/_search")
	if !ok || !strings.HasPrefix(rest, "/") || strings.Count(rest, "/") != 1 || len(rest) < 2 {
		return "", false
	}
	return rest[1:], true
}

// defaults returns the index defaults that apply to a target.
func (p *Proxy) defaults(target string) (IndexDefaults, bool) {
	if d, ok := p.cfg.Indices[target]; ok {
		return d, true
	}
	for _, pat := range p.patterns {
		if ok, _ := path.Match(pat, target); ok {
			return p.cfg.Indices[pat], true
		}
	}
	return IndexDefaults{}, false
}

// newUpstreamRequest copies the client's request for the upstream: same
// method, path (after the upstream's prefix), query, headers and body, with
// hop-by-hop headers dropped and Host set to the upstream's.
func (p *Proxy) newUpstreamRequest(r *http.Request, body []byte, query string) *fasthttp.Request {
	req := fasthttp.AcquireRequest()
	// Headers named by Connection are hop-by-hop too (RFC 9110 §7.6.1).
	listed := map[string]bool{}
	for _, v := range r.Header.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			listed[http.CanonicalHeaderKey(strings.TrimSpace(name))] = true
		}
	}
	for k, vs := range r.Header {
		// Framing is the proxy's own (the body was read whole), Expect was
		// answered by the sidecar, and X-Api-Key is the sidecar's key.
		if k == "Content-Length" || k == "Transfer-Encoding" || k == "Expect" || k == HeaderAPIKey || listed[k] {
			continue
		}
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	for _, h := range hopHeaders {
		req.Header.Del(h)
	}
	req.Header.SetMethod(r.Method)
	uri := p.base + p.prefix + r.URL.RawPath // cleanPath's, set by ServeHTTP
	if query != "" {
		uri += "?" + query
	}
	req.SetRequestURI(uri)
	req.Header.SetHost(p.host)
	xff, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		xff = r.RemoteAddr
	}
	if prior := r.Header.Get("X-Forwarded-For"); prior != "" {
		xff = prior + ", " + xff
	}
	req.Header.Set("X-Forwarded-For", xff)
	req.SetBodyRaw(body)
	return req
}

// hopHeaders are connection-level headers a proxy must not forward (RFC 9110
// §7.6.1).
var hopHeaders = [...]string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// pass forwards a request as it is and streams the answer back; skip, when
// set, is the X-Crossrank-Rerank reason a search was not reranked.
func (p *Proxy) pass(w http.ResponseWriter, r *http.Request, body []byte, query, skip string) {
	req := p.newUpstreamRequest(r, body, query)
	defer fasthttp.ReleaseRequest(req)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	resp.StreamBody = true
	head := r.Method == http.MethodHead
	resp.SkipBody = head
	span := p.startUpstream(r.Context(), r.Method, req)
	if err := p.client.DoTimeout(req, resp, p.cfg.Timeout); err != nil {
		span.end(0, err)
		p.upstreamError(w, err)
		return
	}
	defer span.end(resp.StatusCode(), nil) // after the streamed body
	defer resp.CloseBodyStream()           //nolint:errcheck
	copyResponseHeader(w, resp)
	if skip != "" {
		w.Header().Set(HeaderRerank, "skipped; "+skip)
	}
	w.WriteHeader(resp.StatusCode())
	if head {
		return
	}
	_ = resp.BodyWriteTo(flushWriter{w})
}

// flushWriter flushes after every write, so a streamed answer reaches the
// client as the upstream sends it.
type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(b []byte) (int, error) {
	n, err := f.w.Write(b)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}

func copyResponseHeader(w http.ResponseWriter, resp *fasthttp.Response) {
	h := w.Header()
	for k, v := range resp.Header.All() {
		h.Add(string(k), string(v))
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

// plan is what one search asks for.
type plan struct {
	rerank bool
	skip   string // why a search is forwarded without reranking
	body   []byte // the body to forward
	query  string // the query string to forward
	from   int
	size   int
	window int
	req    rerank.Request // without documents: those come from the hits
}

// search handles GET|POST /{target}/_search.
func (p *Proxy) search(w http.ResponseWriter, r *http.Request, body []byte, target string) {
	p.nameSearch(r)
	pl, err := p.plan(r, body, target)
	if err != nil {
		writeESError(w, http.StatusBadRequest, "illegal_argument_exception", "crossrank: "+err.Error())
		return
	}
	if !pl.rerank {
		if pl.body != nil {
			body = pl.body
		}
		p.pass(w, r, body, r.URL.RawQuery, pl.skip)
		return
	}

	req := p.newUpstreamRequest(r, pl.body, pl.query)
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetContentType("application/json")
	req.Header.Del("Accept-Encoding") // the body is read and rewritten here
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	span := p.startUpstream(r.Context(), r.Method, req)
	err = p.client.DoTimeout(req, resp, p.cfg.Timeout)
	span.end(resp.StatusCode(), err)
	if err != nil {
		p.upstreamError(w, err)
		return
	}
	if resp.StatusCode() != http.StatusOK || len(resp.Header.ContentEncoding()) > 0 {
		// The engine's own answer (an error, or nothing we can read), as it is.
		copyResponseHeader(w, resp)
		w.WriteHeader(resp.StatusCode())
		_, _ = w.Write(resp.Body())
		return
	}
	out, err := p.rerank(r.Context(), resp.Body(), pl)
	var bad badAnswer
	if errors.As(err, &bad) {
		// The engine said 200 but sent something that is not a search
		// response: the gateway's fault, not the client's.
		p.cfg.Logger.Error("upstream answered garbage", "upstream", p.Upstream(), "err", err)
		writeESError(w, http.StatusBadGateway, "crossrank_rerank_exception", "crossrank: upstream "+p.Upstream()+" answered 200 with "+bad.Error())
		return
	}
	if err != nil {
		e := api.ErrorOf(err)
		typ := "crossrank_rerank_exception"
		if e.Status == http.StatusGatewayTimeout {
			typ = "timeout_exception"
		}
		if e.Status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		if e.Status >= 500 {
			p.cfg.Logger.Error("rerank failed", "upstream", p.Upstream(), "err", err)
		}
		writeESError(w, e.Status, typ, "crossrank: rerank: "+e.Message)
		return
	}
	copyResponseHeader(w, resp)
	h := w.Header()
	h.Del("Content-Length")
	h.Set(HeaderRerank, "applied; window="+strconv.Itoa(pl.window))
	h.Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// rerank ranks the window's hits of an upstream response and writes the
// page the client asked for.
func (p *Proxy) rerank(ctx context.Context, body []byte, pl *plan) ([]byte, error) {
	resp, err := hits.Parse(body, pl.window)
	if err != nil {
		return nil, badAnswer{err}
	}
	var res *rerank.Result
	if docs := resp.Documents(); len(docs) > 0 {
		rctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
		defer cancel()
		req := pl.req
		req.Documents, req.DocumentsField = docs, hits.DocumentsField
		if res, err = p.rr.Score(rctx, req); err != nil {
			return nil, err
		}
	}
	return resp.Append(make([]byte, 0, len(body)), res, pl.from, pl.size), nil
}

// badAnswer is a 200 from the upstream that is not a search response.
type badAnswer struct{ err error }

func (b badAnswer) Error() string { return "a body that is not a search response: " + b.err.Error() }
func (b badAnswer) Unwrap() error { return b.err }

// extRerank is the body's ext.rerank section.
type extRerank struct {
	Query    *string  `json:"query"`
	Fields   []string `json:"fields"`
	Window   *int     `json:"window"`
	Pipeline *string  `json:"pipeline"`
	Model    *string  `json:"model"`
	// Cascade names a configured cascade, or gives its stages inline
	// (as in the HTTP API); it replaces the default model.
	Cascade api.Cascade `json:"cascade"`
	Enabled *bool       `json:"enabled"`
}

// errSkip carries why a search is forwarded without reranking.
type errSkip string

func (e errSkip) Error() string { return string(e) }

// plan reads a search request and decides what to forward and whether to
// rerank.
func (p *Proxy) plan(r *http.Request, body []byte, target string) (*plan, error) {
	pl := &plan{query: r.URL.RawQuery}
	err := p.planRerank(r.URL.RawQuery, body, target, pl)
	var skip errSkip
	if errors.As(err, &skip) {
		pl.rerank, pl.skip = false, string(skip)
		return pl, nil
	}
	if err != nil {
		return nil, err
	}
	return pl, nil
}

// planRerank fills pl for a search to rerank; an errSkip says why not.
func (p *Proxy) planRerank(rawQuery string, body []byte, target string, pl *plan) error {
	def, hasDef := p.defaults(target)
	if len(bytes.TrimSpace(body)) == 0 {
		return errSkip("no body")
	}
	obj, err := rawjson.ParseObject(body)
	if err != nil {
		return errSkip("body is not a JSON object") // the engine answers with its own parse error
	}
	ext, obj, err := readExt(obj)
	if err != nil {
		return err
	}
	hasExt := ext != nil
	if !hasExt && !hasDef {
		return errSkip("no ext.rerank and no defaults for this index")
	}
	if hasExt && ext.Enabled != nil && !*ext.Enabled {
		pl.body = obj.AppendTo(nil)
		return errSkip("ext.rerank.enabled is false")
	}
	query, err := queryText(body, ext, def)
	if err != nil {
		return err
	}
	args, _ := url.ParseQuery(rawQuery)
	if args.Has("scroll") || obj.Index("search_after") >= 0 {
		if hasExt {
			return errors.New("ext.rerank cannot be combined with scroll or search_after: rerank the first page, or page with from/size")
		}
		return errSkip("scroll or search_after")
	}
	from, size, err := page(obj, args)
	if err != nil {
		return err
	}
	limit := int64(DefaultMaxResultWindow)
	if def.MaxResultWindow > 0 {
		limit = int64(def.MaxResultWindow)
	}
	// Elasticsearch's own rule, in int64 and checked before any sum can
	// overflow: from + size must not pass the index's max_result_window.
	if from > limit || size > limit || from+size > limit {
		return fmt.Errorf("Result window is too large, from + size must be less than or equal to: [%d] but was [%s]. See the index.max_result_window setting", limit, sumString(from, size))
	}
	if size == 0 {
		pl.body = obj.AppendTo(nil)
		return errSkip("size is 0")
	}
	window, err := p.window(ext, def)
	if err != nil {
		return err
	}
	if int64(window) > limit {
		return fmt.Errorf("ext.rerank.window: %d is more than the index's max_result_window of %d", window, limit)
	}
	fetch := max(window, int(from+size))
	obj = obj.Set("from", json.RawMessage("0")).Set("size", json.RawMessage(strconv.Itoa(fetch)))
	if args.Has("from") || args.Has("size") {
		pl.query = withoutParams(rawQuery, "from", "size")
	}
	pl.rerank, pl.body, pl.from, pl.size, pl.window = true, obj.AppendTo(nil), int(from), int(size), window
	pl.req = p.request(query, ext, def)
	return nil
}

// readExt reads and removes the body's ext.rerank section (nil when there
// is none).
func readExt(obj rawjson.Object) (*extRerank, rawjson.Object, error) {
	rawExt, ok := obj.Get("ext")
	if !ok {
		return nil, obj, nil
	}
	extObj, err := rawjson.ParseObject(rawExt)
	if err != nil {
		return nil, obj, nil
	}
	raw, ok := extObj.Get("rerank")
	if !ok {
		return nil, obj, nil
	}
	if ro, err := rawjson.ParseObject(raw); err == nil && ro.Index("query_context") >= 0 {
		// OpenSearch's own rerank processor: not ours.
		return nil, obj, errSkip("ext.rerank.query_context belongs to an OpenSearch search pipeline")
	}
	var ext extRerank
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ext); err != nil {
		return nil, obj, fmt.Errorf("ext.rerank: %v (want {\"query\": string, \"fields\": [string], \"window\": int, \"pipeline\": string, \"model\": string, \"cascade\": string or [{\"model\", \"keep\"}], \"enabled\": bool})", err)
	}
	extObj = extObj.Remove("rerank")
	if len(extObj) == 0 {
		obj = obj.Remove("ext")
	} else {
		obj = obj.Set("ext", extObj.AppendTo(nil))
	}
	return &ext, obj, nil
}

// queryText finds the text to rerank against: ext.rerank.query, or the
// index's query path into the query DSL.
func queryText(body []byte, ext *extRerank, def IndexDefaults) (string, error) {
	hasExt := ext != nil
	var query string
	switch {
	case hasExt && ext.Query != nil:
		query = *ext.Query
	case def.QueryPath != "":
		q, ok := lookupPath(body, def.QueryPath)
		if !ok && hasExt {
			return "", fmt.Errorf("ext.rerank.query is missing and the index's query_path %q finds no query text in this search", def.QueryPath)
		}
		if !ok {
			return "", errSkip("query_path " + def.QueryPath + " finds no query text")
		}
		query = q
	case hasExt:
		return "", errors.New("ext.rerank.query is missing (and the index has no query_path default)")
	default:
		return "", errSkip("the index defaults have no query_path")
	}
	if strings.TrimSpace(query) == "" {
		if hasExt {
			return "", errors.New("ext.rerank.query is empty")
		}
		return "", errSkip("empty query text")
	}
	return query, nil
}

// sumString writes from+size exactly, also past int64.
func sumString(from, size int64) string {
	if from > math.MaxInt64-size {
		return new(big.Int).Add(big.NewInt(from), big.NewInt(size)).String()
	}
	return strconv.FormatInt(from+size, 10)
}

// page reads from and size from the body, overridden by the query string,
// as int64 (the caller checks them against max_result_window).
func page(obj rawjson.Object, args url.Values) (from, size int64, err error) {
	if from, err = intMember(obj, "from", 0); err != nil {
		return 0, 0, err
	}
	if size, err = intMember(obj, "size", 10); err != nil {
		return 0, 0, err
	}
	for name, dst := range map[string]*int64{"from": &from, "size": &size} {
		if args.Has(name) {
			v := args.Get(name)
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return 0, 0, fmt.Errorf("%s=%s in the query string is not a non-negative integer", name, v)
			}
			*dst = n
		}
	}
	return from, size, nil
}

// window is the number of hits to rerank: ext.rerank.window, else the
// index's, else the proxy's.
func (p *Proxy) window(ext *extRerank, def IndexDefaults) (int, error) {
	window := p.cfg.Window
	if def.Window > 0 {
		window = def.Window
	}
	if ext != nil && ext.Window != nil {
		if *ext.Window <= 0 {
			return 0, fmt.Errorf("ext.rerank.window: %d must be positive", *ext.Window)
		}
		window = *ext.Window
	}
	return window, nil
}

// withoutParams drops the named parameters from a raw query string and
// keeps the rest byte for byte.
func withoutParams(rawQuery string, names ...string) string {
	var kept []string
	for _, part := range strings.Split(rawQuery, "&") {
		key, _, _ := strings.Cut(part, "=")
		if k, err := url.QueryUnescape(key); err == nil && slices.Contains(names, k) {
			continue
		}
		if part != "" {
			kept = append(kept, part)
		}
	}
	return strings.Join(kept, "&")
}

// request is the engine request for a search, without its documents.
func (p *Proxy) request(query string, ext *extRerank, def IndexDefaults) rerank.Request {
	req := rerank.Request{Query: query, RankFields: def.Fields, Pipeline: def.Pipeline, Model: p.cfg.Model}
	if ext == nil {
		return req
	}
	if ext.Fields != nil {
		req.RankFields = ext.Fields
	}
	if ext.Pipeline != nil {
		req.Pipeline = *ext.Pipeline
	}
	if ext.Cascade.Name != "" || ext.Cascade.Stages != nil {
		req.Model, req.Cascade, req.CascadeStages = "", ext.Cascade.Name, ext.Cascade.Stages
	}
	if ext.Model != nil {
		req.Model = *ext.Model
	}
	return req
}

// upstreamError answers for an upstream that could not be reached or did
// not answer in time, with an error body shaped like the engine's.
func (p *Proxy) upstreamError(w http.ResponseWriter, err error) {
	p.cfg.Logger.Error("upstream failed", "upstream", p.Upstream(), "err", err)
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		writeESError(w, http.StatusBadGateway, "crossrank_response_too_large_exception",
			fmt.Sprintf("crossrank: the upstream's search answer is larger than the %d bytes the proxy reads to rerank: lower size or the window", p.cfg.MaxResponseBytes))
		return
	}
	if errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		writeESError(w, http.StatusGatewayTimeout, "timeout_exception",
			fmt.Sprintf("crossrank: upstream %s did not answer within %s", p.Upstream(), p.cfg.Timeout))
		return
	}
	writeESError(w, http.StatusBadGateway, "upstream_connect_exception",
		fmt.Sprintf("crossrank: upstream %s: %v", p.Upstream(), err))
}

// writeESError writes an error body in Elasticsearch/OpenSearch's shape:
// {"error":{"root_cause":[{"type","reason"}],"type","reason"},"status"}.
func writeESError(w http.ResponseWriter, status int, typ, reason string) {
	cause := map[string]string{"type": typ, "reason": reason}
	b, _ := json.Marshal(map[string]any{
		"error":  map[string]any{"root_cause": []any{cause}, "type": typ, "reason": reason},
		"status": status,
	})
	h := w.Header()
	h.Del("Content-Length")
	h.Del("Content-Encoding")
	h.Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
