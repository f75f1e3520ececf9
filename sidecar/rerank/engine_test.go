package rerank_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/internal/reranktest"
	"github.com/crossrank/crossrank/models"
	"github.com/crossrank/crossrank/models/tokenizer"
	"github.com/crossrank/crossrank/plugins"
	"github.com/crossrank/crossrank/sidecar/rerank"
)

func twin(t testing.TB) rerank.Model {
	t.Helper()
	return reranktest.Twin(t, 1)
}

func engine(t testing.TB, m rerank.Model, opts ...rerank.Option) *rerank.Engine {
	t.Helper()
	e, err := rerank.New([]rerank.Model{m}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e
}

// direct scores each pair alone with the tokenizer and the session.
func direct(t testing.TB, m rerank.Model, tr tokenizer.Truncation, query string, passages []string) []float32 {
	t.Helper()
	return reranktest.Reference(t, m, tr, 4, query, passages)
}

func docs(texts ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(texts))
	for i, s := range texts {
		out[i], _ = json.Marshal(s)
	}
	return out
}

func near(a, b float32) bool { return math.Abs(float64(a-b)) <= 1e-4 }

func TestScoreCacheAndTruncation(t *testing.T) {
	m := twin(t)
	e := engine(t, m)
	long := strings.Repeat("the river flows under the old stone bridge ", 20)
	texts := []string{"a short passage about coffee", long, "music festival"}
	query := "river bridge"
	full := direct(t, m, tokenizer.Truncation{MaxLength: 512, Strategy: tokenizer.LongestFirst}, query, texts)

	r1, err := e.Score(context.Background(), rerank.Request{Query: query, Documents: docs(texts...)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range texts {
		if !near(r1.Logits[i], full[i]) || math.Abs(r1.Scores[i]-rerank.Sigmoid(full[i])) > 1e-6 {
			t.Errorf("doc %d: %v, direct %v", i, r1.Logits[i], full[i])
		}
	}
	if r1.Meta.CacheHits != 0 || r1.Meta.Pairs != 3 || r1.Meta.PaddedTokens < r1.Meta.Tokens {
		t.Errorf("first request meta %+v", r1.Meta)
	}
	// The same pairs again: all from the cache, same logits.
	r2, err := e.Score(context.Background(), rerank.Request{Query: query, Documents: docs(texts...)})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Meta.CacheHits != 3 || r2.Meta.Pairs != 0 {
		t.Errorf("second request meta %+v, want 3 cache hits", r2.Meta)
	}
	for i := range texts {
		if r2.Logits[i] != r1.Logits[i] {
			t.Errorf("cached doc %d: %v != %v", i, r2.Logits[i], r1.Logits[i])
		}
	}

	// max_tokens_per_doc cuts the passage: the long one scores as its first
	// 16 word pieces would, with a different cache entry.
	q := tokenizer.Truncation{MaxLength: 2 + 3 + 16, Strategy: tokenizer.LongestFirst} // "river bridge" is 2 pieces
	cut := direct(t, m, q, query, texts[1:2])
	r3, err := e.Score(context.Background(), rerank.Request{Query: query, Documents: docs(texts[1]), MaxTokensPerDoc: 16})
	if err != nil {
		t.Fatal(err)
	}
	if r3.Meta.CacheHits != 0 || !near(r3.Logits[0], cut[0]) || r3.Meta.Tokens != 21 {
		t.Errorf("max_tokens_per_doc 16: logit %v (direct %v), meta %+v", r3.Logits[0], cut[0], r3.Meta)
	}
	// Left truncation keeps the end of the long passage.
	left := direct(t, m, tokenizer.Truncation{MaxLength: 512, Strategy: tokenizer.LongestFirst, Direction: tokenizer.Left}, query, []string{long + strings.Repeat(" coffee garden", 200)})
	r4, err := e.Score(context.Background(), rerank.Request{Query: query, Documents: docs(long + strings.Repeat(" coffee garden", 200)), Truncation: models.Truncation{Direction: models.Left}})
	if err != nil || !near(r4.Logits[0], left[0]) {
		t.Errorf("left truncation: %v (direct %v) %v", r4, left[0], err)
	}
}

// upper is a real plugins.Pipeline written in Go: the passage is the "body"
// field in upper case, the query is trimmed.
type upper struct{}

func (upper) Name() string { return "upper" }
func (upper) Prepare(_ context.Context, _ plugins.Tokenizer, in plugins.Input) (plugins.Output, error) {
	out := plugins.Output{Query: strings.TrimSpace(in.Query)}
	for _, d := range in.Documents {
		var v struct{ Body string }
		if err := json.Unmarshal(d, &v); err != nil {
			return out, fmt.Errorf("upper: %w", err)
		}
		out.Passages = append(out.Passages, strings.ToUpper(v.Body))
	}
	return out, nil
}

func TestPipelines(t *testing.T) {
	m := twin(t)
	src := rerank.PipelineFunc(func(name string) (plugins.Pipeline, bool) {
		if name == "upper" {
			return upper{}, true
		}
		return nil, false
	})
	e := engine(t, m, rerank.WithPipelines(src, ""))
	in := []json.RawMessage{json.RawMessage(`{"body":"Coffee Garden"}`), json.RawMessage(`{"body":"river"}`)}
	want := direct(t, m, tokenizer.Truncation{MaxLength: 512}, "music", []string{"COFFEE GARDEN", "RIVER"})
	res, err := e.Score(context.Background(), rerank.Request{Query: "  music ", Pipeline: "upper", Documents: in})
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !near(res.Logits[i], want[i]) {
			t.Errorf("doc %d: %v, direct %v", i, res.Logits[i], want[i])
		}
	}
	if res.Texts[0] != "COFFEE GARDEN" {
		t.Errorf("texts %v", res.Texts)
	}
	_, err = e.Score(context.Background(), rerank.Request{Query: "q", Pipeline: "missing", Documents: in})
	var re *rerank.Error
	if !errors.As(err, &re) || re.Kind != rerank.KindNotFound {
		t.Errorf("unknown pipeline: %v", err)
	}
	// A pipeline error fails the request with a plugin fault naming the pipeline.
	_, err = e.Score(context.Background(), rerank.Request{Query: "q", Pipeline: "upper", Documents: docs("not an object")})
	if re := rerank.AsError(err); re == nil || re.Kind != rerank.KindPluginFault || !strings.Contains(re.Message, "upper") {
		t.Errorf("pipeline failure: %v", err)
	}
}

func TestEngineErrors(t *testing.T) {
	m := twin(t)
	e := engine(t, m, rerank.WithMaxDocuments(2))
	ctx := context.Background()
	tests := []struct {
		name  string
		req   rerank.Request
		kind  rerank.Kind
		field string
	}{
		{"too many documents", rerank.Request{Query: "q", Documents: docs("a", "b", "c")}, rerank.KindInvalid, "documents"},
		{"unknown model", rerank.Request{Model: "big", Query: "q", Documents: docs("a")}, rerank.KindNotFound, ""},
		{"object without text", rerank.Request{Query: "q", Documents: []json.RawMessage{json.RawMessage(`"a"`), json.RawMessage(`{"n":1}`)}}, rerank.KindInvalid, "documents[1]"},
		{"rank fields without text", rerank.Request{Query: "q", Documents: []json.RawMessage{json.RawMessage(`{"text":"t"}`)}, RankFields: []string{"title"}, DocumentsField: "texts"}, rerank.KindInvalid, "texts[0]"},
		{"negative budget", rerank.Request{Query: "q", Documents: docs("a"), MaxTokensPerDoc: -1}, rerank.KindInvalid, "max_tokens_per_doc"},
	}
	for _, tt := range tests {
		_, err := e.Score(ctx, tt.req)
		if re := rerank.AsError(err); re == nil || re.Kind != tt.kind || re.Field != tt.field {
			t.Errorf("%s: %v, want kind %v field %q", tt.name, err, tt.kind, tt.field)
		}
	}
	if _, err := e.Score(ctx, rerank.Request{Query: "q", Documents: []json.RawMessage{json.RawMessage(`{"n":1}`)}}); err == nil || !strings.Contains(err.Error(), `"text"`) {
		t.Errorf("object without text: %v does not name the field looked for", err)
	}
	expired, cancel := context.WithTimeout(ctx, 0)
	defer cancel()
	_, err := e.Score(expired, rerank.Request{Query: "q", Documents: docs("a")})
	if re := rerank.AsError(err); re == nil || re.Kind != rerank.KindDeadline {
		t.Errorf("expired deadline: %v, want a deadline error", err)
	}
	if _, err := rerank.New(nil); err == nil {
		t.Error("New with no model: no error")
	}
}

// TestDocumentTextRule checks that the engine's default step is the identity
// plugin's rule: an object without a "text" field is its string values
// joined, scored like the joined string (it used to be the empty string).
func TestDocumentTextRule(t *testing.T) {
	m := twin(t)
	e := engine(t, m, rerank.WithCacheSize(0))
	res, err := e.Score(context.Background(), rerank.Request{Query: "what is go", Documents: []json.RawMessage{
		json.RawMessage(`{"title":"Go","body":"A language."}`), json.RawMessage(`"Go. A language."`),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Texts[0] != "Go. A language." || res.Logits[0] != res.Logits[1] {
		t.Errorf("texts %q logits %v: want the object scored as \"Go. A language.\"", res.Texts, res.Logits)
	}
	if len(res.Order) != 2 || res.Order[0] != 0 {
		t.Errorf("order %v: ties go by index", res.Order)
	}
}

func TestModelAliasesAndUnknownDefault(t *testing.T) {
	m := twin(t)
	req := func(model string) rerank.Request {
		return rerank.Request{Model: model, Query: "coffee", Documents: docs("a cup of coffee", "a bridge")}
	}
	e := engine(t, m, rerank.WithModelAliases(map[string]string{"rerank-v3.5": m.Name}))
	direct, err := e.Score(context.Background(), req(m.Name))
	if err != nil {
		t.Fatal(err)
	}
	viaAlias, err := e.Score(context.Background(), req("rerank-v3.5"))
	if err != nil {
		t.Fatalf("alias: %v", err)
	}
	if viaAlias.Model != m.Name || viaAlias.UnknownModel != "" || viaAlias.Logits[0] != direct.Logits[0] {
		t.Errorf("alias served %q (unknown %q) logits %v, want %q and %v", viaAlias.Model, viaAlias.UnknownModel, viaAlias.Logits, m.Name, direct.Logits)
	}
	_, err = e.Score(context.Background(), req("rerank-english-v3.0"))
	var re *rerank.Error
	if !errors.As(err, &re) || re.Kind != rerank.KindNotFound || !strings.Contains(err.Error(), "rerank-v3.5") {
		t.Errorf("unknown name without the opt-in: %v, want not found listing the aliases", err)
	}

	lenient := engine(t, m, rerank.WithUnknownModelDefault(true))
	res, err := lenient.Score(context.Background(), req("rerank-english-v3.0"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Model != m.Name || res.UnknownModel != "rerank-english-v3.0" {
		t.Errorf("unknown model served by %q, UnknownModel %q", res.Model, res.UnknownModel)
	}
	if string(res.Documents[0]) != `"a cup of coffee"` {
		t.Errorf("Result.Documents[0] = %s, want the document as sent", res.Documents[0])
	}

	for _, tt := range []struct {
		aliases map[string]string
		want    string
	}{
		{map[string]string{"x": "nope"}, `target "nope" is not served`},
		{map[string]string{m.Name: m.Name}, "already has that name"},
		{map[string]string{"": m.Name}, "both names"},
	} {
		if _, err := rerank.New([]rerank.Model{m}, rerank.WithModelAliases(tt.aliases)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("aliases %v: %v, want %q", tt.aliases, err, tt.want)
		}
	}
}
