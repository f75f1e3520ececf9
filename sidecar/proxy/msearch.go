package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/crossrank/crossrank/sidecar/internal/rawjson"
)

// _msearch: `GET|POST /_msearch` and `/{target}/_msearch`, an NDJSON body of
// header/body line pairs. When no search in it asks for a rerank (no
// ext.rerank in any body, no index defaults for any target) the request
// passes through untouched. Otherwise each search goes through the proxy's
// single-search path (Proxy.search: ext.rerank, defaults, the window and the
// page) as its own upstream _search, run a few at a time, and the answers
// are put together in the engine's _msearch shape, in request order: a
// successful search is its response plus "status": 200, a failed one the
// engine's (or the proxy's) error body with its status, so one failing
// search never fails the others. A body that is not NDJSON header/body
// pairs of JSON objects is a 400 in the engine's error shape naming the
// line.

// msearchItem is one header/body pair of an _msearch body.
type msearchItem struct {
	line   int // 1-based line of the header
	target string
	query  string // query string for this search's _search
	body   []byte
}

// msearchTarget says whether a path is an _msearch ("/_msearch" or
// "/{target}/_msearch") and returns its target.
func msearchTarget(p string) (string, bool) {
	p = strings.TrimSuffix(p, "/")
	if p == "/_msearch" {
		return "", true
	}
	rest, ok := strings.CutSuffix(p, "/_msearch")
	if !ok || !strings.HasPrefix(rest, "/") || strings.Count(rest, "/") != 1 || len(rest) < 2 {
		return "", false
	}
	return rest[1:], true
}

// msearchParams are the _msearch URL parameters that do not apply to each
// search.
var msearchParams = map[string]bool{"max_concurrent_searches": true}

// maxConcurrentSearches bounds the searches of one _msearch in flight.
const maxConcurrentSearches = 8

// parseMsearch splits an _msearch body into its searches. defaultTarget is
// the path's target; base holds the URL parameters every search gets.
func parseMsearch(body []byte, defaultTarget string, base *fasthttp.Args) ([]msearchItem, error) {
	lines := bytes.Split(body, []byte{'\n'})
	// A final newline leaves one empty element; trailing blank lines are
	// allowed.
	for len(lines) > 0 && len(bytes.TrimSpace(lines[len(lines)-1])) == 0 {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("_msearch body is empty: want NDJSON header/body line pairs")
	}
	var items []msearchItem
	for i := 0; i < len(lines); i += 2 {
		hdrLine := bytes.TrimSpace(lines[i])
		it := msearchItem{line: i + 1, target: defaultTarget}
		args := fasthttp.AcquireArgs()
		base.CopyTo(args)
		if len(hdrLine) > 0 {
			hdr, err := rawjson.ParseObject(hdrLine)
			if err != nil {
				fasthttp.ReleaseArgs(args)
				return nil, fmt.Errorf("_msearch line %d: the header is not a JSON object: %v", i+1, err)
			}
			for _, m := range hdr {
				v, err := headerValue(m.Val)
				if err != nil {
					fasthttp.ReleaseArgs(args)
					return nil, fmt.Errorf("_msearch line %d: header %q: %v", i+1, m.Name, err)
				}
				if m.Name == "index" {
					it.target = v
					continue
				}
				args.Set(m.Name, v)
			}
		}
		it.query = args.String()
		fasthttp.ReleaseArgs(args)
		if i+1 >= len(lines) {
			return nil, fmt.Errorf("_msearch line %d: a header without a search body (want header/body line pairs)", i+1)
		}
		b := bytes.TrimSpace(lines[i+1])
		if len(b) == 0 {
			return nil, fmt.Errorf("_msearch line %d: empty search body", i+2)
		}
		if _, err := rawjson.ParseObject(b); err != nil {
			return nil, fmt.Errorf("_msearch line %d: the search body is not a JSON object: %v", i+2, err)
		}
		it.body = b
		items = append(items, it)
	}
	return items, nil
}

// headerValue renders an _msearch header value as a URL parameter: strings
// as they are, arrays of strings joined with ",", numbers and booleans as
// written.
func headerValue(raw json.RawMessage) (string, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case bool, float64:
		return string(bytes.TrimSpace(raw)), nil
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return "", fmt.Errorf("want a string or an array of strings, got %s", raw)
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("want a string, number, boolean or array of strings, got %s", raw)
}

// wantsRerank says whether a search of an _msearch is the proxy's: its body
// has an ext.rerank section or its target has defaults.
func (p *Proxy) wantsRerank(it msearchItem) bool {
	if _, ok := p.defaults(it.target); ok {
		return true
	}
	obj, err := rawjson.ParseObject(it.body)
	if err != nil {
		return false
	}
	rawExt, ok := obj.Get("ext")
	if !ok {
		return false
	}
	ext, err := rawjson.ParseObject(rawExt)
	if err != nil {
		return false
	}
	_, ok = ext.Get("rerank")
	return ok
}

