package server_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/sidecar/rerank"
)

// schemaField is one field of a published rerank API (testdata/rerank_schemas.json).
type schemaField struct {
	Name     string          `json:"name"`
	Type     string          `json:"type"`
	Required bool            `json:"required"`
	Example  json.RawMessage `json:"example"`
}

type publishedAPI struct {
	Source   string        `json:"source"`
	Path     string        `json:"path"`
	Request  []schemaField `json:"request"`
	Response []schemaField `json:"response"`
}

// jsonType names v's JSON type as the schemas do ("integer" for whole numbers).
func jsonType(v any) string {
	switch x := v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		if strings.ContainsAny(x.String(), ".eE") {
			return "number"
		}
		return "integer"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "null"
}

// lookup returns the values at a schema path (a.b, a[].b) in v.
func lookup(v any, path string) []any {
	vals := []any{v}
	for _, part := range strings.Split(path, ".") {
		each := strings.HasSuffix(part, "[]")
		part = strings.TrimSuffix(part, "[]")
		var next []any
		for _, x := range vals {
			m, ok := x.(map[string]any)
			if !ok {
				continue
			}
			f, ok := m[part]
			if !ok {
				continue
			}
			if arr, ok := f.([]any); ok && each {
				next = append(next, arr...)
			} else if !each {
				next = append(next, f)
			}
		}
		vals = next
	}
	return vals
}

// TestPublishedRerankSchemas sends Cohere v1, Cohere v2 and Jina requests
// with every field their references list (model names as those clients send
// them, served through aliases) and checks every response field against the
// reference, field by field: required ones present, each with its type (a
// score is a number, an index an integer, meta.tokens an object).
func TestPublishedRerankSchemas(t *testing.T) {
	b, err := os.ReadFile("testdata/rerank_schemas.json")
	if err != nil {
		t.Fatal(err)
	}
	var apis map[string]json.RawMessage
	if err := json.Unmarshal(b, &apis); err != nil {
		t.Fatal(err)
	}
	m := twin(t)
	aliases := map[string]string{"rerank-english-v3.0": m.Name, "rerank-v3.5": m.Name, "jina-reranker-v2-base-multilingual": m.Name}
	sc := start(t, []rerank.Model{m}, []rerank.Option{rerank.WithModelAliases(aliases)})
	for name, raw := range apis {
		if strings.HasPrefix(name, "_") {
			continue
		}
		var api publishedAPI
		if err := json.Unmarshal(raw, &api); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Run(name, func(t *testing.T) {
			req := map[string]json.RawMessage{}
			for _, f := range api.Request {
				if f.Example == nil {
					t.Fatalf("request field %s has no example", f.Name)
				}
				req[f.Name] = f.Example
			}
			r := post(t, sc.base+api.Path, mustJSON(t, req))
			if r.status != 200 {
				t.Fatalf("%s (%s) with every field: %d %s", api.Path, api.Source, r.status, r.body)
			}
			dec := json.NewDecoder(strings.NewReader(string(r.body)))
			dec.UseNumber()
			var resp any
			if err := dec.Decode(&resp); err != nil {
				t.Fatal(err)
			}
			for _, f := range api.Response {
				vals := lookup(resp, f.Name)
				if len(vals) == 0 && f.Required {
					t.Errorf("%s: required response field %s missing: %s", api.Source, f.Name, r.body)
				}
				for _, v := range vals {
					got := jsonType(v)
					if got != f.Type && !(f.Type == "number" && got == "integer") {
						t.Errorf("%s: response field %s is %s (%v), the reference says %s", api.Source, f.Name, got, v, f.Type)
					}
				}
			}
			// top_n is honoured and the documents come back as sent.
			var topN int
			json.Unmarshal(req["top_n"], &topN)
			if n := len(lookup(resp, "results[].index")); n != topN {
				t.Errorf("top_n %d: %d results", topN, n)
			}
		})
	}
}

