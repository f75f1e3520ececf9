// Package contract reads the sidecar's /v1/rerank responses the way the
// search engines' set-ups in examples/elasticsearch and examples/opensearch
// read them, so that a change that would break those set-ups fails a test
// here:
//
//   - Elasticsearch's `custom` inference service (rerank task) extracts
//     `$.results[*].index` and `$.results[*].relevance_score` with its
//     json_parser JSONPaths (ESRerank), and the `text_similarity_reranker`
//     retriever then needs one score for every document it sent
//     (ESTextSimilarityScores). examples/elasticsearch/CONTRACT.md lists
//     each key checked against the Elasticsearch 8.19 documentation.
//   - OpenSearch ML Commons' `connector.post_process.cohere.rerank` reads
//     `$.results` as a list of maps, casts each `index` to an Integer and
//     each `relevance_score` to a Double, and lays the scores out by index
//     (OpenSearchCohereRerank). Its JSON reader (json-smart) yields an
//     Integer for a number without fraction or exponent and a BigDecimal for
//     a decimal longer than 18 characters; both fail the Double cast
//     ("class java.math.BigDecimal cannot be cast to class java.lang.Double",
//     seen with OpenSearch 2.19.6). The integration test runs the same
//     responses through a real OpenSearch.
package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MaxDoubleLen is the longest decimal json-smart reads as a Double.
const MaxDoubleLen = 18

func decode(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("contract: response is not JSON: %w", err)
	}
	return v, nil
}

// JSONPath evaluates a path of the form `$.a.b[*].c` or `$.a[0].b` (object
// members, `[*]` and `[N]` over arrays: the subset the set-ups use) and returns the values it
// selects, in document order.
func JSONPath(body []byte, path string) ([]any, error) {
	root, err := decode(body)
	if err != nil {
		return nil, err
	}
	rest, ok := strings.CutPrefix(path, "$")
	if !ok {
		return nil, fmt.Errorf("contract: path %q does not start with $", path)
	}
	cur := []any{root}
	for rest != "" {
		switch {
		case strings.HasPrefix(rest, "[*]"):
			rest = rest[3:]
			var next []any
			for _, v := range cur {
				arr, ok := v.([]any)
				if !ok {
					return nil, fmt.Errorf("contract: %s: [*] applied to a non-array", path)
				}
				next = append(next, arr...)
			}
			cur = next
		case strings.HasPrefix(rest, "[") && strings.Contains(rest, "]"):
			end := strings.Index(rest, "]")
			i, err := strconv.Atoi(rest[1:end])
			if err != nil || i < 0 {
				return nil, fmt.Errorf("contract: %s: bad index %q", path, rest[:end+1])
			}
			rest = rest[end+1:]
			var next []any
			for _, v := range cur {
				arr, ok := v.([]any)
				if !ok || i >= len(arr) {
					return nil, fmt.Errorf("contract: %s: [%d] is not in the array", path, i)
				}
				next = append(next, arr[i])
			}
			cur = next
		case strings.HasPrefix(rest, "."):
			rest = rest[1:]
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			name := rest[:end]
			rest = rest[end:]
			var next []any
			for _, v := range cur {
				obj, ok := v.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("contract: %s: .%s applied to a non-object", path, name)
				}
				m, ok := obj[name]
				if !ok {
					return nil, fmt.Errorf("contract: %s: member %q is missing", path, name)
				}
				next = append(next, m)
			}
			cur = next
		default:
			return nil, fmt.Errorf("contract: unsupported path syntax at %q in %s", rest, path)
		}
	}
	return cur, nil
}

// Elasticsearch custom service json_parser paths for the rerank task
// (https://www.elastic.co/docs/api/doc/elasticsearch/v8/operation/operation-inference-put-custom,
// 8.19: "reranked_index" optional, "relevance_score" required,
// "document_text" optional).
const (
	ESIndexPath = "$.results[*].index"
	ESScorePath = "$.results[*].relevance_score"
)

// ESJSONParserKeys are the json_parser keys the custom service accepts for
// the rerank task; Elasticsearch rejects any other key in json_parser.
var ESJSONParserKeys = []string{"relevance_score", "reranked_index", "document_text"}

// ESPathSyntax checks that a json_parser path keeps to what the custom
// service's path extractor reads: `$`, then `.field` members and `[*]`
// over arrays. Array indexes such as `[0]` and filters are not read.
func ESPathSyntax(path string) error {
	rest, ok := strings.CutPrefix(path, "$")
	if !ok {
		return fmt.Errorf("contract: path %q does not start with $", path)
	}
	for rest != "" {
		switch {
		case strings.HasPrefix(rest, "[*]"):
			rest = rest[3:]
		case strings.HasPrefix(rest, "."):
			rest = rest[1:]
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			if end == 0 {
				return fmt.Errorf("contract: path %q has an empty member name", path)
			}
			rest = rest[end:]
		default:
			return fmt.Errorf("contract: path %q: %q is not a .member or [*]", path, rest)
		}
	}
	return nil
}

