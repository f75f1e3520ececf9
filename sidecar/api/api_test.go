package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/sidecar/rerank"
)

func status(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestDecodeRerank(t *testing.T) {
	tests := []struct {
		body    string
		status  int
		mention string
	}{
		{`{"query":"q","documents":["a",{"text":"b"}],"top_n":1,"return_documents":true,"rank_fields":["text"],"max_tokens_per_doc":100,"pipeline":"p","timeout_ms":5,"model":"m","unknown":1}`, 0, ""},
		{`{"query":"","documents":[]}`, 0, ""},
		{`{"query":"q","documents":["a"],"top_n":null}`, 0, ""},
		{`{"query":"q"`, 400, "JSON"},
		{"{\"query\":\"\xc3\x28\",\"documents\":[]}", 400, "UTF-8"},
		{`  `, 400, "empty"},
		{`"just a string"`, 422, "object"},
		{`{"query":null,"documents":[]}`, 422, "query"},
		{`{"query":["q"],"documents":[]}`, 422, "query"},
		{`{"query":"q","documents":null}`, 422, "documents"},
		{`{"query":"q","documents":{"a":1}}`, 422, "documents"},
		{`{"query":"q","documents":[null]}`, 422, "documents[0]"},
		{`{"query":"q","documents":["a",["b"]]}`, 422, "documents[1]"},
		{`{"query":"q","documents":[],"top_n":1.5}`, 422, "top_n"},
		{`{"query":"q","documents":[],"return_documents":"yes"}`, 422, "return_documents"},
		{`{"query":"q","documents":[],"timeout_ms":-1}`, 422, "timeout_ms"},
		{`{"query":"q","documents":["a"],"top_n":0}`, 422, "top_n: 0 is not a positive integer"},
	}
	for _, tt := range tests {
		r, err := DecodeRerank([]byte(tt.body))
		if got := status(err); got != tt.status {
			t.Errorf("DecodeRerank(%s): status %d (%v), want %d", tt.body, got, err, tt.status)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), tt.mention) {
			t.Errorf("DecodeRerank(%s): %q does not mention %q", tt.body, err, tt.mention)
		}
		if err == nil && (r.Query == nil || r.Documents == nil) {
			t.Errorf("DecodeRerank(%s): accepted without query or documents", tt.body)
		}
	}
}

func TestDecodeTEI(t *testing.T) {
	tests := []struct {
		body   string
		status int
	}{
		{`{"query":"q","texts":["a","b"],"truncate":true,"truncation_direction":"Left","raw_scores":true,"return_text":true}`, 0},
		{`{"query":"q","texts":[]}`, 0},
		{`{"texts":["a"]}`, 422},
		{`{"query":"q"}`, 422},
		{`{"query":"q","texts":[{"text":"a"}]}`, 422},
		{`{"query":"q","texts":["a"],"truncate":"no"}`, 422},
		{`{"query":"q","texts":["a"],"truncation_direction":"Middle"}`, 422},
		{`{"query":"q","texts":["a"],}`, 400},
	}
	for _, tt := range tests {
		if _, err := DecodeTEI([]byte(tt.body)); status(err) != tt.status {
			t.Errorf("DecodeTEI(%s): %v, want status %d", tt.body, err, tt.status)
		}
	}
}

func TestDecodeHits(t *testing.T) {
	tests := []struct {
		body   string
		status int
	}{
		{`{"query":"q","response":{"hits":{"hits":[]}},"fields":["a"],"window":10}`, 0},
		{`{"query":"q"}`, 422},
		{`{"query":"q","response":null}`, 422},
		{`{"query":"q","response":[1]}`, 422},
		{`{"query":"q","response":{},"window":-2}`, 422},
		{`{"query":"q","response":{},"fields":"a"}`, 422},
		{`{"query":"q","response":{`, 400},
	}
	for _, tt := range tests {
		if _, err := DecodeHits([]byte(tt.body)); status(err) != tt.status {
			t.Errorf("DecodeHits(%s): %v, want status %d", tt.body, err, tt.status)
		}
	}
}

