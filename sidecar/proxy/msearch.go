package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crossrank/crossrank/sidecar/internal/rawjson"
)

// _msearch: `GET|POST /_msearch` and `/{target}/_msearch`, an NDJSON body of
// header/body line pairs. When no search in it asks for a rerank (no
// ext.rerank in any body, no index defaults for any target) the request
// passes through untouched. Otherwise each search goes through the proxy's
// single-search path (Proxy.search: ext.rerank, defaults, the window and the
// page) as its own upstream _search, at most maxConcurrentSearches at a time
// (fewer with max_concurrent_searches), and the answers are put together in
// the engine's _msearch shape, in request order: a successful search is its
// response plus "status": 200, a failed one the engine's (or the proxy's)
// error body with its status, so one failing search never fails the others.
// A body that is not NDJSON header/body pairs of JSON objects, or that holds
// more than Config.MaxSearches searches, is a 400 in the engine's error
// shape naming the line. The body is bounded by the server's body limit
// (--max-body-bytes), and JSON nesting by encoding/json's depth limit.

// msearchItem is one header/body pair of an _msearch body.
type msearchItem struct {
	line   int    // 1-based line of the header
	target string // the search's target ("" for all indices)
	query  string // query string for this search's _search
	body   []byte // the search body (one JSON object)
	ext    bool   // the body has an ext.rerank section
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

// maxConcurrentSearches bounds the searches of one _msearch in flight.
const maxConcurrentSearches = 8

// parseMsearch splits an _msearch body into its searches. defaultTarget is
// the path's target; base holds the URL parameters every search gets.
func parseMsearch(body []byte, defaultTarget string, base url.Values) ([]msearchItem, error) {
	lines := bytes.Split(body, []byte{'\n'})
	// A final newline leaves one empty element; trailing blank lines are
	// allowed.
	for len(lines) > 0 && len(bytes.TrimSpace(lines[len(lines)-1])) == 0 {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("_msearch body is empty: want NDJSON header/body line pairs")
	}
	items := make([]msearchItem, 0, (len(lines)+1)/2)
	for i := 0; i < len(lines); i += 2 {
		hdrLine := bytes.TrimSpace(lines[i])
		it := msearchItem{line: i + 1, target: defaultTarget}
		args := url.Values{}
		for k, vs := range base {
			args[k] = append([]string(nil), vs...)
		}
		if len(hdrLine) > 0 {
			hdr, err := rawjson.ParseObject(hdrLine)
			if err != nil {
				return nil, fmt.Errorf("_msearch line %d: the header is not a JSON object: %v", i+1, err)
			}
			for _, m := range hdr {
				v, err := headerValue(m.Val)
				if err != nil {
					return nil, fmt.Errorf("_msearch line %d: header %q: %v", i+1, m.Name, err)
				}
				if m.Name == "index" {
					if v == "." || v == ".." || strings.ContainsAny(v, "/?#") || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
						return nil, fmt.Errorf("_msearch line %d: index %q is not a valid search target", i+1, v)
					}
					it.target = v
					continue
				}
				args.Set(m.Name, v)
			}
		}
		it.query = args.Encode()
		if i+1 >= len(lines) {
			return nil, fmt.Errorf("_msearch line %d: a header without a search body (want header/body line pairs)", i+1)
		}
		b := bytes.TrimSpace(lines[i+1])
		if len(b) == 0 {
			return nil, fmt.Errorf("_msearch line %d: empty search body", i+2)
		}
		obj, err := rawjson.ParseObject(b)
		if err != nil {
			return nil, fmt.Errorf("_msearch line %d: the search body is not a JSON object: %v", i+2, err)
		}
		it.body, it.ext = b, hasExtRerank(obj)
		items = append(items, it)
	}
	return items, nil
}

// hasExtRerank says whether a search body has an ext.rerank section.
func hasExtRerank(obj rawjson.Object) bool {
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
	if it.ext {
		return true
	}
	_, ok := p.defaults(it.target)
	return ok
}