// ESRerank reads a response with the Elasticsearch custom service's rerank
// JSONPaths and returns each input document's score (by index), checking
// what Elasticsearch relies on: as many indexes as scores, integer indexes
// in [0, n) without repeats, finite numeric scores.
func ESRerank(body []byte, n int) (map[int]float64, error) {
	idx, err := JSONPath(body, ESIndexPath)
	if err != nil {
		return nil, err
	}
	scores, err := JSONPath(body, ESScorePath)
	if err != nil {
		return nil, err
	}
	if len(idx) != len(scores) {
		return nil, fmt.Errorf("contract: %d indexes but %d scores", len(idx), len(scores))
	}
	out := make(map[int]float64, len(idx))
	for k := range idx {
		num, ok := idx[k].(json.Number)
		if !ok {
			return nil, fmt.Errorf("contract: results[%d].index is %T, not a number", k, idx[k])
		}
		i, err := strconv.Atoi(num.String())
		if err != nil || i < 0 || i >= n {
			return nil, fmt.Errorf("contract: results[%d].index %s is not an integer in [0, %d)", k, num, n)
		}
		if _, dup := out[i]; dup {
			return nil, fmt.Errorf("contract: index %d appears twice", i)
		}
		sn, ok := scores[k].(json.Number)
		if !ok {
			return nil, fmt.Errorf("contract: results[%d].relevance_score is %T, not a number", k, scores[k])
		}
		s, err := sn.Float64()
		if err != nil || math.IsInf(s, 0) || math.IsNaN(s) {
			return nil, fmt.Errorf("contract: results[%d].relevance_score %s is not a finite number", k, sn)
		}
		out[i] = s
	}
	return out, nil
}

// ESTextSimilarityScores reads a response the way the custom service and
// then the text_similarity_reranker retriever do: ESRerank, and then
// exactly one score for each of the n documents sent (the retriever fails
// the search with "Reranker input document count and returned score count
// mismatch" otherwise, so a response cut by top_n breaks it). The scores
// come back in input-document order.
func ESTextSimilarityScores(body []byte, n int) ([]float64, error) {
	byIndex, err := ESRerank(body, n)
	if err != nil {
		return nil, err
	}
	if len(byIndex) != n {
		return nil, fmt.Errorf("contract: %d scores for %d documents (text_similarity_reranker needs one per document)", len(byIndex), n)
	}
	out := make([]float64, n)
	for i, s := range byIndex {
		out[i] = s
	}
	return out, nil
}

// OpenSearchCohereRerank applies connector.post_process.cohere.rerank's
// reading rules to a response and returns the similarity scores it would
// hand to the rerank processor, in input-document order.
func OpenSearchCohereRerank(body []byte) ([]float64, error) {
	root, err := decode(body)
	if err != nil {
		return nil, err
	}
	obj, ok := root.(map[string]any)
	if !ok {
		return nil, errors.New("contract: response is not an object")
	}
	list, ok := obj["results"].([]any) // the function's default response filter is $.results
	if !ok {
		return nil, errors.New("contract: $.results is not a list (Post process function input is not a List)")
	}
	scores := make([]float64, len(list))
	seen := make([]bool, len(list))
	for k, v := range list {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("contract: results[%d] is not a map", k)
		}
		in, ok := m["index"].(json.Number)
		if !ok {
			return nil, fmt.Errorf("contract: results[%d].index is missing or not a number", k)
		}
		if strings.ContainsAny(in.String(), ".eE") {
			return nil, fmt.Errorf("contract: results[%d].index %s would be read as a Double, not an Integer", k, in)
		}
		i, err := strconv.ParseInt(in.String(), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("contract: results[%d].index %s is not an Integer", k, in)
		}
		if i < 0 || int(i) >= len(list) {
			return nil, fmt.Errorf("contract: results[%d].index %d is outside the %d results (top_n must cover every document)", k, i, len(list))
		}
		sn, ok := m["relevance_score"].(json.Number)
		if !ok {
			return nil, fmt.Errorf("contract: results[%d].relevance_score is missing or not a number", k)
		}
		lit := sn.String()
		if !strings.ContainsAny(lit, ".eE") {
			return nil, fmt.Errorf("contract: results[%d].relevance_score %s would be read as an Integer (ClassCastException)", k, lit)
		}
		if len(lit) > MaxDoubleLen {
			return nil, fmt.Errorf("contract: results[%d].relevance_score %s has %d characters: read as a BigDecimal (ClassCastException)", k, lit, len(lit))
		}
		s, err := sn.Float64()
		if err != nil {
			return nil, fmt.Errorf("contract: results[%d].relevance_score %s: %w", k, lit, err)
		}
		if seen[i] {
			return nil, fmt.Errorf("contract: index %d appears twice", i)
		}
		scores[i], seen[i] = s, true
	}
	return scores, nil
}