func TestAppendResponses(t *testing.T) {
	res := &rerank.Result{
		Model:  "twin",
		Logits: []float32{0, 2, -1},
		Scores: []float64{0.5, 1, 0.25},
		Texts:  []string{"a", "b \"quoted\"", "c"},
	}
	res.Order = rerank.Order(res.Scores)
	out := AppendRerankResponse(nil, "id-1", res, -1, true)
	var cr struct {
		Results []struct {
			Index          int
			RelevanceScore json.RawMessage `json:"relevance_score"`
			Document       struct{ Text string }
		}
	}
	if err := json.Unmarshal(out, &cr); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if got := fmt.Sprint(cr.Results[0].Index, cr.Results[1].Index, cr.Results[2].Index); got != "1 0 2" {
		t.Errorf("order %s", got)
	}
	if string(cr.Results[0].RelevanceScore) != "1.0" || cr.Results[0].Document.Text != `b "quoted"` {
		t.Errorf("first result %s %q: want 1.0 (a float)", cr.Results[0].RelevanceScore, cr.Results[0].Document.Text)
	}
	if out := AppendRerankResponse(nil, "x", res, 1, false); strings.Count(string(out), `"index"`) != 1 || strings.Contains(string(out), "document") {
		t.Errorf("top_n 1: %s", out)
	}
	tei := string(AppendTEIResponse(nil, res, true, false))
	if tei != `[{"index":1,"score":2.0},{"index":0,"score":0.0},{"index":2,"score":-1.0}]` {
		t.Errorf("TEI raw: %s", tei)
	}
	e := string(AppendError(nil, Errorf(422, TypeInvalid, "query: required")))
	if e != `{"error":{"type":"validation_error","message":"query: required"}}` {
		t.Errorf("error body %s", e)
	}
}

// checkDecoded holds for every body a decoder accepts or rejects.
func checkDecoded(t *testing.T, body []byte, err error, ok func() bool) {
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || (e.Status != 400 && e.Status != 422) || e.Message == "" {
			t.Fatalf("%q: error %v is not a 400/422 *rerank.Error", body, err)
		}
		return
	}
	if !ok() {
		t.Fatalf("%q: accepted an invalid request", body)
	}
}

func validDocs(docs []json.RawMessage, stringsOnly bool) bool {
	for _, d := range docs {
		var s string
		var o map[string]json.RawMessage
		if json.Unmarshal(d, &s) != nil && (stringsOnly || json.Unmarshal(d, &o) != nil) {
			return false
		}
	}
	return true
}

func FuzzDecodeRerank(f *testing.F) {
	f.Add([]byte(`{"query":"q","documents":["a",{"text":"b"}],"top_n":1}`))
	f.Add([]byte(`{"query":"q","documents":[1]}`))
	f.Add([]byte("{\"query\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRerank(b)
		checkDecoded(t, b, err, func() bool {
			return r.Query != nil && r.Documents != nil && validDocs(r.Documents, false) && (r.TopN == nil || *r.TopN >= 0) && r.TimeoutMS >= 0
		})
	})
}

func FuzzDecodeTEI(f *testing.F) {
	f.Add([]byte(`{"query":"q","texts":["a"],"truncate":false}`))
	f.Add([]byte(`{"query":"q","texts":[{}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeTEI(b)
		checkDecoded(t, b, err, func() bool {
			return r.Query != nil && r.Texts != nil && validDocs(r.Texts, true)
		})
	})
}

func FuzzDecodeHits(f *testing.F) {
	f.Add([]byte(`{"query":"q","response":{"hits":{"hits":[{"_source":{"text":"a"}}]}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeHits(b)
		checkDecoded(t, b, err, func() bool {
			return r.Query != nil && len(r.Response) > 0 && r.Response[0] == '{' && r.Window >= 0
		})
	})
}

func ExampleDecodeRerank() {
	r, err := DecodeRerank([]byte(`{"query": "what is go", "documents": ["Go is a language", {"text": "a board game"}], "top_n": 1}`))
	fmt.Println(*r.Query, len(r.Documents), *r.TopN, err)
	_, err = DecodeRerank([]byte(`{"query": 5, "documents": []}`))
	fmt.Println(err)
	// Output:
	// what is go 2 1 <nil>
	// query: must be a string, not number
}

func TestErrorOf(t *testing.T) {
	tests := []struct {
		err    error
		status int
		typ    string
	}{
		{rerank.Invalid("documents[2]", "no text"), 422, TypeInvalid},
		{rerank.NotFound("model %q not found", "x"), 404, TypeNotFound},
		{&rerank.Error{Kind: rerank.KindOverloaded}, 429, TypeOverloaded},
		{&rerank.Error{Kind: rerank.KindDeadline}, 504, TypeTimeout},
		{&rerank.Error{Kind: rerank.KindPluginFault}, 500, TypeInternal},
		{&rerank.Error{Kind: rerank.KindUnavailable}, 503, TypeUnavailable},
		{errors.New("boom"), 500, TypeInternal},
		{Errorf(400, TypeBadRequest, "bad"), 400, TypeBadRequest},
	}
	for _, tt := range tests {
		e := ErrorOf(tt.err)
		if e.Status != tt.status || e.Type != tt.typ {
			t.Errorf("ErrorOf(%v) = %d %s, want %d %s", tt.err, e.Status, e.Type, tt.status, tt.typ)
		}
	}
	if e := ErrorOf(rerank.Invalid("documents[2]", "no text")); e.Message != "documents[2]: no text" {
		t.Errorf("message %q does not name the field", e.Message)
	}
}