// msearch handles GET|POST /{target}/_msearch.
func (p *Proxy) msearch(w http.ResponseWriter, r *http.Request, body []byte, target string) {
	start := time.Now()
	base := r.URL.Query()
	limit := maxConcurrentSearches
	if base.Has("max_concurrent_searches") {
		v := base.Get("max_concurrent_searches")
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			writeESError(w, http.StatusBadRequest, "illegal_argument_exception",
				fmt.Sprintf("crossrank: max_concurrent_searches=%s is not a positive integer", v))
			return
		}
		limit = min(n, limit)
	}
	base.Del("max_concurrent_searches") // not a _search parameter
	items, err := parseMsearch(body, target, base)
	if err != nil {
		writeESError(w, http.StatusBadRequest, "illegal_argument_exception", "crossrank: "+err.Error())
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
		p.pass(w, r, body, r.URL.RawQuery, "no search asks for a rerank")
		return
	}
	if len(items) > p.cfg.MaxSearches {
		writeESError(w, http.StatusBadRequest, "illegal_argument_exception",
			fmt.Sprintf("crossrank: _msearch line %d: the request holds %d searches, more than the limit of %d for an _msearch that asks for a rerank (split it)",
				items[p.cfg.MaxSearches].line, len(items), p.cfg.MaxSearches))
		return
	}

	ctx := r.Context()
	out := make([]msearchResult, len(items))
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
launch:
	for i, it := range items {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break launch // the client left: start nothing more
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = p.msearchOne(ctx, r, it)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return // nobody to answer
	}

	n, unauthorized, gateway := 0, 0, 0
	for _, res := range out {
		if res.applied {
			n++
		}
		switch res.status {
		case http.StatusUnauthorized:
			unauthorized++
		case http.StatusBadGateway, http.StatusGatewayTimeout:
			if res.unreachable && res.status == out[0].status {
				gateway++
			}
		}
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	if gateway == len(out) {
		// An engine that is down or silent fails the whole request with the
		// same engine-shaped 502 or 504 a single search gets.
		w.WriteHeader(out[0].status)
		_, _ = w.Write(out[0].raw)
		return
	}
	if unauthorized == len(out) {
		// Credentials the engine refuses fail the whole request, as the
		// engine's own _msearch does: its 401, with its challenge.
		for _, v := range out[0].challenge {
			h.Add("WWW-Authenticate", v)
		}
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write(out[0].raw)
		return
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"took":%d,"responses":[`, time.Since(start).Milliseconds())
	for i, res := range out {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(res.body)
	}
	b.WriteString("]}")
	h.Set(HeaderRerank, fmt.Sprintf("msearch; applied=%d of %d", n, len(items)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

// msearchResult is one search's _msearch response item.
type msearchResult struct {
	body        []byte // the item: the search's response with its status
	raw         []byte // the search's response body as it came
	status      int
	applied     bool     // reranked
	unreachable bool     // the upstream could not be reached or did not answer in time
	challenge   []string // the engine's WWW-Authenticate values on a 401
}

// recorder is the http.ResponseWriter one search of an _msearch answers
// into.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
	}
}

func (rec *recorder) Write(b []byte) (int, error) {
	rec.WriteHeader(http.StatusOK)
	return rec.body.Write(b)
}

// msearchOne runs one search of an _msearch through the single-search path
// and returns its _msearch response item.
func (p *Proxy) msearchOne(ctx context.Context, parent *http.Request, it msearchItem) msearchResult {
	sub := parent.Clone(ctx)
	sub.Method = http.MethodPost
	u := &url.URL{Path: "/_search", RawQuery: it.query}
	if it.target != "" {
		u.Path = "/" + it.target + "/_search"
	}
	u.RawPath = u.EscapedPath() // the path as sent, like ServeHTTP's requests
	sub.URL = u
	sub.RequestURI = u.RequestURI()
	sub.Body, sub.ContentLength = http.NoBody, int64(len(it.body))
	sub.Header.Del("Content-Length")
	sub.Header.Del("Accept-Encoding") // the answer is read and embedded here
	sub.Header.Set("Content-Type", "application/json")
	target, ok := searchTarget(u.Path)
	if !ok {
		return msearchResult{status: http.StatusBadRequest, body: errorItem(http.StatusBadRequest, "illegal_argument_exception",
			fmt.Sprintf("crossrank: _msearch line %d: index %q is not a valid search target", it.line, it.target))}
	}
	rec := &recorder{header: http.Header{}}
	p.search(rec, sub, it.body, target)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	res := msearchResult{status: rec.status}
	body := bytes.TrimSpace(rec.body.Bytes())
	res.applied = strings.HasPrefix(rec.header.Get(HeaderRerank), "applied")
	res.challenge = rec.header.Values("WWW-Authenticate")
	obj, err := rawjson.ParseObject(body)
	if err != nil {
		res.status = http.StatusBadGateway
		res.body = errorItem(http.StatusBadGateway, "crossrank_rerank_exception",
			fmt.Sprintf("crossrank: _msearch line %d: the engine answered %d with a body that is not a JSON object", it.line, rec.status))
		return res
	}
	res.raw = body
	if res.status == http.StatusBadGateway || res.status == http.StatusGatewayTimeout {
		res.unreachable = errorType(obj) == "upstream_connect_exception" || errorType(obj) == "timeout_exception"
	}
	if obj.Index("status") < 0 {
		obj = obj.Set("status", json.RawMessage(strconv.Itoa(res.status)))
	}
	res.body = obj.AppendTo(make([]byte, 0, len(body)+16))
	return res
}

// errorType is the error.type of an error body ("" when there is none).
func errorType(obj rawjson.Object) string {
	raw, ok := obj.Get("error")
	if !ok {
		return ""
	}
	e, err := rawjson.ParseObject(raw)
	if err != nil {
		return ""
	}
	var typ string
	if raw, ok := e.Get("type"); !ok || json.Unmarshal(raw, &typ) != nil {
		return ""
	}
	return typ
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
