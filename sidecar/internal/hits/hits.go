// Package hits reads and rewrites Elasticsearch/OpenSearch _search
// responses for the sidecar: Parse finds the hits to rerank and their
// documents, and Response.Append writes the response with those hits in the
// engine's order. POST /v1/rerank/hits (sidecar/api) and the _search proxy
// (sidecar/proxy) both use it, so a response is parsed once and written
// once; the engine (sidecar/rerank) only ranks.
package hits

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/crossrank/crossrank/sidecar/internal/jsonw"
	"github.com/crossrank/crossrank/sidecar/internal/rawjson"
	"github.com/crossrank/crossrank/sidecar/rerank"
)

// Response is a parsed _search response.
type Response struct {
	body    []byte
	top     rawjson.Object
	hi      int // index of "hits" in top
	hitsObj rawjson.Object
	ai      int // index of "hits" in hitsObj
	raw     []json.RawMessage
	window  []rawjson.Object
	docs    []json.RawMessage
}

// Parse reads a _search response and the first window hits (0: all). A
// hit's document is its _source or, without _source, its "fields". Errors
// are rerank.KindInvalid naming the part of the response at fault.
func Parse(body []byte, window int) (*Response, error) {
	if window < 0 {
		return nil, rerank.Invalid("window", "%d is negative", window)
	}
	r := &Response{body: body}
	var err error
	if r.top, err = rawjson.ParseObject(body); err != nil {
		return nil, rerank.Invalid("response", "%v", err)
	}
	if r.hi = r.top.Index("hits"); r.hi < 0 {
		return nil, rerank.Invalid("response.hits", "missing")
	}
	if r.hitsObj, err = rawjson.ParseObject(r.top[r.hi].Val); err != nil {
		return nil, rerank.Invalid("response.hits", "%v", err)
	}
	if r.ai = r.hitsObj.Index("hits"); r.ai < 0 {
		return nil, rerank.Invalid("response.hits.hits", "missing")
	}
	if err := json.Unmarshal(r.hitsObj[r.ai].Val, &r.raw); err != nil {
		return nil, rerank.Invalid("response.hits.hits", "must be an array of hits")
	}
	n := len(r.raw)
	if window > 0 && window < n {
		n = window
	}
	r.window = make([]rawjson.Object, n)
	r.docs = make([]json.RawMessage, n)
	for i := range n {
		if r.window[i], err = rawjson.ParseObject(r.raw[i]); err != nil {
			return nil, rerank.Invalid(fmt.Sprintf("response.hits.hits[%d]", i), "%v", err)
		}
		d, ok := r.window[i].Get("_source")
		if !ok {
			d, ok = r.window[i].Get("fields")
		}
		if !ok {
			d = json.RawMessage("{}")
		}
		if d = bytes.TrimSpace(d); len(d) == 0 || d[0] != '{' {
			return nil, rerank.Invalid(fmt.Sprintf("response.hits.hits[%d]._source", i), "must be an object")
		}
		r.docs[i] = d
	}
	return r, nil
}

// Documents returns the documents of the hits to rerank, in hit order.
func (r *Response) Documents() []json.RawMessage { return r.docs }

// DocumentsField is how errors name the documents ("response.hits.hits"),
// for rerank.Request.DocumentsField.
const DocumentsField = "response.hits.hits"

// Append writes the response with the reranked hits in res.Order, each
// _score rewritten (res.Scores) and the original kept in
// _rerank.original_score, then the hits after the window as they came;
// hits.max_score is the highest _score among all of them, and everything
// else is byte for byte as it came. Only hits [from, from+size) of that list
// are written (size < 0: all). A nil res (nothing to rerank) gives the page
// of the response as it came.
func (r *Response) Append(dst []byte, res *rerank.Result, from, size int) []byte {
	if res == nil && from == 0 && size < 0 {
		return append(dst, r.body...)
	}
	var scores []float64
	var order []int
	if res != nil {
		scores, order = res.Scores, res.Order
	}
	all := len(r.raw) // the ranked window, then the hits after it
	lo, hi := min(max(from, 0), all), all
	if size >= 0 {
		hi = lo + min(size, all-lo) // never from+size: it may overflow
	}
	newHits := make([]byte, 0, len(r.hitsObj[r.ai].Val)+64*len(order))
	newHits = append(newHits, '[')
	for n := lo; n < hi; n++ {
		if n > lo {
			newHits = append(newHits, ',')
		}
		if n < len(order) {
			newHits = appendHit(newHits, r.window[order[n]], scores[order[n]])
		} else {
			newHits = append(newHits, r.raw[n]...)
		}
	}
	newHits = append(newHits, ']')
	hitsObj := append(rawjson.Object(nil), r.hitsObj...)
	hitsObj[r.ai].Val = newHits
	if len(order) > 0 {
		ms := jsonw.AppendFloat(nil, r.maxScore(scores[order[0]]))
		hitsObj = hitsObj.Set("max_score", ms)
	}
	top := append(rawjson.Object(nil), r.top...)
	top[r.hi].Val = hitsObj.AppendTo(nil)
	return top.AppendTo(dst)
}

// maxScore is the highest of best and the _score of the hits after the
// window.
func (r *Response) maxScore(best float64) float64 {
	for _, raw := range r.raw[len(r.window):] {
		h, err := rawjson.ParseObject(raw)
		if err != nil {
			continue
		}
		if s, ok := h.Get("_score"); ok {
			if v, err := strconv.ParseFloat(string(bytes.TrimSpace(s)), 64); err == nil && v > best {
				best = v
			}
		}
	}
	return best
}

// appendHit writes one reranked hit: _score set to score, the original in
// _rerank.original_score.
func appendHit(dst []byte, h rawjson.Object, score float64) []byte {
	h = append(rawjson.Object(nil), h...)
	orig := json.RawMessage("null")
	if s, ok := h.Get("_score"); ok {
		orig = s
	}
	h = h.Set("_score", jsonw.AppendFloat(nil, score))
	rr := append(append([]byte(`{"original_score":`), bytes.TrimSpace(orig)...), '}')
	h = h.Set("_rerank", rr)
	return h.AppendTo(dst)
}
