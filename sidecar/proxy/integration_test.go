//go:build integration

package proxy_test

// The integration tests run the real thing: the engines (OpenSearch 2.19.6
// and 3.6.0 with the ml-commons and neural-search plugins, started by
// scripts/opensearch/start.sh; Elasticsearch 8.19.21 with security on,
// started by scripts/elasticsearch/start.sh), the crossrank binary serving
// the twin model in proxy mode in front of each, and `crossrank score` as the
// independent source of expected scores. Run them with `make integration`
// (which builds bin/crossrank and fetches the engines first). Every
// sidecar runs with an API key, which the tests, the engines' connectors and
// inference endpoints (set up by the examples' setup.sh) and the READMEs'
// commands send for real. The engines
// run one at a time. CROSSRANK_OPENSEARCH_URL, CROSSRANK_OPENSEARCH3_URL and
// CROSSRANK_ELASTICSEARCH_URL reuse a running node instead of starting one
// (Elasticsearch: user elastic, password $ELASTICSEARCH_PASSWORD or
// crossrank-dev); CROSSRANK_BIN names another binary.

import (
	"bufio"
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crossrank/crossrank/internal/testenv"
)

const (
	itQuery  = "how do cross encoders rerank search results"
	itWindow = 30
	itDocs   = 200
)

// engineSpec says how to start one engine and talk to it.
type engineSpec struct {
	name     string   // for messages: "OpenSearch 2.19.6"
	flavor   string   // "opensearch" or "elasticsearch"
	scripts  string   // folder of start.sh and stop.sh
	urlEnv   string   // variable naming a running node to reuse
	runEnv   string   // start.sh's run folder variable
	startEnv []string // more variables for start.sh
	user     string   // basic-auth user ("" when security is off)
	password string
	ml       bool // ml-commons + neural-search installed
}

func openSearchSpec(version string) engineSpec {
	s := engineSpec{name: "OpenSearch " + version, flavor: "opensearch", scripts: "scripts/opensearch",
		urlEnv: "CROSSRANK_OPENSEARCH_URL", runEnv: "OPENSEARCH_RUN_DIR", ml: true,
		startEnv: []string{"OPENSEARCH_VERSION=" + version}}
	if !strings.HasPrefix(version, "2.") {
		s.urlEnv = "CROSSRANK_OPENSEARCH3_URL"
	}
	return s
}

func elasticsearchSpec() engineSpec {
	pw := os.Getenv("ELASTICSEARCH_PASSWORD")
	if pw == "" {
		pw = "crossrank-dev"
	}
	return engineSpec{name: "Elasticsearch 8.19.21", flavor: "elasticsearch", scripts: "scripts/elasticsearch",
		urlEnv: "CROSSRANK_ELASTICSEARCH_URL", runEnv: "ELASTICSEARCH_RUN_DIR",
		startEnv: []string{"ELASTICSEARCH_PASSWORD=" + pw}, user: "elastic", password: pw}
}

