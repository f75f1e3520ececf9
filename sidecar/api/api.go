// Package api holds the sidecar's HTTP request and response formats, their
// decoders and encoders, and the one JSON error shape: Cohere/Jina POST
// /v1/rerank, text-embeddings-inference POST /rerank, and POST
// /v1/rerank/hits. Decoders validate strictly, return *Error values with the
// status each kind of bad input maps to (400 malformed JSON or UTF-8, 422
// wrong type or missing field) and turn a request into a typed
// rerank.Request once; encoders only encode (scores as JSON floats, 1.0
// never 1, documents in the engine's rerank.Result.Order). ErrorOf is the one
// place where engine error kinds become HTTP statuses.
package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/crossrank/crossrank/models"
	"github.com/crossrank/crossrank/sidecar/internal/jsonw"
	"github.com/crossrank/crossrank/sidecar/rerank"
)

// RerankRequest is a Cohere/Jina-compatible POST /v1/rerank body.
type RerankRequest struct {
	Model           string            `json:"model"`
	Query           *string           `json:"query"`
	Documents       []json.RawMessage `json:"documents"`
	TopN            *int              `json:"top_n"`
	ReturnDocuments bool              `json:"return_documents"`
	// ReturnTexts (crossrank) adds each result's scored text, the
	// pipeline's output, under the result's "meta".
	ReturnTexts     bool     `json:"return_texts"`
	RankFields      []string `json:"rank_fields"`
	MaxTokensPerDoc int      `json:"max_tokens_per_doc"`
	Pipeline        string   `json:"pipeline"`
	TimeoutMS       int      `json:"timeout_ms"`
	Cascade         Cascade  `json:"cascade"`
}

// TEIRequest is a text-embeddings-inference POST /rerank body.
type TEIRequest struct {
	Query               *string           `json:"query"`
	Texts               []json.RawMessage `json:"texts"`
	Truncate            *bool             `json:"truncate"`
	TruncationDirection string            `json:"truncation_direction"`
	RawScores           bool              `json:"raw_scores"`
	ReturnText          bool              `json:"return_text"`
	Model               string            `json:"model"`
	Pipeline            string            `json:"pipeline"`
	TimeoutMS           int               `json:"timeout_ms"`
	Cascade             Cascade           `json:"cascade"`

	direction models.Direction // TruncationDirection, parsed by DecodeTEI
}

// HitsRequest is a POST /v1/rerank/hits body.
type HitsRequest struct {
	Query     *string         `json:"query"`
	Response  json.RawMessage `json:"response"`
	Fields    []string        `json:"fields"`
	Window    int             `json:"window"`
	Pipeline  string          `json:"pipeline"`
	Model     string          `json:"model"`
	TimeoutMS int             `json:"timeout_ms"`
	Cascade   Cascade         `json:"cascade"`
}

// Cascade is a request's "cascade": the name of a configured cascade
// ("fast"), or its stages inline ([{"model": "...", "keep": 100}, ...]).
type Cascade struct {
	Name   string
	Stages []rerank.Stage // non-nil when given inline
}

// UnmarshalJSON reads a string or an array of {"model", "keep"} stages.
func (c *Cascade) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*c = Cascade{}
		return nil
	case b[0] == '"':
		return json.Unmarshal(b, &c.Name)
	case b[0] == '[':
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var st []rerank.Stage
		if err := dec.Decode(&st); err != nil {
			return invalid(`cascade: want a cascade's name or an array of {"model": string, "keep": integer}: %v`, err)
		}
		if st == nil {
			st = []rerank.Stage{}
		}
		c.Stages = st
		return nil
	}
	return invalid(`cascade: want a cascade's name or an array of {"model": string, "keep": integer}`)
}

// set copies the cascade into an engine request.
func (c Cascade) set(r *rerank.Request) {
	r.Cascade, r.CascadeStages = c.Name, c.Stages
}

func badRequest(format string, args ...any) error {
	return Errorf(http.StatusBadRequest, TypeBadRequest, format, args...)
}

func invalid(format string, args ...any) error {
	return Errorf(http.StatusUnprocessableEntity, TypeInvalid, format, args...)
}

// decode unmarshals body into v, mapping malformed input to 400 and type
// errors to 422 naming the field.
func decode(body []byte, v any) error {
	if !utf8.Valid(body) {
		return badRequest("request body is not valid UTF-8")
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return badRequest("request body is empty")
	}
	if body[0] != '{' {
		if json.Valid(body) {
			return invalid("request body must be a JSON object")
		}
		return badRequest("request body is not valid JSON")
	}
	err := json.Unmarshal(body, v)
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &syn):
		return badRequest("malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, new(*Error)):
		var e *Error
		errors.As(err, &e)
		return e
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "request"
		}
		return invalid("%s: must be %s, not %s", field, typeName(typ.Type.String()), typ.Value)
	default:
		if !json.Valid(body) {
			return badRequest("malformed JSON: %v", err)
		}
		return invalid("%v", err)
	}
}