// TestCohereDropIn: model aliases, the unknown-model opt-in with its
// Warning header, return_documents as sent, return_texts, top_n 0.
func TestCohereDropIn(t *testing.T) {
	m := twin(t)
	strict := start(t, []rerank.Model{m}, []rerank.Option{rerank.WithModelAliases(map[string]string{"rerank-v3.5": m.Name})})
	lenient := start(t, []rerank.Model{m}, []rerank.Option{rerank.WithUnknownModelDefault(true)})
	body := func(model string, extra string) []byte {
		return []byte(fmt.Sprintf(`{"model": %q, "query": "capital city", "documents": ["Paris is the capital.", {"title": "Rivers", "id": 7}]%s}`, model, extra))
	}
	tests := []struct {
		name    string
		url     string
		body    []byte
		status  int
		warning string // substring of the Warning header; "" for none
		mention string // substring of the body
	}{
		{"alias", strict.base + "/v1/rerank", body("rerank-v3.5", ""), 200, "", `"model":"` + m.Name + `"`},
		{"v2 path", strict.base + "/v2/rerank", body("rerank-v3.5", ""), 200, "", `"relevance_score"`},
		{"unknown without opt-in", strict.base + "/v1/rerank", body("rerank-english-v3.0", ""), 404, "", "rerank-v3.5"},
		{"unknown with opt-in", lenient.base + "/v1/rerank", body("rerank-english-v3.0", ""), 200, `model 'rerank-english-v3.0' is not served`, `"relevance_score"`},
		{"hostile unknown name", lenient.base + "/v1/rerank", body("x\"y\\z", ""), 200, `model 'x?y?z'`, ""},
		{"TEI unknown with opt-in", lenient.base + "/rerank", []byte(`{"model": "bge", "query": "q", "texts": ["a"]}`), 200, `model 'bge'`, ""},
		{"top_n 0", strict.base + "/v1/rerank", body("rerank-v3.5", `, "top_n": 0`), 422, "", "top_n: 0 is not a positive integer"},
		{"documents as sent", strict.base + "/v1/rerank", body("rerank-v3.5", `, "return_documents": true, "pipeline": "none"`), 200, "", `"document":{"title":"Rivers","id":7}`},
		{"string document as text", strict.base + "/v1/rerank", body("rerank-v3.5", `, "return_documents": true`), 200, "", `"document":{"text":"Paris is the capital."}`},
		{"scored text under meta", strict.base + "/v1/rerank", body("rerank-v3.5", `, "return_texts": true`), 200, "", `"meta":{"text":"Rivers"}`},
		{"no texts unless asked", strict.base + "/v1/rerank", body("rerank-v3.5", `, "return_documents": true`), 200, "", `"id":7}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := post(t, tt.url, tt.body)
			if r.status != tt.status || !strings.Contains(string(r.body), tt.mention) {
				t.Fatalf("%d %s, want %d mentioning %s", r.status, r.body, tt.status, tt.mention)
			}
			w := r.header.Get("Warning")
			if (tt.warning == "") != (w == "") || !strings.Contains(w, tt.warning) {
				t.Errorf("Warning %q, want %q", w, tt.warning)
			}
		})
	}
}

// TestTEIErrorsNameTexts: TEI's documents are "texts", and its errors say
// texts[i], never documents[i].
func TestTEIErrorsNameTexts(t *testing.T) {
	sc := start(t, []rerank.Model{twin(t)}, nil)
	long := strings.Repeat("word ", 600)
	for _, body := range []string{
		`{"query": "q", "texts": ["a", {"text": "b"}]}`,
		`{"query": "q", "texts": ["a", "` + long + `"], "truncate": false}`,
	} {
		r := post(t, sc.base+"/rerank", []byte(body))
		if r.status != 422 || !strings.Contains(string(r.body), "texts[1]") || strings.Contains(string(r.body), "documents") {
			t.Errorf("%.60s…: %d %s, want a 422 naming texts[1]", body, r.status, r.body)
		}
	}
}