type itEnv struct {
	spec            engineSpec
	root, bin, twin string
	engine          string // the engine's base URL
	run             string // its run folder ("" for a node reused from the environment)
	auth            string // Authorization header value for the engine ("" when security is off)
	sidecar         string // crossrank base URL (proxy and API)
	apiKey          string // the sidecar's API key
	index           string
	docs            map[string]map[string]any // _id → _source as indexed
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func httpDoHeader(t *testing.T, method, url, body string, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// quietly sends a request with the engine's credentials and ignores the
// answer and any error: clean-ups, which may find the node stopped (the
// README's commands stop it).
func (e *itEnv) quietly(method, url, body string) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if e.auth != "" {
		req.Header.Set("Authorization", e.auth)
	}
	if resp, err := http.DefaultClient.Do(req); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// do sends a request with the engine's credentials (to the engine, or to
// the proxy, which passes them on, with the sidecar's key in X-Api-Key).
func (e *itEnv) do(t *testing.T, method, url, body string) (int, http.Header, []byte) {
	t.Helper()
	return httpDoHeader(t, method, url, body, e.headers(url, nil))
}

// headers returns hdr with the engine's credentials and, for a URL of the
// sidecar, its API key in X-Api-Key (what a client of the proxy sends).
func (e *itEnv) headers(url string, hdr map[string]string) map[string]string {
	out := map[string]string{}
	if e.auth != "" {
		out["Authorization"] = e.auth
	}
	if e.sidecar != "" && strings.HasPrefix(url, e.sidecar+"/") {
		out["X-Api-Key"] = e.apiKey
	}
	for k, v := range hdr {
		out[k] = v
	}
	return out
}

// api sends a request to the sidecar's own API with its key as a bearer
// token.
func (e *itEnv) api(t *testing.T, method, path, body string) (int, http.Header, []byte) {
	t.Helper()
	return httpDoHeader(t, method, e.sidecar+path, body, map[string]string{"Authorization": "Bearer " + e.apiKey})
}

func mustOK(t *testing.T, what string, code int, body []byte) {
	t.Helper()
	if code >= 300 {
		t.Fatalf("%s: status %d: %s", what, code, body)
	}
}

// startEngine returns the URL and run folder of a running node: the one
// named by spec.urlEnv, or one started for this test (and stopped after it).
func startEngine(t *testing.T, root string, spec engineSpec) (string, string) {
	t.Helper()
	if u := os.Getenv(spec.urlEnv); u != "" {
		return strings.TrimSuffix(u, "/"), ""
	}
	// The node runs as nobody when the test runs as root: its folder must be
	// reachable (t.TempDir's parent is private).
	run, err := os.MkdirTemp("", "crossrank-"+spec.flavor+"-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(run, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })
	start := time.Now()
	cmd := exec.Command(filepath.Join(root, spec.scripts, "start.sh"))
	cmd.Env = append(append(os.Environ(), spec.runEnv+"="+run), spec.startEnv...)
	// A loaded 2-core machine has taken close to 4 minutes to start
	// OpenSearch 3.6 with its plugins: allow 10 unless told otherwise.
	for _, v := range []string{"OPENSEARCH_START_TIMEOUT", "ELASTICSEARCH_START_TIMEOUT"} {
		if os.Getenv(v) == "" {
			cmd.Env = append(cmd.Env, v+"=600")
		}
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	t.Cleanup(func() {
		stop := exec.Command(filepath.Join(root, spec.scripts, "stop.sh"), run)
		stop.Stderr = os.Stderr
		if err := stop.Run(); err != nil {
			t.Errorf("stopping %s: %v", spec.name, err)
		}
	})
	if err != nil {
		t.Fatalf("%s/start.sh: %v (run make integration, which fetches the engines)", spec.scripts, err)
	}
	t.Logf("%s started in %s", spec.name, time.Since(start).Round(100*time.Millisecond))
	return strings.TrimSpace(string(out)), run
}

var words = strings.Fields(`search results rerank ranking cross encoder encoders bi model query passage document relevance
score scores retrieval index shard cluster node token tokens batch latency throughput neural lexical bm25 dense sparse vector
transformer attention layer hidden weights cache queue plugin sandbox wasm engine elasticsearch opensearch sidecar proxy
how do what why the a of and for with in on to is are`)

// corpus makes itDocs documents from a fixed seed.
func corpus() []map[string]any {
	r := rand.New(rand.NewPCG(2024, 7))
	docs := make([]map[string]any, itDocs)
	for i := range docs {
		sent := func(n int) string {
			w := make([]string, n)
			for j := range w {
				w[j] = words[r.IntN(len(words))]
			}
			return strings.Join(w, " ")
		}
		docs[i] = map[string]any{"title": sent(3 + r.IntN(4)), "text": sent(12 + r.IntN(30)), "n": i}
	}
	docs[7]["text"] = `a "quoted" passage with a back\slash, unicode héllo 日本 and a newline
about how cross encoders rerank search results`
	return docs
}

func setupIT(t *testing.T, spec engineSpec) *itEnv {
	t.Helper()
	root := testenv.Root(t)
	e := &itEnv{spec: spec, root: root, bin: os.Getenv("CROSSRANK_BIN"), twin: testenv.TwinDir(t)}
	if spec.user != "" {
		e.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(spec.user+":"+spec.password))
	}
	if e.bin == "" {
		e.bin = filepath.Join(root, "bin/crossrank")
	}
	if _, err := os.Stat(e.bin); err != nil {
		t.Fatalf("%s: %v (run make build)", e.bin, err)
	}
	e.engine, e.run = startEngine(t, root, spec)
	e.index = fmt.Sprintf("crossrank-it-%d", time.Now().UnixNano()%1e9)

	// The index and the corpus, through the bulk API.
	code, _, b := e.do(t, "PUT", e.engine+"/"+e.index, `{"settings":{"number_of_shards":1,"number_of_replicas":0}}`)
	mustOK(t, "create index", code, b)
	t.Cleanup(func() { e.quietly("DELETE", e.engine+"/"+e.index, "") })
	var bulk bytes.Buffer
	e.docs = map[string]map[string]any{}
	for i, d := range corpus() {
		id := fmt.Sprintf("doc-%03d", i)
		fmt.Fprintf(&bulk, `{"index":{"_id":%q}}`+"\n", id)
		line, _ := json.Marshal(d)
		bulk.Write(line)
		bulk.WriteByte('\n')
		var back map[string]any
		_ = json.Unmarshal(line, &back)
		e.docs[id] = back
	}
	req, _ := http.NewRequest("POST", e.engine+"/"+e.index+"/_bulk?refresh=true", &bulk)
	req.Header.Set("Content-Type", "application/x-ndjson")
	if e.auth != "" {
		req.Header.Set("Authorization", e.auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || bytes.Contains(b, []byte(`"errors":true`)) {
		t.Fatalf("bulk: %d %s", resp.StatusCode, b)
	}

	// crossrank serve in proxy mode, defaults for the index, an API key.
	addr := freePort(t)
	e.sidecar = "http://" + addr
	var key [16]byte
	if _, err := crand.Read(key[:]); err != nil {
		t.Fatal(err)
	}
	e.apiKey = hex.EncodeToString(key[:])
	cfg := fmt.Sprintf(`addr: %s
models: [%s]
upstream: %s
api_key: [%s]
indices:
  %s:
    fields: [text]
    window: %d
    query_path: query.match.text
`, addr, e.twin, e.engine, e.apiKey, e.index, itWindow)
	cfgPath := filepath.Join(t.TempDir(), "crossrank.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(e.bin, "serve", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("crossrank serve output:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(120 * time.Second)
	for {
		resp, err := http.Get(e.sidecar + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			t.Fatalf("crossrank serve is not ready after 120 s: %s", logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	return e
}

// scoreCLI scores (query, passage) pairs with `crossrank score --jsonl`.
func (e *itEnv) scoreCLI(t *testing.T, query string, passages []string) []float64 {
	t.Helper()
	var in bytes.Buffer
	for _, p := range passages {
		line, _ := json.Marshal(map[string]string{"query": query, "passage": p})
		in.Write(line)
		in.WriteByte('\n')
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, "score", "--model", e.twin, "--jsonl")
	cmd.Stdin = &in
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("crossrank score: %v", err)
	}
	var scores []float64
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r struct{ Score float64 }
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("crossrank score output %q: %v", sc.Text(), err)
		}
		scores = append(scores, r.Score)
	}
	if len(scores) != len(passages) {
		t.Fatalf("crossrank score: %d scores for %d passages", len(scores), len(passages))
	}
	return scores
}

type itHit struct {
	ID     string          `json:"_id"`
	Score  *float64        `json:"_score"`
	Source json.RawMessage `json:"_source"`
	Rerank *struct {
		OriginalScore float64 `json:"original_score"`
	} `json:"_rerank"`
}

type itResp struct {
	Hits struct {
		Total    json.RawMessage `json:"total"`
		MaxScore *float64        `json:"max_score"`
		Hits     []itHit         `json:"hits"`
	} `json:"hits"`
}

func parseHits(t *testing.T, b []byte) itResp {
	t.Helper()
	var r itResp
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("search response %s: %v", b, err)
	}
	return r
}

func sourceText(t *testing.T, h itHit) string {
	t.Helper()
	var s struct{ Text string }
	if err := json.Unmarshal(h.Source, &s); err != nil {
		t.Fatal(err)
	}
	return s.Text
}

// expected holds the reference ranking: the engine's first hits for the
// query, each with the score `crossrank score` gives its text.
type expected struct {
	direct []itHit            // the engine's order, fetch hits
	score  map[string]float64 // _id → crossrank score
	order  []string           // the window by score (ties: engine order), then the rest
}

func (e *itEnv) reference(t *testing.T, fetch int) *expected {
	t.Helper()
	body := fmt.Sprintf(`{"size":%d,"query":{"match":{"text":%q}}}`, fetch, itQuery)
	code, _, b := e.do(t, "POST", e.engine+"/"+e.index+"/_search", body)
	mustOK(t, "direct search", code, b)
	ex := &expected{direct: parseHits(t, b).Hits.Hits, score: map[string]float64{}}
	if len(ex.direct) < fetch {
		t.Fatalf("the query matches %d documents, want at least %d", len(ex.direct), fetch)
	}
	texts := make([]string, len(ex.direct))
	for i, h := range ex.direct {
		texts[i] = sourceText(t, h)
	}
	scores := e.scoreCLI(t, itQuery, texts)
	for i, h := range ex.direct {
		ex.score[h.ID] = scores[i]
	}
	win := make([]itHit, min(itWindow, len(ex.direct)))
	copy(win, ex.direct)
	sort.SliceStable(win, func(a, b int) bool { return ex.score[win[a].ID] > ex.score[win[b].ID] })
	for _, h := range win {
		ex.order = append(ex.order, h.ID)
	}
	for _, h := range ex.direct[len(win):] {
		ex.order = append(ex.order, h.ID)
	}
	engine := make([]string, len(ex.direct))
	for i, h := range ex.direct {
		engine[i] = h.ID
	}
	if slices.Equal(engine, ex.order) {
		t.Fatal("the cross-encoder keeps the engine's order: this corpus cannot tell reranked from not")
	}
	return ex
}

// scoreTol is how far a score from a batch may be from the CLI's.
const scoreTol = 2e-5

// checkOrder checks that got lists the expected ids, allowing swaps of
// neighbours whose reference scores are within scoreTol (batching may move
// the last bits).
func checkOrder(t *testing.T, what string, got, want []string, score map[string]float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d hits, want %d\n got %v\nwant %v", what, len(got), len(want), got, want)
	}
	if slices.Equal(got, want) {
		return
	}
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Fatalf("%s: hits %v, want %v", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] && math.Abs(score[got[i]]-score[want[i]]) > scoreTol {
			t.Fatalf("%s: position %d is %s (score %v), want %s (score %v)", what, i, got[i], score[got[i]], want[i], score[want[i]])
		}
	}
}

func TestIntegrationOpenSearch(t *testing.T) { runEngineSuite(t, openSearchSpec("2.19.6")) }

func TestIntegrationOpenSearch3(t *testing.T) { runEngineSuite(t, openSearchSpec("3.6.0")) }

func TestIntegrationElasticsearch(t *testing.T) { runEngineSuite(t, elasticsearchSpec()) }

// runEngineSuite runs everything an engine supports against it.
func runEngineSuite(t *testing.T, spec engineSpec) {
	e := setupIT(t, spec)
	fetch := itWindow + 15
	ex := e.reference(t, fetch)

	t.Run("proxy reranks the window", func(t *testing.T) {
		pages := []struct{ from, size int }{{0, 10}, {0, itWindow}, {5, 10}, {25, 10}, {itWindow, 10}, {40, 5}}
		for _, pg := range pages {
			for _, how := range []string{"ext", "defaults", "defaults, short match"} {
				var body string
				switch how {
				case "ext":
					body = fmt.Sprintf(`{"from":%d,"size":%d,"query":{"match":{"text":%q}},"ext":{"rerank":{"query":%q,"fields":["text"],"window":%d}}}`,
						pg.from, pg.size, itQuery, itQuery, itWindow)
				case "defaults":
					body = fmt.Sprintf(`{"from":%d,"size":%d,"query":{"match":{"text":{"query":%q}}}}`, pg.from, pg.size, itQuery)
				default:
					body = fmt.Sprintf(`{"from":%d,"size":%d,"query":{"match":{"text":%q}}}`, pg.from, pg.size, itQuery)
				}
				what := fmt.Sprintf("%s from=%d size=%d", how, pg.from, pg.size)
				code, hdr, b := e.do(t, "POST", e.sidecar+"/"+e.index+"/_search", body)
				mustOK(t, what, code, b)
				if got := hdr.Get("X-Crossrank-Rerank"); got != fmt.Sprintf("applied; window=%d", itWindow) {
					t.Fatalf("%s: X-Crossrank-Rerank %q", what, got)
				}
				r := parseHits(t, b)
				var ids []string
				for _, h := range r.Hits.Hits {
					ids = append(ids, h.ID)
				}
				checkOrder(t, what, ids, ex.order[pg.from:min(pg.from+pg.size, len(ex.order))], ex.score)
				direct := map[string]itHit{}
				for _, h := range ex.direct {
					direct[h.ID] = h
				}
				for i, h := range r.Hits.Hits {
					var src map[string]any
					if err := json.Unmarshal(h.Source, &src); err != nil || !equalJSON(src, e.docs[h.ID]) {
						t.Fatalf("%s: %s _source %s, want %v", what, h.ID, h.Source, e.docs[h.ID])
					}
					inWindow := pg.from+i < itWindow
					if inWindow {
						if h.Rerank == nil || h.Score == nil || math.Abs(*h.Score-ex.score[h.ID]) > scoreTol {
							t.Fatalf("%s: %s _score %v, want crossrank score %v", what, h.ID, h.Score, ex.score[h.ID])
						}
						if math.Abs(h.Rerank.OriginalScore-*direct[h.ID].Score) > 1e-6 {
							t.Fatalf("%s: %s original_score %v, want the engine's %v", what, h.ID, h.Rerank.OriginalScore, *direct[h.ID].Score)
						}
					} else if h.Rerank != nil || h.Score == nil || *h.Score != *direct[h.ID].Score {
						t.Fatalf("%s: %s past the window should be untouched: %s", what, h.ID, mustJSON(h))
					}
				}
			}
		}
	})

	t.Run("searches without rerank pass through", func(t *testing.T) {
		body := `{"size":5,"query":{"match_all":{}},"sort":[{"n":"asc"}]}`
		code, hdr, b := e.do(t, "POST", e.sidecar+"/"+e.index+"/_search", body)
		mustOK(t, "match_all", code, b)
		if !strings.HasPrefix(hdr.Get("X-Crossrank-Rerank"), "skipped") {
			t.Errorf("X-Crossrank-Rerank %q", hdr.Get("X-Crossrank-Rerank"))
		}
		var ids []string
		for _, h := range parseHits(t, b).Hits.Hits {
			ids = append(ids, h.ID)
		}
		if !slices.Equal(ids, []string{"doc-000", "doc-001", "doc-002", "doc-003", "doc-004"}) {
			t.Errorf("sorted search through the proxy: %v", ids)
		}
	})

	t.Run("other paths pass through", func(t *testing.T) {
		code, _, b := e.do(t, "GET", e.sidecar+"/_cluster/health", "")
		mustOK(t, "health", code, b)
		var health struct {
			ClusterName string `json:"cluster_name"`
			Status      string `json:"status"`
		}
		if err := json.Unmarshal(b, &health); err != nil || health.Status == "" || health.Status == "red" {
			t.Errorf("health through the proxy: %s", b)
		}
		// (another index: a document written and deleted in the corpus's
		// index would change its BM25 statistics, and so the reference)
		writes := e.index + "-writes"
		t.Cleanup(func() { e.quietly("DELETE", e.engine+"/"+writes, "") })
		doc := `{"title":"new","text":"written through the proxy","n":999}`
		code, _, b = e.do(t, "PUT", e.sidecar+"/"+writes+"/_doc/through-proxy?refresh=true", doc)
		if code != 201 {
			t.Fatalf("PUT through the proxy: %d %s", code, b)
		}
		code, _, b = e.do(t, "GET", e.engine+"/"+writes+"/_doc/through-proxy", "")
		mustOK(t, "GET direct", code, b)
		var got struct {
			Source map[string]any `json:"_source"`
		}
		var want map[string]any
		_ = json.Unmarshal([]byte(doc), &want)
		if err := json.Unmarshal(b, &got); err != nil || !equalJSON(got.Source, want) {
			t.Errorf("document written through the proxy reads back as %s", b)
		}
		code, _, _ = e.do(t, "DELETE", e.sidecar+"/"+writes+"/_doc/through-proxy?refresh=true", "")
		if code != 200 {
			t.Errorf("DELETE through the proxy: %d", code)
		}
	})

	t.Run("engine errors come back as they are", func(t *testing.T) {
		body := `{"query":{"match":{"text":"x"}},"ext":{"rerank":{"query":"x"}}}`
		code, _, viaProxy := e.do(t, "POST", e.sidecar+"/no-such-index-here/_search", body)
		dcode, _, direct := e.do(t, "POST", e.engine+"/no-such-index-here/_search", `{"query":{"match":{"text":"x"}}}`)
		if code != 404 || dcode != 404 || !bytes.Equal(viaProxy, direct) {
			t.Errorf("missing index: proxy %d %s, engine %d %s", code, viaProxy, dcode, direct)
		}
		code, _, b := e.do(t, "POST", e.sidecar+"/"+e.index+"/_search", `{"query":{"nope":{}},"ext":{"rerank":{"query":"x"}}}`)
		if code != 400 || !bytes.Contains(b, []byte("parsing_exception")) {
			t.Errorf("bad query: %d %s", code, b)
		}
	})

	t.Run("the sidecar's API key", e.keySuite)
	t.Run("_msearch", func(t *testing.T) { e.msearchSuite(t, ex) })
	t.Run("/v1/rerank/hits keeps what the engine sent", e.hitsSuite)
	if spec.user != "" {
		t.Run("Authorization passes through", e.authSuite)
	}
	if spec.flavor == "elasticsearch" {
		t.Run("setup.sh shows the engine's errors", e.esSetupSuite)
	}
	if spec.ml {
		t.Run("OpenSearch reranks with the sidecar", func(t *testing.T) { e.mlSuite(t, ex) })
	}
	// Last: the README's clean-up stops the node.
	t.Run("README commands", e.readmeSuite)
}

// mlSuite runs examples/opensearch/setup.sh (twice: the second run must
// find what the first registered) and searches with its two pipelines.
func (e *itEnv) mlSuite(t *testing.T, ex *expected) {
	{
		code, _, b := e.do(t, "GET", e.engine+"/_cat/plugins?h=component", "")
		mustOK(t, "_cat/plugins", code, b)
		for _, p := range []string{"opensearch-ml", "opensearch-neural-search"} {
			if !bytes.Contains(b, []byte(p)) {
				t.Fatalf("plugin %s is not installed (%s); scripts/opensearch/fetch.sh installs it", p, b)
			}
		}
		setup := func() map[string]string {
			cmd := exec.Command(filepath.Join(e.root, "examples/opensearch/setup.sh"))
			cmd.Env = append(os.Environ(), "OPENSEARCH_URL="+e.engine, "CROSSRANK_URL="+e.sidecar,
				"CROSSRANK_API_KEY="+e.apiKey, `DOCUMENT_FIELDS=["text"]`, `QUERY_JSONPATH=$._request.query.match.text.query`)
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("examples/opensearch/setup.sh: %v\n%s", err, out)
			}
			ids := map[string]string{}
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				k, v, _ := strings.Cut(l, "=")
				ids[k] = v
			}
			return ids
		}
		ids := setup()
		if again := setup(); !equalJSON(again, ids) {
			t.Errorf("setup.sh run again registered anew: %v, then %v", ids, again)
		}
		t.Cleanup(func() {
			for _, m := range []string{ids["RERANK_MODEL_ID"], ids["BY_FIELD_MODEL_ID"]} {
				e.quietly("POST", e.engine+"/_plugins/_ml/models/"+m+"/_undeploy", "")
			}
		})

		// The sidecar requires its key: these searches succeed only if the
		// connectors send it (Authorization: Bearer ${credential.api_key}).
		n := 20
		for _, pipe := range []string{"crossrank-rerank", "crossrank-by-field"} {
			body := fmt.Sprintf(`{"size":%d,"query":{"match":{"text":{"query":%q}}},"ext":{"rerank":{"query_context":{"query_text":%q}}}}`, n, itQuery, itQuery)
			if pipe == "crossrank-by-field" {
				body = fmt.Sprintf(`{"size":%d,"query":{"match":{"text":{"query":%q}}}}`, n, itQuery)
			}
			code, _, b := e.do(t, "POST", e.engine+"/"+e.index+"/_search?search_pipeline="+pipe, body)
			mustOK(t, pipe, code, b)
			r := parseHits(t, b)
			var got, want []string
			for _, h := range ex.direct[:n] {
				want = append(want, h.ID)
			}
			sort.SliceStable(want, func(a, b int) bool { return ex.score[want[a]] > ex.score[want[b]] })
			for _, h := range r.Hits.Hits {
				got = append(got, h.ID)
				// OpenSearch carries the score as a float32.
				if h.Score == nil || math.Abs(*h.Score-ex.score[h.ID]) > scoreTol+1e-6 {
					t.Fatalf("%s: %s _score %v, want crossrank score %v", pipe, h.ID, h.Score, ex.score[h.ID])
				}
			}
			checkOrder(t, pipe, got, want, ex.score)
			t.Logf("%s: OpenSearch ordered %d hits by the sidecar's scores; top %v", pipe, len(got), got[:3])
		}

		// The README's warning: crossrank-rerank as the index default
		// fails every search without ext.rerank.query_context.
		code, _, b = e.do(t, "PUT", e.engine+"/"+e.index+"/_settings", `{"index.search.default_pipeline":"crossrank-rerank"}`)
		mustOK(t, "default pipeline", code, b)
		code, _, b = e.do(t, "POST", e.engine+"/"+e.index+"/_search", fmt.Sprintf(`{"query":{"match":{"text":%q}}}`, itQuery))
		e.do(t, "PUT", e.engine+"/"+e.index+"/_settings", `{"index.search.default_pipeline":null}`)
		t.Logf("crossrank-rerank as the default pipeline, a search without ext: %d %.200s", code, b)
		if code != 500 || !bytes.Contains(b, []byte("null_pointer_exception")) {
			t.Errorf("the README warns of a 500 null_pointer_exception; %s answered %d %s", e.spec.name, code, b)
		}
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