func typeName(t string) string {
	switch t {
	case "string", "*string":
		return "a string"
	case "int", "*int":
		return "an integer"
	case "bool", "*bool":
		return "a boolean"
	case "[]string":
		return "an array of strings"
	case "[]json.RawMessage":
		return "an array"
	default:
		return t
	}
}

func checkDocs(field string, docs []json.RawMessage, stringsOnly bool) error {
	for i, d := range docs {
		d = bytes.TrimSpace(d)
		switch {
		case len(d) > 0 && d[0] == '"':
		case len(d) > 0 && d[0] == '{' && !stringsOnly:
		case stringsOnly:
			return invalid("%s[%d]: must be a string", field, i)
		default:
			return invalid("%s[%d]: must be a string or an object", field, i)
		}
	}
	return nil
}

// Ranges of the numeric request fields (API.md, "Limits"). A value outside
// its range is a 422 naming the field, before anything is computed from it
// (a timeout_ms of 18446744073710 must not wrap to a sub-millisecond
// deadline, nor 9223372036855 to a negative one).
const (
	MaxTimeoutMS = 10 * 60 * 1000 // timeout_ms: 0 (server default) … 10 minutes
	MaxTopN      = math.MaxInt32  // top_n: 0 … 2^31-1 (more than the documents returns them all)
	MaxWindow    = 10000          // window: 0 (all hits) … Elasticsearch's default max_result_window
	// MaxTokensPerDocLimit bounds max_tokens_per_doc before the engine
	// checks it against the model's own maximum.
	MaxTokensPerDocLimit = 1 << 20
)

// checkRange is a 422 naming field when v is outside [lo, hi].
func checkRange(field string, v, lo, hi int) error {
	if v < lo || v > hi {
		return invalid("%s: %d is outside the allowed range %d to %d", field, v, lo, hi)
	}
	return nil
}

func checkTimeout(ms int) error { return checkRange("timeout_ms", ms, 0, MaxTimeoutMS) }

// DecodeRerank decodes and validates a /v1/rerank body.
func DecodeRerank(body []byte) (*RerankRequest, error) {
	var r RerankRequest
	if err := decode(body, &r); err != nil {
		return nil, err
	}
	switch {
	case r.Query == nil:
		return nil, invalid("query: required")
	case r.Documents == nil:
		return nil, invalid("documents: required (an array of strings or objects)")
	case r.TopN != nil && *r.TopN < 1:
		// Cohere's schema has top_n >= 1; 0 would score every document
		// and return none.
		return nil, invalid("top_n: %d is not a positive integer (leave it out to return every document)", *r.TopN)
	}
	if r.TopN != nil {
		if err := checkRange("top_n", *r.TopN, 1, MaxTopN); err != nil {
			return nil, err
		}
	}
	if err := checkRange("max_tokens_per_doc", r.MaxTokensPerDoc, 0, MaxTokensPerDocLimit); err != nil {
		return nil, err
	}
	if err := checkTimeout(r.TimeoutMS); err != nil {
		return nil, err
	}
	return &r, checkDocs("documents", r.Documents, false)
}

// DecodeTEI decodes and validates a TEI /rerank body.
func DecodeTEI(body []byte) (*TEIRequest, error) {
	var r TEIRequest
	if err := decode(body, &r); err != nil {
		return nil, err
	}
	switch {
	case r.Query == nil:
		return nil, invalid("query: required")
	case r.Texts == nil:
		return nil, invalid("texts: required (an array of strings)")
	}
	d, err := models.ParseDirection(r.TruncationDirection)
	if err != nil {
		return nil, invalid("truncation_direction: %v", err)
	}
	r.direction = d
	if err := checkTimeout(r.TimeoutMS); err != nil {
		return nil, err
	}
	return &r, checkDocs("texts", r.Texts, true)
}

