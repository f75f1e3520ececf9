// Package proxy is the sidecar's _search proxy mode (`crossrank serve
// --upstream URL`): it stands in front of one Elasticsearch or OpenSearch
// cluster, forwards every request to it, and reranks the hits of
// `GET|POST /{index}/_search` by cross-encoder score.
//
// A search is reranked when its body carries an
// `"ext": {"rerank": {"query": ..., "fields": [...], "window": N, "pipeline": ...}}`
// section, or when the index has defaults (Config.Indices) whose query path
// finds the query text in the query DSL. The proxy removes ext.rerank before
// forwarding (the engines reject unknown ext sections), asks the engine for
// max(window, from+size) hits from the top, reorders the first window hits
// (rerank.RerankHits: _score rewritten, the original in
// _rerank.original_score, max_score updated, later hits unchanged) and cuts
// the page (from, size) out of the result.
//
// Everything else passes through unchanged: method, path, query string,
// headers (Authorization included), body, and the engine's answer — status,
// headers and body, streamed. Upstream errors come back as the engine sent
// them and are never reranked; an upstream that cannot be reached or does not
// answer in time gets an error body shaped like the engine's own (502, 504).
// The upstream is fixed by configuration: a request can never choose where
// it goes.
package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/crossrank/crossrank/sidecar/config"
	"github.com/crossrank/crossrank/sidecar/internal/rawjson"
	"github.com/crossrank/crossrank/sidecar/rerank"
)

// Reranker reorders the first opts.Window hits of a _search response.
type Reranker interface {
	RerankHits(ctx context.Context, searchResponse []byte, opts rerank.HitsOptions) ([]byte, error)
}

// RerankerFunc adapts a function to Reranker.
type RerankerFunc func(ctx context.Context, searchResponse []byte, opts rerank.HitsOptions) ([]byte, error)

// RerankHits calls f.
func (f RerankerFunc) RerankHits(ctx context.Context, b []byte, o rerank.HitsOptions) ([]byte, error) {
	return f(ctx, b, o)
}

// EngineReranker reranks with rerank.RerankHits on e.
func EngineReranker(e *rerank.Engine) Reranker {
	return RerankerFunc(func(ctx context.Context, b []byte, o rerank.HitsOptions) ([]byte, error) {
		return rerank.RerankHits(ctx, e, b, o)
	})
}

// Header names the proxy sets on a search it handled.
const (
	// HeaderRerank is "applied; window=N" on a reranked search, or
	// "skipped; REASON" when a search was forwarded without reranking.
	HeaderRerank = "X-Crossrank-Rerank"
)

// Defaults of Config.
const (
	DefaultWindow  = 50
	DefaultTimeout = 60 * time.Second
)

// Config configures a Proxy.
type Config struct {
	// Upstream is the engine's base URL, http or https, with an optional
	// path prefix (http://es:9200, https://gw.example/search).
	Upstream string
	// Indices holds per-index rerank defaults. Keys are index names or
	// path.Match patterns ("logs-*", "*") matched against the search's
	// target as written in its path ("a,b" for a multi-index search); an
	// exact key wins over patterns, and patterns are tried in sorted order.
	Indices map[string]config.IndexDefaults
	// Window is the window when neither ext.rerank nor the index sets one
	// (default DefaultWindow).
	Window int
	// Model is the model that scores (empty: the engine's default).
	Model string
	// Timeout bounds each upstream exchange and each rerank (default
	// DefaultTimeout); for streamed answers it is the longest pause between
	// reads.
	Timeout time.Duration
	// MaxConns bounds connections to the upstream (default 512).
	MaxConns int
	// TLSConfig is used for an https upstream (nil: the system's roots,
	// which honour SSL_CERT_FILE and SSL_CERT_DIR).
	TLSConfig *tls.Config
}

// Proxy forwards requests to the upstream and reranks searches.
type Proxy struct {
	cfg      Config
	rr       Reranker
	base     string // scheme://host[:port]
	prefix   string // path prefix, no trailing slash
	host     string // Host header for the upstream
	client   *fasthttp.HostClient
	patterns []string
}

