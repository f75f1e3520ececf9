package contract

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/sidecar/api"
	"github.com/crossrank/crossrank/sidecar/config"
	"github.com/crossrank/crossrank/sidecar/proxy"
	"github.com/crossrank/crossrank/sidecar/rerank"
)

// These tests read the set-up files in examples/elasticsearch and
// examples/opensearch as they are shipped, fill their templates the way the
// engines do, and check that the sidecar accepts the requests and that the
// engines' readers find the right score for every document.

func examplesDir(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller")
	}
	return filepath.Dir(filepath.Dir(file))
}

func readJSON(t *testing.T, rel string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(examplesDir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s is not valid JSON: %v", rel, err)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// esJSON writes v the way Elasticsearch's JSON builder (Jackson) fills a
// template: control characters escaped, `<`, `>`, `&` and non-ASCII as they
// are (Go's default would write \u003c).
func esJSON(t *testing.T, v any) string {
	t.Helper()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// texts are documents with the characters templates get wrong.
var texts = []string{
	`plain passage about cross-encoders`,
	`a "quoted" word and a back\slash`,
	"line one\nline two\ttabbed",
	`unicode: héllo wörld 日本 👍🏽`,
	`</script> & <b>markup</b>`,
}

const query = `what does a "cross-encoder" do?`

// respond scores the decoded request with fixed-seed sigmoid scores and
// encodes the sidecar's /v1/rerank response.
func respond(t *testing.T, req *api.RerankRequest) (*rerank.Result, []byte) {
	t.Helper()
	r := rand.New(rand.NewPCG(3, uint64(len(req.Documents))))
	res := &rerank.Result{Model: "twin", Scores: make([]float64, len(req.Documents)), Texts: make([]string, len(req.Documents))}
	for i := range res.Scores {
		res.Scores[i] = 1 / (1 + math.Exp(-float64(float32(r.NormFloat64()*5))))
	}
	res.Order = rerank.Order(res.Scores)
	topN := -1
	if req.TopN != nil {
		topN = *req.TopN
	}
	return res, api.AppendRerankResponse(nil, "id", res, topN, req.ReturnDocuments)
}

func checkDocs(t *testing.T, req *api.RerankRequest, want []string) {
	t.Helper()
	if req.Query == nil || *req.Query != query {
		t.Fatalf("query %v, want %q", req.Query, query)
	}
	if len(req.Documents) != len(want) {
		t.Fatalf("%d documents, want %d", len(req.Documents), len(want))
	}
	for i, d := range req.Documents {
		var s string
		if err := json.Unmarshal(d, &s); err != nil || s != want[i] {
			t.Fatalf("document %d: %s, want %q", i, d, want[i])
		}
	}
}

// Elasticsearch 8.19 documentation the Elasticsearch checks follow (the
// field-by-field list is examples/elasticsearch/CONTRACT.md):
//
//	custom service:           https://www.elastic.co/docs/api/doc/elasticsearch/v8/operation/operation-inference-put-custom
//	text_similarity_reranker: https://www.elastic.co/docs/reference/elasticsearch/rest-apis/retrievers/text-similarity-reranker-retriever
const (
	esCustomDoc    = "operation-inference-put-custom (8.19)"
	esRetrieverDoc = "text-similarity-reranker-retriever (8.19)"
)

// placeholders returns the names of the ${name} templates in s.
func placeholders(s string) []string {
	var names []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return names
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return append(names, s[i+2:])
		}
		names = append(names, s[i+2:i+j])
		s = s[i+j+1:]
	}
}

// onlyKeys fails the test when obj has a key outside allowed, or lacks
// one of required.
func onlyKeys(t *testing.T, where string, obj map[string]json.RawMessage, allowed, required []string) {
	t.Helper()
	for k := range obj {
		if !slices.Contains(allowed, k) {
			t.Errorf("%s: key %q is not one of %v", where, k, allowed)
		}
	}
	for _, k := range required {
		if _, ok := obj[k]; !ok {
			t.Errorf("%s: required key %q is missing", where, k)
		}
	}
}

func TestElasticsearchCustomService(t *testing.T) {
	// The keys, as Elasticsearch 8.19 reads them: unknown keys in
	// response and json_parser are refused by the service.
	var top map[string]json.RawMessage
	readJSON(t, "elasticsearch/inference-endpoint.json", &top)
	onlyKeys(t, "inference-endpoint.json ("+esCustomDoc+")", top,
		[]string{"service", "service_settings", "task_settings", "chunking_settings"}, []string{"service", "service_settings"})
	var settings map[string]json.RawMessage
	if err := json.Unmarshal(top["service_settings"], &settings); err != nil {
		t.Fatalf("service_settings: %v", err)
	}
	onlyKeys(t, "service_settings ("+esCustomDoc+")", settings,
		[]string{"url", "headers", "query_parameters", "request", "response", "secret_parameters", "input_type", "batch_size", "rate_limit"},
		[]string{"url", "request", "response", "secret_parameters"})
	var response map[string]json.RawMessage
	if err := json.Unmarshal(settings["response"], &response); err != nil {
		t.Fatalf("service_settings.response: %v", err)
	}
	onlyKeys(t, "service_settings.response", response, []string{"json_parser"}, []string{"json_parser"})
	var parser map[string]json.RawMessage
	if err := json.Unmarshal(response["json_parser"], &parser); err != nil {
		t.Fatalf("json_parser: %v", err)
	}
	onlyKeys(t, "json_parser (rerank)", parser, ESJSONParserKeys, []string{"relevance_score"})

	var ep struct {
		Service  string `json:"service"`
		Settings struct {
			URL      string            `json:"url"`
			Headers  map[string]string `json:"headers"`
			Request  string            `json:"request"` // a string (the escaped JSON body), not an object
			Response struct {
				Parser map[string]string `json:"json_parser"`
			} `json:"response"`
			Secret map[string]string `json:"secret_parameters"`
		} `json:"service_settings"`
	}
	readJSON(t, "elasticsearch/inference-endpoint.json", &ep)
	if ep.Service != "custom" || !strings.HasSuffix(ep.Settings.URL, "/v1/rerank") || len(ep.Settings.Secret) == 0 {
		t.Fatalf("endpoint %+v", ep)
	}
	if ep.Settings.Response.Parser["relevance_score"] != ESScorePath || ep.Settings.Response.Parser["reranked_index"] != ESIndexPath {
		t.Fatalf("json_parser %v, want %s and %s", ep.Settings.Response.Parser, ESScorePath, ESIndexPath)
	}
	for k, path := range ep.Settings.Response.Parser {
		if err := ESPathSyntax(path); err != nil {
			t.Errorf("json_parser.%s: %v", k, err)
		}
	}
	// Templates: the request body may name ${input} and ${query} (filled
	// for every rerank call) and the secret parameters; ${top_n} and
	// ${return_documents} are filled only when the inference request
	// carries them, which text_similarity_reranker's need not, and any
	// placeholder left unfilled fails the call. Headers and the URL take
	// the secret parameters only.
	for _, name := range placeholders(ep.Settings.Request) {
		if _, secret := ep.Settings.Secret[name]; name != "input" && name != "query" && !secret {
			t.Errorf("request names ${%s}: not input, query or a secret parameter", name)
		}
	}
	for h, v := range ep.Settings.Headers {
		for _, name := range placeholders(v) {
			if _, secret := ep.Settings.Secret[name]; !secret {
				t.Errorf("header %s names ${%s}, not a secret parameter", h, name)
			}
		}
	}
	for _, name := range placeholders(ep.Settings.URL) {
		if _, secret := ep.Settings.Secret[name]; !secret {
			t.Errorf("url names ${%s}, not a secret parameter", name)
		}
	}
	// In headers a secret is put in as it is; the sidecar's bearer check
	// must see exactly the key.
	const key = `k3y-with-"quote`
	auth := strings.ReplaceAll(ep.Settings.Headers["Authorization"], "${api_key}", key)
	if auth != "Bearer "+key {
		t.Errorf("Authorization renders as %q, want %q", auth, "Bearer "+key)
	}

	// In the request body Elasticsearch fills ${query} with a JSON string,
	// ${input} with a JSON array of strings, and secrets as JSON strings.
	pairs := []string{"${query}", esJSON(t, query), "${input}", esJSON(t, texts)}
	for k, v := range ep.Settings.Secret {
		pairs = append(pairs, "${"+k+"}", esJSON(t, v))
	}
	body := strings.NewReplacer(pairs...).Replace(ep.Settings.Request)
	if left := placeholders(body); len(left) > 0 {
		t.Fatalf("placeholders %v left after rendering %s", left, body)
	}
	req, err := api.DecodeRerank([]byte(body))
	if err != nil {
		t.Fatalf("the sidecar rejects the rendered request %s: %v", body, err)
	}
	checkDocs(t, req, texts)
	if req.TopN != nil {
		t.Errorf("the request sets top_n %d: text_similarity_reranker needs a score for every document", *req.TopN)
	}
	res, resp := respond(t, req)
	got, err := ESTextSimilarityScores(resp, len(texts))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range res.Scores {
		if !near(got[i], want) {
			t.Errorf("document %d: %v, want %v", i, got[i], want)
		}
	}
}

// TestElasticsearchRetriever checks search-retriever.json's keys against
// the 8.19 text_similarity_reranker documentation, and that it names the
// endpoint setup.sh creates and a field sample-data.sh maps as text.
func TestElasticsearchRetriever(t *testing.T) {
	var search struct {
		Size      *int `json:"size"`
		Retriever map[string]json.RawMessage
	}
	readJSON(t, "elasticsearch/search-retriever.json", &search)
	raw, ok := search.Retriever["text_similarity_reranker"]
	if !ok || len(search.Retriever) != 1 {
		t.Fatalf("retriever %v: want exactly text_similarity_reranker", search.Retriever)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		t.Fatal(err)
	}
	onlyKeys(t, "text_similarity_reranker ("+esRetrieverDoc+")", keys,
		[]string{"retriever", "field", "inference_id", "inference_text", "rank_window_size", "min_score", "filter", "_name"},
		[]string{"retriever", "field", "inference_text"})
	var r struct {
		Retriever     map[string]json.RawMessage `json:"retriever"`
		Field         string                     `json:"field"`
		InferenceID   string                     `json:"inference_id"`
		InferenceText string                     `json:"inference_text"`
		Window        *int                       `json:"rank_window_size"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("text_similarity_reranker: %v", err)
	}
	if len(r.Retriever) != 1 || r.InferenceText == "" {
		t.Fatalf("text_similarity_reranker %+v: want one inner retriever and an inference_text", r)
	}
	// Without inference_id, 8.19 uses its own .rerank-v1-elasticsearch.
	script, err := os.ReadFile(filepath.Join(examplesDir(t), "elasticsearch/setup.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), `ID="${INFERENCE_ID:-`+r.InferenceID+`}"`) {
		t.Errorf("inference_id %q is not setup.sh's default endpoint id", r.InferenceID)
	}
	data, err := os.ReadFile(filepath.Join(examplesDir(t), "elasticsearch/sample-data.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"`+r.Field+`":{"type":"text"}`) {
		t.Errorf("field %q is not a text field of sample-data.sh's mapping", r.Field)
	}
	// rank_window_size defaults to 10; the page (size) must fit in it.
	window, size := 10, 10
	if r.Window != nil {
		window = *r.Window
	}
	if search.Size != nil {
		size = *search.Size
	}
	if window < 1 || size > window {
		t.Errorf("rank_window_size %d with size %d: the window must be at least the page", window, size)
	}
}

// connector is the part of an ML Commons connector the tests read.
type connector struct {
	Parameters map[string]string `json:"parameters"`
	Actions    []struct {
		URL  string `json:"url"`
		Body string `json:"request_body"`
		Pre  string `json:"pre_process_function"`
		Post string `json:"post_process_function"`
	} `json:"actions"`
}

// renderConnector fills ${parameters.X} the way ML Commons does: string
// values JSON-escaped without quotes, the others as they are.
func renderConnector(body string, params map[string]string) string {
	for k, v := range params {
		body = strings.ReplaceAll(body, "${parameters."+k+"}", v)
	}
	return body
}

func escaped(s string) string { q := jsonString(s); return q[1 : len(q)-1] }

func TestOpenSearchCohereConnector(t *testing.T) {
	var c connector
	readJSON(t, "opensearch/connector.json", &c)
	if len(c.Actions) != 1 || !strings.HasSuffix(c.Actions[0].URL, "/v1/rerank") ||
		c.Actions[0].Pre != "connector.pre_process.cohere.rerank" || c.Actions[0].Post != "connector.post_process.cohere.rerank" {
		t.Fatalf("connector %+v", c)
	}
	// cohere.rerank pre-process: documents as a JSON array, the query
	// text, top_n = number of documents.
	docs, _ := json.Marshal(texts)
	params := map[string]string{"documents": string(docs), "query": escaped(query), "top_n": fmt.Sprint(len(texts))}
	for k, v := range c.Parameters {
		params[k] = escaped(strings.ReplaceAll(v, "@CROSSRANK_MODEL@", ""))
	}
	body := renderConnector(c.Actions[0].Body, params)
	req, err := api.DecodeRerank([]byte(body))
	if err != nil {
		t.Fatalf("the sidecar rejects the rendered request %s: %v", body, err)
	}
	checkDocs(t, req, texts)
	res, resp := respond(t, req)
	got, err := OpenSearchCohereRerank(resp)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range res.Scores {
		if !near(got[i], want) {
			t.Errorf("document %d: %v, want %v", i, got[i], want)
		}
	}

	var pipe struct {
		Procs []map[string]json.RawMessage `json:"response_processors"`
	}
	raw, err := os.ReadFile(filepath.Join(examplesDir(t), "opensearch/pipeline-rerank.json"))
	if err != nil {
		t.Fatal(err)
	}
	rendered := strings.NewReplacer("@DOCUMENT_FIELDS@", `["title","text"]`, "@MODEL_ID@", "m1").Replace(string(raw))
	if err := json.Unmarshal([]byte(rendered), &pipe); err != nil || len(pipe.Procs) != 1 || pipe.Procs[0]["rerank"] == nil {
		t.Fatalf("pipeline-rerank.json renders to %s (%v)", rendered, err)
	}
}

func TestOpenSearchByFieldConnector(t *testing.T) {
	var c connector
	readJSON(t, "opensearch/connector-one-to-one.json", &c)
	if len(c.Actions) != 1 || c.Actions[0].Post != "" {
		t.Fatalf("connector %+v", c)
	}
	var pipe struct {
		Procs []struct {
			Inference *struct {
				InputMap  []map[string]string `json:"input_map"`
				OutputMap []map[string]string `json:"output_map"`
				OneToOne  bool                `json:"one_to_one"`
			} `json:"ml_inference"`
			Rerank *struct {
				ByField struct {
					Target string `json:"target_field"`
				} `json:"by_field"`
			} `json:"rerank"`
		} `json:"response_processors"`
	}
	readJSON(t, "opensearch/pipeline-by-field.json", &pipe)
	if len(pipe.Procs) != 2 || pipe.Procs[0].Inference == nil || pipe.Procs[1].Rerank == nil || !pipe.Procs[0].Inference.OneToOne {
		t.Fatalf("pipeline %+v", pipe)
	}
	in, out := pipe.Procs[0].Inference.InputMap[0], pipe.Procs[0].Inference.OutputMap[0]
	if _, ok := in["text_docs"]; !ok {
		t.Fatalf("input_map %v has no text_docs", in)
	}
	if _, ok := in["query_text"]; !ok {
		t.Fatalf("input_map %v has no query_text", in)
	}
	target := pipe.Procs[1].Rerank.ByField.Target
	path, ok := out[target]
	if !ok {
		t.Fatalf("output_map %v does not write rerank.by_field's target %q", out, target)
	}
	// One call per hit: the document is one escaped string.
	for _, text := range texts {
		params := map[string]string{"text_docs": escaped(text), "query_text": escaped(query)}
		for k, v := range c.Parameters {
			params[k] = escaped(strings.ReplaceAll(v, "@CROSSRANK_MODEL@", ""))
		}
		body := renderConnector(c.Actions[0].Body, params)
		req, err := api.DecodeRerank([]byte(body))
		if err != nil {
			t.Fatalf("the sidecar rejects the rendered request %s: %v", body, err)
		}
		checkDocs(t, req, []string{text})
		res, resp := respond(t, req)
		v, err := JSONPath(resp, path)
		if err != nil || len(v) != 1 {
			t.Fatalf("output_map path %s on %s: %v %v", path, resp, v, err)
		}
		if f, err := v[0].(json.Number).Float64(); err != nil || !near(f, res.Scores[0]) {
			t.Fatalf("output_map path %s reads %v, want %v", path, v[0], res.Scores[0])
		}
	}
}

func TestProxyConfigExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(examplesDir(t), "elasticsearch/crossrank-proxy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	if err := config.Parse(b, &cfg); err != nil {
		t.Fatalf("crossrank-proxy.yaml: %v", err)
	}
	if cfg.Upstream == "" || len(cfg.Indices) == 0 {
		t.Fatalf("config %+v has no upstream or indices", cfg)
	}
	if _, err := proxy.New(proxy.Config{Upstream: cfg.Upstream, Indices: cfg.Indices}, proxy.RankerFunc(nil)); err != nil {
		t.Fatalf("proxy rejects the example's settings: %v", err)
	}
	var search map[string]any
	readJSON(t, "elasticsearch/search-proxy.json", &search)
	ext, _ := search["ext"].(map[string]any)
	if _, ok := ext["rerank"]; !ok {
		t.Fatal("search-proxy.json has no ext.rerank")
	}
}

// near says whether a score read back matches: the sidecar writes at most
// MaxDoubleLen characters, 15 or more significant digits.
func near(a, b float64) bool { return math.Abs(a-b) <= 1e-14*math.Max(1, math.Abs(b)) }
