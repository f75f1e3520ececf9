package rerank

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/crossrank/crossrank/sidecar/api/jsonw"
	"github.com/crossrank/crossrank/sidecar/internal/rawjson"
)

// HitsOptions says how to rerank a _search response.
type HitsOptions struct {
	Query           string
	Fields          []string // _source fields that make the passage (default ["text"])
	Window          int      // hits to rerank from the top (0: all)
	Pipeline, Model string
}

// HitsResult is RerankHits' response body and the scoring details.
type HitsResult struct {
	Body   []byte
	Result *Result // nil when there was nothing to rerank
}

// RerankHits reranks the first opts.Window hits of an Elasticsearch or
// OpenSearch _search response and returns the response with those hits
// reordered by cross-encoder score, each _score rewritten (sigmoid score),
// the original kept in the hit's _rerank.original_score, hits.max_score set
// to the highest _score in the returned hits, and everything else (hits after
// the window, _source, unknown fields, key order) byte for byte as it came.
// A hit's text comes from its _source (or, without _source, its "fields").
func RerankHits(ctx context.Context, e *Engine, searchResponse []byte, opts HitsOptions) ([]byte, error) {
	r, err := RerankHitsResult(ctx, e, searchResponse, opts)
	if err != nil {
		return nil, err
	}
	return r.Body, nil
}

// RerankHitsResult is RerankHits that also returns the scoring details.
func RerankHitsResult(ctx context.Context, e *Engine, searchResponse []byte, opts HitsOptions) (*HitsResult, error) {
	invalid := func(format string, args ...any) error {
		return Errorf(http.StatusUnprocessableEntity, TypeInvalid, format, args...)
	}
	if opts.Window < 0 {
		return nil, invalid("window: %d is negative", opts.Window)
	}
	top, err := rawjson.ParseObject(searchResponse)
	if err != nil {
		return nil, invalid("response: %v", err)
	}
	hi := top.Index("hits")
	if hi < 0 {
		return nil, invalid("response.hits is missing")
	}
	hitsObj, err := rawjson.ParseObject(top[hi].Val)
	if err != nil {
		return nil, invalid("response.hits: %v", err)
	}
	ai := hitsObj.Index("hits")
	if ai < 0 {
		return nil, invalid("response.hits.hits is missing")
	}
	var rawHits []json.RawMessage
	if err := json.Unmarshal(hitsObj[ai].Val, &rawHits); err != nil {
		return nil, invalid("response.hits.hits: must be an array of hits")
	}
	window := len(rawHits)
	if opts.Window > 0 && opts.Window < window {
		window = opts.Window
	}
	if window == 0 {
		return &HitsResult{Body: searchResponse}, nil
	}
	hits := make([]rawjson.Object, window)
	docs := make([]json.RawMessage, window)
	for i := range window {
		if hits[i], err = rawjson.ParseObject(rawHits[i]); err != nil {
			return nil, invalid("response.hits.hits[%d]: %v", i, err)
		}
		if j := hits[i].Index("_source"); j >= 0 {
			docs[i] = hits[i][j].Val
		} else if j := hits[i].Index("fields"); j >= 0 {
			docs[i] = hits[i][j].Val
		} else {
			docs[i] = json.RawMessage("{}")
		}
		if len(bytes.TrimSpace(docs[i])) == 0 || bytes.TrimSpace(docs[i])[0] != '{' {
			return nil, invalid("response.hits.hits[%d]._source: must be an object", i)
		}
	}
	res, err := e.Score(ctx, Request{Model: opts.Model, Pipeline: opts.Pipeline, Query: opts.Query, Documents: docs, RankFields: opts.Fields})
	if err != nil {
		return nil, err
	}
	order := Order(res.Scores)
	maxScore := res.Scores[order[0]]
	for _, raw := range rawHits[window:] {
		h, err := rawjson.ParseObject(raw)
		if err != nil {
			continue
		}
		if j := h.Index("_score"); j >= 0 {
			if v, err := strconv.ParseFloat(string(bytes.TrimSpace(h[j].Val)), 64); err == nil && v > maxScore {
				maxScore = v
			}
		}
	}
	newHits := make([]byte, 0, len(hitsObj[ai].Val)+64*window)
	newHits = append(newHits, '[')
	for n, i := range order {
		if n > 0 {
			newHits = append(newHits, ',')
		}
		h := hits[i]
		orig := json.RawMessage("null")
		score := jsonw.AppendFloat(nil, res.Scores[i])
		if j := h.Index("_score"); j >= 0 {
			orig = h[j].Val
			h[j].Val = score
		} else {
			h = append(h, rawjson.Member{Name: "_score", Val: score})
		}
		rr := append(append([]byte(`{"original_score":`), bytes.TrimSpace(orig)...), '}')
		if j := h.Index("_rerank"); j >= 0 {
			h[j].Val = rr
		} else {
			h = append(h, rawjson.Member{Name: "_rerank", Val: rr})
		}
		newHits = h.AppendTo(newHits)
	}
	for _, raw := range rawHits[window:] {
		newHits = append(newHits, ',')
		newHits = append(newHits, raw...)
	}
	newHits = append(newHits, ']')
	hitsObj[ai].Val = newHits
	ms := jsonw.AppendFloat(nil, maxScore)
	if j := hitsObj.Index("max_score"); j >= 0 {
		hitsObj[j].Val = ms
	} else {
		hitsObj = append(hitsObj, rawjson.Member{Name: "max_score", Val: ms})
	}
	top[hi].Val = hitsObj.AppendTo(nil)
	return &HitsResult{Body: top.AppendTo(make([]byte, 0, len(searchResponse)+64*window)), Result: res}, nil
}