// New returns a Proxy for cfg that reranks with rr.
func New(cfg Config, rr Reranker) (*Proxy, error) {
	if rr == nil {
		return nil, errors.New("proxy: nil reranker")
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
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 512
	}
	p := &Proxy{cfg: cfg, rr: rr, host: u.Host, prefix: strings.TrimSuffix(u.EscapedPath(), "/")}
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

// Handler serves one request: a search is reranked, anything else passes
// through. It is meant as the sidecar server's fallback handler, so the
// sidecar's own routes (/v1/rerank, /health, ...) keep working beside it.
func (p *Proxy) Handler(ctx *fasthttp.RequestCtx) {
	target, isSearch := searchTarget(string(ctx.Path()))
	if isSearch && (ctx.IsPost() || ctx.IsGet()) {
		p.search(ctx, target)
		return
	}
	if target, ok := msearchTarget(string(ctx.Path())); ok && (ctx.IsPost() || ctx.IsGet()) {
		p.msearch(ctx, target) // msearch.go
		return
	}
	p.pass(ctx)
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
func (p *Proxy) defaults(target string) (config.IndexDefaults, bool) {
	if d, ok := p.cfg.Indices[target]; ok {
		return d, true
	}
	for _, pat := range p.patterns {
		if ok, _ := path.Match(pat, target); ok {
			return p.cfg.Indices[pat], true
		}
	}
	return config.IndexDefaults{}, false
}

// newUpstreamRequest copies the client's request for the upstream: same
// method, path (after the upstream's prefix), query, headers and body, with
// hop-by-hop headers dropped and Host set to the upstream's.
func (p *Proxy) newUpstreamRequest(ctx *fasthttp.RequestCtx, query string) *fasthttp.Request {
	req := fasthttp.AcquireRequest()
	ctx.Request.Header.CopyTo(&req.Header)
	for _, h := range hopHeaders {
		req.Header.Del(h)
	}
	uri := p.base + p.prefix + string(ctx.Request.URI().PathOriginal())
	if query != "" {
		uri += "?" + query
	}
	req.SetRequestURI(uri)
	req.Header.SetHost(p.host)
	xff := ctx.RemoteIP().String()
	if prior := ctx.Request.Header.Peek("X-Forwarded-For"); len(prior) > 0 {
		xff = string(prior) + ", " + xff
	}
	req.Header.Set("X-Forwarded-For", xff)
	req.SetBodyRaw(ctx.Request.Body())
	return req
}

// hopHeaders are connection-level headers a proxy must not forward (RFC 9110
// §7.6.1).
var hopHeaders = [...]string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// pass forwards a request as it is and streams the answer back.
func (p *Proxy) pass(ctx *fasthttp.RequestCtx) {
	req := p.newUpstreamRequest(ctx, string(ctx.URI().QueryString()))
	defer fasthttp.ReleaseRequest(req)
	resp := fasthttp.AcquireResponse()
	resp.StreamBody = true
	if ctx.IsHead() {
		resp.SkipBody = true
	}
	if err := p.client.DoTimeout(req, resp, p.cfg.Timeout); err != nil {
		fasthttp.ReleaseResponse(resp)
		p.upstreamError(ctx, err)
		return
	}
	copyResponseHeader(ctx, resp)
	if ctx.IsHead() {
		fasthttp.ReleaseResponse(resp)
		ctx.Response.SkipBody = true
		return
	}
	ctx.Response.SetBodyStream(&upstreamBody{resp: resp}, resp.Header.ContentLength())
}

// upstreamBody streams an upstream response's body and releases the response
// when the server is done with it.
type upstreamBody struct{ resp *fasthttp.Response }

func (b *upstreamBody) Read(p []byte) (int, error) { return b.resp.BodyStream().Read(p) }

func (b *upstreamBody) Close() error {
	err := b.resp.CloseBodyStream()
	fasthttp.ReleaseResponse(b.resp)
	return err
}

var _ io.ReadCloser = (*upstreamBody)(nil)

func copyResponseHeader(ctx *fasthttp.RequestCtx, resp *fasthttp.Response) {
	resp.Header.CopyTo(&ctx.Response.Header)
	for _, h := range hopHeaders {
		ctx.Response.Header.Del(h)
	}
}

// plan is what one search asks for.
type plan struct {
	rerank    bool
	skip      string // why a search is forwarded without reranking
	body      []byte // the body to forward
	query     string // the query string to forward
	from      int
	size      int
	window    int
	rerankOpt rerank.HitsOptions
}

// search handles GET|POST /{target}/_search.
func (p *Proxy) search(ctx *fasthttp.RequestCtx, target string) {
	pl, err := p.plan(ctx, target)
	if err != nil {
		writeESError(ctx, http.StatusBadRequest, "illegal_argument_exception", "crossrank: "+err.Error())
		return
	}
	if !pl.rerank {
		if pl.body != nil {
			ctx.Request.SetBodyRaw(pl.body)
		}
		p.pass(ctx)
		ctx.Response.Header.Set(HeaderRerank, "skipped; "+pl.skip)
		return
	}

	req := p.newUpstreamRequest(ctx, pl.query)
	defer fasthttp.ReleaseRequest(req)
	req.SetBodyRaw(pl.body)
	req.Header.SetContentType("application/json")
	req.Header.Del("Accept-Encoding") // the body is read and rewritten here
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	if err := p.client.DoTimeout(req, resp, p.cfg.Timeout); err != nil {
		p.upstreamError(ctx, err)
		return
	}
	if resp.StatusCode() != http.StatusOK || len(resp.Header.ContentEncoding()) > 0 {
		// The engine's own answer (an error, or nothing we can read), as it is.
		copyResponseHeader(ctx, resp)
		ctx.Response.SetBody(resp.Body())
		return
	}

	rctx, cancel := context.WithTimeout(context.Background(), p.cfg.Timeout)
	defer cancel()
	out, err := p.rr.RerankHits(rctx, resp.Body(), pl.rerankOpt)
	if err != nil {
		e := rerank.AsError(err)
		typ := "crossrank_rerank_exception"
		if e.Status == http.StatusGatewayTimeout {
			typ = "timeout_exception"
		}
		writeESError(ctx, e.Status, typ, "crossrank: rerank: "+e.Message)
		if e.Status == http.StatusTooManyRequests {
			ctx.Response.Header.Set("Retry-After", "1")
		}
		return
	}
	out, err = cutPage(out, pl.from, pl.size)
	if err != nil {
		writeESError(ctx, http.StatusBadGateway, "crossrank_rerank_exception", "crossrank: "+err.Error())
		return
	}
	copyResponseHeader(ctx, resp)
	ctx.Response.Header.Del("Content-Length")
	ctx.Response.Header.Set(HeaderRerank, "applied; window="+strconv.Itoa(pl.window))
	ctx.SetStatusCode(http.StatusOK)
	ctx.SetContentType("application/json; charset=UTF-8")
	ctx.SetBody(out)
}

// extRerank is the body's ext.rerank section.
type extRerank struct {
	Query    *string  `json:"query"`
	Fields   []string `json:"fields"`
	Window   *int     `json:"window"`
	Pipeline *string  `json:"pipeline"`
	Model    *string  `json:"model"`
	Enabled  *bool    `json:"enabled"`
}

// plan reads a search request and decides what to forward and whether to
// rerank.
func (p *Proxy) plan(ctx *fasthttp.RequestCtx, target string) (*plan, error) {
	pl := &plan{query: string(ctx.URI().QueryString())}
	def, hasDef := p.defaults(target)
	body := ctx.Request.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		pl.skip = "no body"
		return pl, nil
	}
	obj, err := rawjson.ParseObject(body)
	if err != nil {
		pl.skip = "body is not a JSON object"
		return pl, nil // the engine answers with its own parse error
	}

	var ext extRerank
	hasExt := false
	if rawExt, ok := obj.Get("ext"); ok {
		extObj, err := rawjson.ParseObject(rawExt)
		if err == nil {
			if raw, ok := extObj.Get("rerank"); ok {
				if ro, err := rawjson.ParseObject(raw); err == nil && ro.Index("query_context") >= 0 {
					// OpenSearch's own rerank processor: not ours.
					pl.skip = "ext.rerank.query_context belongs to an OpenSearch search pipeline"
					return pl, nil
				}
				dec := json.NewDecoder(bytes.NewReader(raw))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&ext); err != nil {
					return nil, fmt.Errorf("ext.rerank: %v (want {\"query\": string, \"fields\": [string], \"window\": int, \"pipeline\": string, \"model\": string, \"enabled\": bool})", err)
				}
				hasExt = true
				extObj = extObj.Remove("rerank")
				if len(extObj) == 0 {
					obj = obj.Remove("ext")
				} else {
					obj = obj.Set("ext", extObj.AppendTo(nil))
				}
			}
		}
	}
	if !hasExt && !hasDef {
		pl.skip = "no ext.rerank and no defaults for this index"
		return pl, nil
	}
	if hasExt && ext.Enabled != nil && !*ext.Enabled {
		pl.skip = "ext.rerank.enabled is false"
		pl.body = obj.AppendTo(nil)
		return pl, nil
	}

	var query string
	switch {
	case hasExt && ext.Query != nil:
		query = *ext.Query
	case def.QueryPath != "":
		q, ok := lookupPath(body, def.QueryPath)
		if !ok && hasExt {
			return nil, fmt.Errorf("ext.rerank.query is missing and the index's query_path %q finds no query text in this search", def.QueryPath)
		}
		if !ok {
			pl.skip = "query_path " + def.QueryPath + " finds no query text"
			return pl, nil
		}
		query = q
	case hasExt:
		return nil, errors.New("ext.rerank.query is missing (and the index has no query_path default)")
	default:
		pl.skip = "the index defaults have no query_path"
		return pl, nil
	}
	if strings.TrimSpace(query) == "" {
		if hasExt {
			return nil, errors.New("ext.rerank.query is empty")
		}
		pl.skip = "empty query text"
		return pl, nil
	}

	args := ctx.QueryArgs()
	if args.Has("scroll") || obj.Index("search_after") >= 0 {
		if hasExt {
			return nil, errors.New("ext.rerank cannot be combined with scroll or search_after: rerank the first page, or page with from/size")
		}
		pl.skip = "scroll or search_after"
		return pl, nil
	}

	from, err := intMember(obj, "from", 0)
	if err != nil {
		return nil, err
	}
	size, err := intMember(obj, "size", 10)
	if err != nil {
		return nil, err
	}
	for name, dst := range map[string]*int{"from": &from, "size": &size} {
		if v := args.Peek(name); v != nil {
			n, err := strconv.Atoi(string(v))
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%s=%s in the query string is not a non-negative integer", name, v)
			}
			*dst = n
		}
	}
	if size == 0 {
		pl.skip = "size is 0"
		pl.body = obj.AppendTo(nil)
		return pl, nil
	}

	window := p.cfg.Window
	if def.Window > 0 {
		window = def.Window
	}
	if hasExt && ext.Window != nil {
		if *ext.Window <= 0 {
			return nil, fmt.Errorf("ext.rerank.window: %d must be positive", *ext.Window)
		}
		window = *ext.Window
	}
	opts := rerank.HitsOptions{Query: query, Fields: def.Fields, Window: window, Pipeline: def.Pipeline, Model: p.cfg.Model}
	if hasExt {
		if ext.Fields != nil {
			opts.Fields = ext.Fields
		}
		if ext.Pipeline != nil {
			opts.Pipeline = *ext.Pipeline
		}
		if ext.Model != nil {
			opts.Model = *ext.Model
		}
	}

	fetch := max(window, from+size)
	obj = obj.Set("from", json.RawMessage("0")).Set("size", json.RawMessage(strconv.Itoa(fetch)))
	if args.Has("from") || args.Has("size") {
		q := fasthttp.AcquireArgs()
		defer fasthttp.ReleaseArgs(q)
		args.CopyTo(q)
		q.Del("from")
		q.Del("size")
		pl.query = q.String()
	}
	pl.rerank, pl.body, pl.from, pl.size, pl.window, pl.rerankOpt = true, obj.AppendTo(nil), from, size, window, opts
	return pl, nil
}