// DecodeHits decodes and validates a /v1/rerank/hits body.
func DecodeHits(body []byte) (*HitsRequest, error) {
	var r HitsRequest
	if err := decode(body, &r); err != nil {
		return nil, err
	}
	resp := bytes.TrimSpace(r.Response)
	switch {
	case r.Query == nil:
		return nil, invalid("query: required")
	case len(resp) == 0 || string(resp) == "null":
		return nil, invalid("response: required (an Elasticsearch/OpenSearch _search response)")
	case resp[0] != '{':
		return nil, invalid("response: must be an object")
	}
	if err := checkRange("window", r.Window, 0, MaxWindow); err != nil {
		return nil, err
	}
	return &r, checkTimeout(r.TimeoutMS)
}

// Engine returns the request as the engine takes it.
func (r *RerankRequest) Engine() rerank.Request {
	req := rerank.Request{
		Model: r.Model, Pipeline: r.Pipeline, Query: *r.Query, Documents: r.Documents,
		RankFields: r.RankFields, MaxTokensPerDoc: r.MaxTokensPerDoc,
	}
	r.Cascade.set(&req)
	return req
}

// Engine returns the request as the engine takes it.
func (r *TEIRequest) Engine() rerank.Request {
	req := rerank.Request{
		Model: r.Model, Pipeline: r.Pipeline, Query: *r.Query, Documents: r.Texts, DocumentsField: "texts",
		Truncation: models.Truncation{Direction: r.direction, Off: r.Truncate != nil && !*r.Truncate},
	}
	r.Cascade.set(&req)
	return req
}

// Engine returns the request as the engine takes it, for the documents of
// the hits to rerank.
func (r *HitsRequest) Engine(docs []json.RawMessage, field string) rerank.Request {
	req := rerank.Request{
		Model: r.Model, Pipeline: r.Pipeline, Query: *r.Query, Documents: docs, DocumentsField: field,
		RankFields: r.Fields,
	}
	r.Cascade.set(&req)
	return req
}

