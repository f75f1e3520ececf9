package rerank

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/crossrank/crossrank/sidecar/api/jsonw"
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
	top, err := parseObject(searchResponse)
	if err != nil {
		return nil, invalid("response: %v", err)
	}
	hi := top.index("hits")
	if hi < 0 {
		return nil, invalid("response.hits is missing")
	}
	hitsObj, err := parseObject(top[hi].val)
	if err != nil {
		return nil, invalid("response.hits: %v", err)
	}
	ai := hitsObj.index("hits")
	if ai < 0 {
		return nil, invalid("response.hits.hits is missing")
	}
	var rawHits []json.RawMessage
	if err := json.Unmarshal(hitsObj[ai].val, &rawHits); err != nil {
		return nil, invalid("response.hits.hits: must be an array of hits")
	}
	window := len(rawHits)
	if opts.Window > 0 && opts.Window < window {
		window = opts.Window
	}
	if window == 0 {
		return &HitsResult{Body: searchResponse}, nil
	}
	hits := make([]object, window)
	docs := make([]json.RawMessage, window)
	for i := range window {
		if hits[i], err = parseObject(rawHits[i]); err != nil {
			return nil, invalid("response.hits.hits[%d]: %v", i, err)
		}
		if j := hits[i].index("_source"); j >= 0 {
			docs[i] = hits[i][j].val
		} else if j := hits[i].index("fields"); j >= 0 {
			docs[i] = hits[i][j].val
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
		h, err := parseObject(raw)
		if err != nil {
			continue
		}
		if j := h.index("_score"); j >= 0 {
			if v, err := strconv.ParseFloat(string(bytes.TrimSpace(h[j].val)), 64); err == nil && v > maxScore {
				maxScore = v
			}
		}
	}
	newHits := make([]byte, 0, len(hitsObj[ai].val)+64*window)
	newHits = append(newHits, '[')
	for n, i := range order {
		if n > 0 {
			newHits = append(newHits, ',')
		}
		h := hits[i]
		orig := json.RawMessage("null")
		score := jsonw.AppendFloat(nil, res.Scores[i])
		if j := h.index("_score"); j >= 0 {
			orig = h[j].val
			h[j].val = score
		} else {
			h = append(h, field{name: "_score", val: score})
		}
		rr := append(append([]byte(`{"original_score":`), bytes.TrimSpace(orig)...), '}')
		if j := h.index("_rerank"); j >= 0 {
			h[j].val = rr
		} else {
			h = append(h, field{name: "_rerank", val: rr})
		}
		newHits = h.appendTo(newHits)
	}
	for _, raw := range rawHits[window:] {
		newHits = append(newHits, ',')
		newHits = append(newHits, raw...)
	}
	newHits = append(newHits, ']')
	hitsObj[ai].val = newHits
	ms := jsonw.AppendFloat(nil, maxScore)
	if j := hitsObj.index("max_score"); j >= 0 {
		hitsObj[j].val = ms
	} else {
		hitsObj = append(hitsObj, field{name: "max_score", val: ms})
	}
	top[hi].val = hitsObj.appendTo(nil)
	return &HitsResult{Body: top.appendTo(make([]byte, 0, len(searchResponse)+64*window)), Result: res}, nil
}

// object is a JSON object kept as ordered raw members.
type object []field

type field struct {
	name string
	key  []byte // the key as written, quotes included (nil: encode name)
	val  json.RawMessage
}

func (o object) index(name string) int {
	for i, f := range o {
		if f.name == name {
			return i
		}
	}
	return -1
}

func (o object) appendTo(dst []byte) []byte {
	dst = append(dst, '{')
	for i, f := range o {
		if i > 0 {
			dst = append(dst, ',')
		}
		if f.key != nil {
			dst = append(dst, f.key...)
		} else {
			dst = strconv.AppendQuote(dst, f.name)
		}
		dst = append(dst, ':')
		dst = append(dst, f.val...)
	}
	return append(dst, '}')
}

// parseObject splits a JSON object into its members, keeping each value's
// bytes as written.
func parseObject(b []byte) (object, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("must be an object")
	}
	var o object
	for dec.More() {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("bad key: %w", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("bad key")
		}
		end := dec.InputOffset()
		key := bytes.TrimLeft(b[start:end], " \t\r\n,")
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("member %q: %w", name, err)
		}
		o = append(o, field{name: name, key: key, val: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("unterminated object: %w", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("data after the object")
	}
	return o, nil
}