// cutPage keeps hits [from, from+size) of a search response.
func cutPage(b []byte, from, size int) ([]byte, error) {
	top, err := rawjson.ParseObject(b)
	if err != nil {
		return nil, fmt.Errorf("reranked response: %w", err)
	}
	rawHits, ok := top.Get("hits")
	if !ok {
		return b, nil
	}
	hits, err := rawjson.ParseObject(rawHits)
	if err != nil {
		return nil, fmt.Errorf("reranked response hits: %w", err)
	}
	rawArr, ok := hits.Get("hits")
	if !ok {
		return b, nil
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(rawArr, &arr); err != nil {
		return nil, fmt.Errorf("reranked response hits.hits: %w", err)
	}
	lo, hi := min(from, len(arr)), min(from+size, len(arr))
	page := append([]byte{'['}, bytes.Join(rawSlices(arr[lo:hi]), []byte{','})...)
	page = append(page, ']')
	hits = hits.Set("hits", page)
	top = top.Set("hits", hits.AppendTo(nil))
	return top.AppendTo(make([]byte, 0, len(b))), nil
}

func rawSlices(in []json.RawMessage) [][]byte {
	out := make([][]byte, len(in))
	for i, r := range in {
		out[i] = r
	}
	return out
}

// upstreamError answers for an upstream that could not be reached or did
// not answer in time, with an error body shaped like the engine's.
func (p *Proxy) upstreamError(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		writeESError(ctx, http.StatusGatewayTimeout, "timeout_exception",
			fmt.Sprintf("crossrank: upstream %s did not answer within %s", p.Upstream(), p.cfg.Timeout))
		return
	}
	writeESError(ctx, http.StatusBadGateway, "upstream_connect_exception",
		fmt.Sprintf("crossrank: upstream %s: %v", p.Upstream(), err))
}

// writeESError writes an error body in Elasticsearch/OpenSearch's shape:
// {"error":{"root_cause":[{"type","reason"}],"type","reason"},"status"}.
func writeESError(ctx *fasthttp.RequestCtx, status int, typ, reason string) {
	cause := map[string]string{"type": typ, "reason": reason}
	b, _ := json.Marshal(map[string]any{
		"error":  map[string]any{"root_cause": []any{cause}, "type": typ, "reason": reason},
		"status": status,
	})
	ctx.Response.Reset()
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json; charset=UTF-8")
	ctx.SetBody(b)
}