// Timeout returns the request's timeout_ms as a duration (0: none).
func Timeout(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// AppendRerankResponse writes the /v1/rerank response: results in the
// engine's order, cut to topN when topN >= 0, each with its document when
// returnDocs (see RerankRequest.AppendResponse).
func AppendRerankResponse(dst []byte, id string, res *rerank.Result, topN int, returnDocs bool) []byte {
	return appendRerank(dst, id, res, topN, returnDocs, false)
}

// AppendResponse writes the /v1/rerank (and /v2/rerank) response to r:
// results in the engine's order, cut to top_n; with return_documents each
// result's "document" is the document as the client sent it (an object
// byte for byte, a string as {"text": string}, the shape Cohere and Jina
// clients read), never the text the pipeline made of it; with
// return_texts that text is under the result's "meta".
func (r *RerankRequest) AppendResponse(dst []byte, id string, res *rerank.Result) []byte {
	topN := -1
	if r.TopN != nil {
		topN = *r.TopN
	}
	return appendRerank(dst, id, res, topN, r.ReturnDocuments, r.ReturnTexts)
}

func appendRerank(dst []byte, id string, res *rerank.Result, topN int, returnDocs, returnTexts bool) []byte {
	order := res.Order
	if topN >= 0 && topN < len(order) {
		order = order[:topN]
	}
	dst = append(dst, `{"id":`...)
	dst = jsonw.AppendString(dst, id)
	dst = append(dst, `,"results":[`...)
	for n, i := range order {
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"index":`...)
		dst = strconv.AppendInt(dst, int64(i), 10)
		dst = append(dst, `,"relevance_score":`...)
		dst = jsonw.AppendScore(dst, res.Scores[i]) // OpenSearch reads it: see jsonw.MaxScoreLen
		if returnDocs {
			dst = append(dst, `,"document":`...)
			dst = appendDocument(dst, res, i)
		}
		if returnTexts {
			dst = append(dst, `,"meta":{"text":`...)
			dst = jsonw.AppendString(dst, res.Texts[i])
			dst = append(dst, '}')
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `],"model":`...)
	dst = jsonw.AppendString(dst, res.Model)
	dst = append(dst, `,"usage":{"total_tokens":`...)
	dst = strconv.AppendInt(dst, int64(res.Meta.Tokens), 10)
	dst = append(dst, `},"meta":`...)
	dst = AppendMeta(dst, res.Meta)
	return append(dst, '}')
}

// appendDocument writes document i as the client sent it: an object as is
// (compacted), a string as {"text": string}; without the request's
// documents (a Result not made by Engine.Score), the scored text.
func appendDocument(dst []byte, res *rerank.Result, i int) []byte {
	if i < len(res.Documents) {
		d := bytes.TrimSpace(res.Documents[i])
		if len(d) > 0 && d[0] == '{' {
			var b bytes.Buffer
			if json.Compact(&b, d) == nil {
				return append(dst, b.Bytes()...)
			}
		}
		var s string
		if len(d) > 0 && d[0] == '"' && json.Unmarshal(d, &s) == nil {
			dst = append(dst, `{"text":`...)
			dst = jsonw.AppendString(dst, s)
			return append(dst, '}')
		}
	}
	dst = append(dst, `{"text":`...)
	dst = jsonw.AppendString(dst, res.Texts[i])
	return append(dst, '}')
}

// AppendMeta writes the meta object: tokens, cache hits (score and
// embedding caches), sequences, padding, with a cascade its name, stages
// and each document's score source, and stage timings in milliseconds.
func AppendMeta(dst []byte, m rerank.Meta) []byte {
	dst = append(dst, `{"tokens":{"input_tokens":`...)
	dst = strconv.AppendInt(dst, int64(m.Tokens), 10)
	dst = append(dst, `,"output_tokens":0}`...)
	dst = append(dst, `,"cache_hits":`...)
	dst = strconv.AppendInt(dst, int64(m.CacheHits), 10)
	dst = append(dst, `,"embedding_cache_hits":`...)
	dst = strconv.AppendInt(dst, int64(m.EmbeddingCacheHits), 10)
	dst = append(dst, `,"embedding_cache_misses":`...)
	dst = strconv.AppendInt(dst, int64(m.EmbeddingCacheMisses), 10)
	if m.Cascade != "" {
		dst = append(dst, `,"cascade":`...)
		dst = jsonw.AppendString(dst, m.Cascade)
		dst = append(dst, `,"stages":[`...)
		for i, st := range m.Stages {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"model":`...)
			dst = jsonw.AppendString(dst, st.Model)
			dst = append(dst, `,"kind":`...)
			dst = jsonw.AppendString(dst, string(st.Kind))
			dst = append(dst, `,"scored":`...)
			dst = strconv.AppendInt(dst, int64(st.Scored), 10)
			dst = append(dst, `,"kept":`...)
			dst = strconv.AppendInt(dst, int64(st.Kept), 10)
			dst = append(dst, '}')
		}
		dst = append(dst, `],"score_sources":[`...)
		for i, src := range m.Sources {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonw.AppendString(dst, src)
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"pairs":`...)
	dst = strconv.AppendInt(dst, int64(m.Pairs), 10)
	dst = append(dst, `,"padded_tokens":`...)
	dst = strconv.AppendInt(dst, int64(m.PaddedTokens), 10)
	dst = append(dst, `,"batches":`...)
	dst = strconv.AppendInt(dst, int64(m.Batches), 10)
	dst = append(dst, `,"timings":{"plugins_ms":`...)
	dst = jsonw.AppendFloat(dst, ms(m.Timings.Plugins))
	dst = append(dst, `,"tokenize_ms":`...)
	dst = jsonw.AppendFloat(dst, ms(m.Timings.Tokenize))
	dst = append(dst, `,"queue_ms":`...)
	dst = jsonw.AppendFloat(dst, ms(m.Timings.Queue))
	dst = append(dst, `,"inference_ms":`...)
	dst = jsonw.AppendFloat(dst, ms(m.Timings.Inference))
	dst = append(dst, `,"total_ms":`...)
	dst = jsonw.AppendFloat(dst, ms(m.Timings.Total))
	return append(dst, `}}`...)
}

// AppendTEIResponse writes the TEI /rerank response: [{"index","score","text"?}]
// in the engine's order; raw gives the raw scores (a cross-encoder's logit,
// a bi-encoder's cosine similarity) instead of the [0, 1] scores (the
// mapping is monotonic, so the order is the same).
func AppendTEIResponse(dst []byte, res *rerank.Result, raw, returnText bool) []byte {
	dst = append(dst, '[')
	for n, i := range res.Order {
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"index":`...)
		dst = strconv.AppendInt(dst, int64(i), 10)
		dst = append(dst, `,"score":`...)
		if raw {
			dst = jsonw.AppendFloat32(dst, res.Logits[i])
		} else {
			dst = jsonw.AppendFloat(dst, res.Scores[i])
		}
		if returnText {
			dst = append(dst, `,"text":`...)
			dst = jsonw.AppendString(dst, res.Texts[i])
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// AppendError writes {"error":{"type","message"}}, the one error shape of
// every route (API.md).
func AppendError(dst []byte, e *Error) []byte {
	dst = append(dst, `{"error":{"type":`...)
	dst = jsonw.AppendString(dst, e.Type)
	dst = append(dst, `,"message":`...)
	dst = jsonw.AppendString(dst, e.Message)
	return append(dst, `}}`...)
}
