package contract

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/sidecar/api"
	"github.com/crossrank/crossrank/sidecar/rerank"
)

// TestSidecarResponsesMeetTheContracts encodes /v1/rerank responses with the
// sidecar's own encoder (api.AppendRerankResponse) for scores spread like a
// cross-encoder's (sigmoid of float32 logits, fixed seed) and reads them
// back with both engines' rules.
func TestSidecarResponsesMeetTheContracts(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for round := range 300 {
		n := 1 + r.IntN(40)
		res := &rerank.Result{Model: "twin", Scores: make([]float64, n), Texts: make([]string, n)}
		for i := range n {
			logit := float32(r.NormFloat64() * 6)
			if round%50 == 0 && i == 0 {
				logit = float32(math.Copysign(40, r.NormFloat64())) // saturated: 1.0, or ~4e-18
			}
			res.Scores[i] = 1 / (1 + math.Exp(-float64(logit)))
			res.Texts[i] = fmt.Sprintf("doc %d", i)
		}
		res.Order = rerank.Order(res.Scores)
		body := api.AppendRerankResponse(nil, "id", res, -1, round%2 == 0)

		es, err := ESTextSimilarityScores(body, n)
		if err != nil {
			t.Fatalf("Elasticsearch json_parser + text_similarity_reranker: %v\n%s", err, body)
		}
		os, err := OpenSearchCohereRerank(body)
		if err != nil {
			t.Fatalf("OpenSearch cohere.rerank post-process: %v\n%s", err, body)
		}
		if len(es) != n || len(os) != n {
			t.Fatalf("got %d and %d scores for %d documents", len(es), len(os), n)
		}
		for i, want := range res.Scores {
			if math.Abs(es[i]-want) > 1e-12 || math.Abs(os[i]-want) > 1e-12 {
				t.Fatalf("document %d: scores %v / %v, want %v", i, es[i], os[i], want)
			}
		}
	}
}

func TestReadersRejectWhatTheEnginesReject(t *testing.T) {
	tests := []struct {
		name, body, errES, errOS string
	}{
		{"integer score", `{"results":[{"index":0,"relevance_score":1}]}`, "", "read as an Integer"},
		{"19-character score", `{"results":[{"index":0,"relevance_score":0.12345678901234567}]}`, "", "BigDecimal"},
		{"18-character score", `{"results":[{"index":0,"relevance_score":0.1234567890123456}]}`, "", ""},
		{"exponent", `{"results":[{"index":0,"relevance_score":1.5e-30}]}`, "", ""},
		{"fractional index", `{"results":[{"index":0.0,"relevance_score":0.5}]}`, "not an integer", "not an Integer"},
		{"index out of range", `{"results":[{"index":1,"relevance_score":0.5}]}`, "not an integer in [0, 1)", "outside"},
		{"string score", `{"results":[{"index":0,"relevance_score":"0.5"}]}`, "not a number", "not a number"},
		{"no results", `{"data":[]}`, "missing", "not a list"},
		{"repeated index", `{"results":[{"index":0,"relevance_score":0.5},{"index":0,"relevance_score":0.25}]}`, "twice", "twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := strings.Count(tc.body, "index")
			_, err := ESRerank([]byte(tc.body), max(n, 1))
			check(t, "ESRerank", err, tc.errES)
			_, err = OpenSearchCohereRerank([]byte(tc.body))
			check(t, "OpenSearchCohereRerank", err, tc.errOS)
		})
	}
}

// TestTextSimilarityNeedsEveryDocument: the custom service alone accepts a
// response that scores some of the documents; text_similarity_reranker
// does not.
func TestTextSimilarityNeedsEveryDocument(t *testing.T) {
	tests := []struct {
		name, body string
		n          int
		err        string
	}{
		{"all, reordered", `{"results":[{"index":1,"relevance_score":0.9},{"index":0,"relevance_score":0.25}]}`, 2, ""},
		{"one of two (top_n 1)", `{"results":[{"index":1,"relevance_score":0.9}]}`, 2, "1 scores for 2 documents"},
		{"empty results", `{"results":[]}`, 1, "0 scores for 1 documents"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ESRerank([]byte(tc.body), tc.n)
			check(t, "ESRerank", err, "")
			_, err = ESTextSimilarityScores([]byte(tc.body), tc.n)
			check(t, "ESTextSimilarityScores", err, tc.err)
		})
	}
}

func TestESPathSyntax(t *testing.T) {
	tests := []struct{ path, err string }{
		{ESIndexPath, ""},
		{ESScorePath, ""},
		{"$.result.scores[*].score", ""},
		{"$.results[0].index", "not a .member or [*]"},
		{"$..index", "empty member name"},
		{"results[*].index", "does not start with $"},
		{"$.results[?(@.index)]", "not a .member or [*]"},
	}
	for _, tc := range tests {
		check(t, tc.path, ESPathSyntax(tc.path), tc.err)
	}
}

func check(t *testing.T, what string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: unexpected error %v", what, err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("%s: error %v, want one containing %q", what, err, want)
	}
}

func ExampleOpenSearchCohereRerank() {
	body := []byte(`{"id":"x","results":[{"index":1,"relevance_score":0.9},{"index":0,"relevance_score":0.25}]}`)
	scores, err := OpenSearchCohereRerank(body)
	fmt.Println(scores, err)
	// Output: [0.25 0.9] <nil>
}

func ExampleESTextSimilarityScores() {
	body := []byte(`{"results":[{"index":1,"relevance_score":0.9},{"index":0,"relevance_score":0.25}]}`)
	scores, err := ESTextSimilarityScores(body, 2)
	fmt.Println(scores, err)
	// Output: [0.25 0.9] <nil>
}

func ExampleJSONPath() {
	v, err := JSONPath([]byte(`{"results":[{"index":1},{"index":0}]}`), "$.results[*].index")
	fmt.Println(v, err)
	// Output: [1 0] <nil>
}