// msearch handles GET|POST /{target}/_msearch.
func (p *Proxy) msearch(ctx *fasthttp.RequestCtx, target string) {
	start := time.Now()
	base := fasthttp.AcquireArgs()
	defer fasthttp.ReleaseArgs(base)
	ctx.QueryArgs().CopyTo(base)
	limit := maxConcurrentSearches
	if v := base.Peek("max_concurrent_searches"); v != nil {
		n, err := strconv.Atoi(string(v))
		if err != nil || n <= 0 {
			writeESError(ctx, http.StatusBadRequest, "illegal_argument_exception",
				fmt.Sprintf("crossrank: max_concurrent_searches=%s is not a positive integer", v))
			return
		}
		limit = min(n, limit)
	}
	for k := range msearchParams {
		base.Del(k)
	}
	items, err := parseMsearch(ctx.Request.Body(), target, base)
	if err != nil {
		writeESError(ctx, http.StatusBadRequest, "illegal_argument_exception", "crossrank: "+err.Error())
		return
	}
	rerankAny := false
	for _, it := range items {
		if p.wantsRerank(it) {
			rerankAny = true
			break
		}
	}
	if !rerankAny {
		p.pass(ctx)
		ctx.Response.Header.Set(HeaderRerank, "skipped; no search asks for a rerank")
		return
	}

	out := make([]msearchResult, len(items))
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = p.msearchOne(ctx, it)
		}()
	}
	wg.Wait()

	n, unauthorized, gateway := 0, 0, 0
	for _, r := range out {
		if r.applied {
			n++
		}
		switch r.status {
		case http.StatusUnauthorized:
			unauthorized++
		case http.StatusBadGateway, http.StatusGatewayTimeout:
			if r.status == out[0].status {
				gateway++
			}
		}
	}
	if gateway == len(out) {
		// An engine that is down or silent fails the whole request with the
		// same engine-shaped 502 or 504 a single search gets.
		ctx.Response.Reset()
		ctx.SetStatusCode(out[0].status)
		ctx.SetContentType("application/json; charset=UTF-8")
		ctx.SetBody(out[0].raw)
		return
	}
	if unauthorized == len(out) {
		// Credentials the engine refuses fail the whole request, as the
		// engine's own _msearch does: its 401, with its challenge.
		ctx.Response.Reset()
		ctx.SetStatusCode(http.StatusUnauthorized)
		ctx.SetContentType("application/json; charset=UTF-8")
		for _, v := range out[0].challenge {
			ctx.Response.Header.Add("WWW-Authenticate", v)
		}
		ctx.SetBody(out[0].raw)
		return
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"took":%d,"responses":[`, time.Since(start).Milliseconds())
	for i, r := range out {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(r.body)
	}
	b.WriteString("]}")
	ctx.Response.Reset()
	ctx.SetStatusCode(http.StatusOK)
	ctx.SetContentType("application/json; charset=UTF-8")
	ctx.Response.Header.Set(HeaderRerank, fmt.Sprintf("msearch; applied=%d of %d", n, len(items)))
	ctx.SetBody(b.Bytes())
}

// msearchResult is one search's _msearch response item.
type msearchResult struct {
	body      []byte // the item: the search's response with its status
	raw       []byte // the search's response body as it came
	status    int
	applied   bool     // reranked
	challenge []string // the engine's WWW-Authenticate values on a 401
}

// msearchOne runs one search of an _msearch through the single-search path
// and returns its _msearch response item.
func (p *Proxy) msearchOne(parent *fasthttp.RequestCtx, it msearchItem) msearchResult {
	var req fasthttp.Request
	parent.Request.Header.CopyTo(&req.Header)
	req.Header.Del("Content-Length")
	req.Header.Del("Accept-Encoding") // the answer is read and embedded here
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	uri := "/_search"
	if it.target != "" {
		uri = "/" + it.target + "/_search"
	}
	if it.query != "" {
		uri += "?" + it.query
	}
	req.SetRequestURI(uri)
	req.SetBody(it.body)
	var c fasthttp.RequestCtx
	c.Init(&req, parent.RemoteAddr(), nil)
	target, ok := searchTarget(string(c.Path()))
	if !ok {
		return msearchResult{status: http.StatusBadRequest, body: errorItem(http.StatusBadRequest, "illegal_argument_exception",
			fmt.Sprintf("crossrank: _msearch line %d: index %q is not a valid search target", it.line, it.target))}
	}
	p.search(&c, target)
	r := msearchResult{status: c.Response.StatusCode()}
	body := bytes.TrimSpace(c.Response.Body())
	r.applied = strings.HasPrefix(string(c.Response.Header.Peek(HeaderRerank)), "applied")
	for _, v := range c.Response.Header.PeekAll("WWW-Authenticate") {
		r.challenge = append(r.challenge, string(v))
	}
	obj, err := rawjson.ParseObject(body)
	if err != nil {
		r.status = http.StatusBadGateway
		r.body = errorItem(http.StatusBadGateway, "crossrank_rerank_exception",
			fmt.Sprintf("crossrank: _msearch line %d: the engine answered %d with a body that is not a JSON object", it.line, c.Response.StatusCode()))
		return r
	}
	r.raw = append([]byte(nil), body...)
	if obj.Index("status") < 0 {
		obj = obj.Set("status", json.RawMessage(strconv.Itoa(r.status)))
	}
	r.body = obj.AppendTo(make([]byte, 0, len(body)+16))
	return r
}

// errorItem is an _msearch response item for a search that failed here.
func errorItem(status int, typ, reason string) []byte {
	cause := map[string]string{"type": typ, "reason": reason}
	b, _ := json.Marshal(map[string]any{
		"error":  map[string]any{"root_cause": []any{cause}, "type": typ, "reason": reason},
		"status": status,
	})
	return b
}
