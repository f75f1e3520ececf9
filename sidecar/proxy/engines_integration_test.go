//go:build integration

package proxy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// hitsSuite sends real engine responses that carry highlight, fields,
// inner_hits, collapse, aggregations, sort values with search_after, a
// point-in-time id and track_total_hits to POST /v1/rerank/hits, and checks
// that everything but the window's order, _score, _rerank and max_score comes
// back as the engine wrote it.
func (e *itEnv) hitsSuite(t *testing.T) {
	idx := e.index + "-features"
	code, _, b := e.do(t, "PUT", e.engine+"/"+idx, `{"settings":{"number_of_shards":1,"number_of_replicas":0},
"mappings":{"properties":{"text":{"type":"text"},"tag":{"type":"keyword"},"n":{"type":"integer"},
"notes":{"type":"nested","properties":{"note":{"type":"text"}}}}}}`)
	mustOK(t, "create "+idx, code, b)
	t.Cleanup(func() { e.quietly("DELETE", e.engine+"/"+idx, "") })
	var bulk bytes.Buffer
	for i, d := range corpus()[:80] {
		d["tag"] = fmt.Sprintf("t%d", i%6)
		d["notes"] = []map[string]string{{"note": words[i%len(words)] + " rerank"}, {"note": words[(i*7)%len(words)]}}
		line, _ := json.Marshal(d)
		fmt.Fprintf(&bulk, "{\"index\":{\"_id\":\"f-%03d\"}}\n%s\n", i, line)
	}
	code, _, b = e.do(t, "POST", e.engine+"/"+idx+"/_bulk?refresh=true", bulk.String())
	if code != 200 || bytes.Contains(b, []byte(`"errors":true`)) {
		t.Fatalf("bulk: %d %s", code, b)
	}
	match := fmt.Sprintf(`{"match":{"text":%q}}`, itQuery)

	check := func(t *testing.T, what string, resp []byte, window int, must []string) {
		t.Helper()
		for _, m := range must {
			if !bytes.Contains(resp, []byte(`"`+m+`"`)) {
				t.Fatalf("%s: the engine's response has no %q: %s", what, m, resp)
			}
		}
		// (json.Marshal would HTML-escape the response's "<em>")
		req := fmt.Sprintf(`{"query":%q,"fields":["text"],"window":%d,"response":%s}`, itQuery, window, resp)
		code, _, out := e.api(t, "POST", "/v1/rerank/hits", req)
		mustOK(t, what+": /v1/rerank/hits", code, out)
		compareReranked(t, what, resp, out, window)
	}

	t.Run("highlight fields inner_hits aggregations track_total_hits", func(t *testing.T) {
		body := fmt.Sprintf(`{"size":20,"track_total_hits":true,"query":{"bool":{"must":[%s],
"should":[{"nested":{"path":"notes","query":{"match":{"notes.note":"rerank"}},"inner_hits":{"size":1}}}]}},
"highlight":{"fields":{"text":{}}},"fields":["tag","n"],"aggs":{"tags":{"terms":{"field":"tag"}},"avg_n":{"avg":{"field":"n"}}}}`, match)
		code, _, resp := e.do(t, "POST", e.engine+"/"+idx+"/_search", body)
		mustOK(t, "search", code, resp)
		check(t, "features", resp, 15, []string{"highlight", "fields", "inner_hits", "aggregations"})
	})

	t.Run("collapse", func(t *testing.T) {
		body := fmt.Sprintf(`{"size":6,"query":%s,"collapse":{"field":"tag","inner_hits":{"name":"best","size":2}}}`, match)
		code, _, resp := e.do(t, "POST", e.engine+"/"+idx+"/_search", body)
		mustOK(t, "search", code, resp)
		check(t, "collapse", resp, 6, []string{"inner_hits", "best"})
	})

	t.Run("point in time, sort and search_after", func(t *testing.T) {
		var pit string
		if e.spec.flavor == "elasticsearch" {
			code, _, b := e.do(t, "POST", e.engine+"/"+idx+"/_pit?keep_alive=2m", "")
			mustOK(t, "open PIT", code, b)
			var r struct{ ID string }
			_ = json.Unmarshal(b, &r)
			pit = r.ID
			t.Cleanup(func() { e.quietly("DELETE", e.engine+"/_pit", fmt.Sprintf(`{"id":%q}`, pit)) })
		} else {
			code, _, b := e.do(t, "POST", e.engine+"/"+idx+"/_search/point_in_time?keep_alive=2m", "")
			mustOK(t, "open PIT", code, b)
			var r struct {
				PitID string `json:"pit_id"`
			}
			_ = json.Unmarshal(b, &r)
			pit = r.PitID
			t.Cleanup(func() {
				e.quietly("DELETE", e.engine+"/_search/point_in_time", fmt.Sprintf(`{"pit_id":[%q]}`, pit))
			})
		}
		if pit == "" {
			t.Fatal("no point-in-time id")
		}
		page := func(after string) []byte {
			body := fmt.Sprintf(`{"size":10,"track_total_hits":true,"query":%s,"sort":[{"_score":"desc"},{"n":"asc"}],"pit":{"id":%q,"keep_alive":"2m"}%s}`,
				match, pit, after)
			code, _, resp := e.do(t, "POST", e.engine+"/_search", body)
			mustOK(t, "PIT search", code, resp)
			return resp
		}
		first := page("")
		var r struct {
			Hits struct {
				Hits []struct {
					Sort json.RawMessage `json:"sort"`
				} `json:"hits"`
			} `json:"hits"`
		}
		if err := json.Unmarshal(first, &r); err != nil || len(r.Hits.Hits) != 10 {
			t.Fatalf("first page: %v %s", err, first)
		}
		second := page(`,"search_after":` + string(r.Hits.Hits[9].Sort))
		check(t, "first page", first, 10, []string{"pit_id", "sort"})
		check(t, "search_after page", second, 10, []string{"pit_id", "sort"})
		// search_after through the proxy passes through (reranking a later
		// page alone would reorder across pages).
		code, hdr, viaProxy := e.do(t, "POST", e.sidecar+"/_search", fmt.Sprintf(`{"size":10,"query":%s,"sort":[{"_score":"desc"},{"n":"asc"}],"pit":{"id":%q,"keep_alive":"2m"},"search_after":%s}`,
			match, pit, r.Hits.Hits[9].Sort))
		mustOK(t, "search_after through the proxy", code, viaProxy)
		if !strings.HasPrefix(hdr.Get("X-Crossrank-Rerank"), "skipped") || !slices.Equal(hitIDs(t, viaProxy), hitIDs(t, second)) {
			t.Errorf("search_after through the proxy: %s %v, want %v", hdr.Get("X-Crossrank-Rerank"), hitIDs(t, viaProxy), hitIDs(t, second))
		}
	})
}

func hitIDs(t *testing.T, b []byte) []string {
	t.Helper()
	var ids []string
	for _, h := range parseHits(t, b).Hits.Hits {
		ids = append(ids, h.ID)
	}
	return ids
}

// compareReranked checks a /v1/rerank/hits answer against the response it
// was given: the same top-level members and hits members byte for byte
// (max_score aside), the window's hits the same set with _score descending
// and the engine's score in _rerank.original_score, every member of every
// hit but _score and _rerank unchanged, and the hits after the window as
// they were.
func compareReranked(t *testing.T, what string, in, out []byte, window int) {
	t.Helper()
	var a, b map[string]json.RawMessage
	if err := json.Unmarshal(in, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &b); err != nil {
		t.Fatalf("%s: answer %s: %v", what, out, err)
	}
	for k, v := range a {
		if k != "hits" && !bytes.Equal(v, b[k]) {
			t.Errorf("%s: %s changed:\n got %s\nwant %s", what, k, b[k], v)
		}
	}
	var ah, bh map[string]json.RawMessage
	_ = json.Unmarshal(a["hits"], &ah)
	_ = json.Unmarshal(b["hits"], &bh)
	for k, v := range ah {
		if k != "hits" && k != "max_score" && !bytes.Equal(v, bh[k]) {
			t.Errorf("%s: hits.%s changed: got %s, want %s", what, k, bh[k], v)
		}
	}
	var ahits, bhits []map[string]json.RawMessage
	_ = json.Unmarshal(ah["hits"], &ahits)
	_ = json.Unmarshal(bh["hits"], &bhits)
	if len(ahits) != len(bhits) {
		t.Fatalf("%s: %d hits, want %d", what, len(bhits), len(ahits))
	}
	byID := map[string]map[string]json.RawMessage{}
	for _, h := range ahits {
		byID[string(h["_id"])] = h
	}
	w := min(window, len(ahits))
	var scores []float64
	for i, h := range bhits {
		orig, ok := byID[string(h["_id"])]
		if !ok {
			t.Fatalf("%s: hit %s is not the engine's", what, h["_id"])
		}
		if i >= w {
			if !equalJSON(h, ahits[i]) {
				t.Errorf("%s: hit %d past the window changed: %s", what, i, mustJSON(h))
			}
			continue
		}
		for k, v := range orig {
			if k == "_score" {
				continue
			}
			if !bytes.Equal(v, h[k]) {
				t.Errorf("%s: hit %s: %s changed:\n got %s\nwant %s", what, h["_id"], k, h[k], v)
			}
		}
		var rr struct {
			OriginalScore *float64 `json:"original_score"`
		}
		var origScore *float64
		_ = json.Unmarshal(orig["_score"], &origScore)
		if err := json.Unmarshal(h["_rerank"], &rr); err != nil || (origScore != nil && (rr.OriginalScore == nil || *rr.OriginalScore != *origScore)) {
			t.Errorf("%s: hit %s: _rerank %s, engine _score %s", what, h["_id"], h["_rerank"], orig["_score"])
		}
		var s float64
		if err := json.Unmarshal(h["_score"], &s); err != nil {
			t.Fatalf("%s: hit %s: _score %s", what, h["_id"], h["_score"])
		}
		scores = append(scores, s)
	}
	if !sort.SliceIsSorted(scores, func(i, j int) bool { return scores[i] > scores[j] }) {
		t.Errorf("%s: the window's scores are not descending: %v", what, scores)
	}
	var ids []string
	for _, h := range bhits[:w] {
		ids = append(ids, string(h["_id"]))
	}
	var orig []string
	for _, h := range ahits[:w] {
		orig = append(orig, string(h["_id"]))
	}
	t.Logf("%s: window of %d reordered: %v", what, w, !slices.Equal(ids, orig))
}

// authSuite checks the client's Authorization against the engine's real
// authentication through the proxy: a wrong password or none comes back as
// the engine's own 401, status, challenge and body byte for byte.
func (e *itEnv) authSuite(t *testing.T) {
	search := fmt.Sprintf(`{"query":{"match":{"text":%q}},"ext":{"rerank":{"query":%q}}}`, itQuery, itQuery)
	plain := fmt.Sprintf(`{"query":{"match":{"text":%q}}}`, itQuery)
	cases := []struct {
		name string
		hdr  map[string]string
	}{
		{"wrong password", map[string]string{"Authorization": "Basic ZWxhc3RpYzp3cm9uZw=="}},
		{"no credentials", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/" + e.index + "/_search", "/_cluster/health"} {
				pcode, phdr, viaProxy := httpDoHeader(t, "POST", e.sidecar+path, search, withKey(tc.hdr, e.apiKey))
				dcode, dhdr, direct := httpDoHeader(t, "POST", e.engine+path, plain, tc.hdr)
				if pcode != 401 || dcode != 401 || !bytes.Equal(viaProxy, direct) {
					t.Errorf("%s: proxy %d %s\nengine %d %s", path, pcode, viaProxy, dcode, direct)
				}
				if !slices.Equal(phdr.Values("WWW-Authenticate"), dhdr.Values("WWW-Authenticate")) || len(dhdr.Values("WWW-Authenticate")) == 0 {
					t.Errorf("%s: WWW-Authenticate through the proxy %q, from the engine %q", path, phdr.Values("WWW-Authenticate"), dhdr.Values("WWW-Authenticate"))
				}
			}
			nd := fmt.Sprintf("{\"index\":%q}\n%s\n", e.index, search)
			hdr := map[string]string{"Content-Type": "application/x-ndjson", "X-Api-Key": e.apiKey}
			for k, v := range tc.hdr {
				hdr[k] = v
			}
			code, h, b := httpDoHeader(t, "POST", e.sidecar+"/_msearch", nd, hdr)
			if code != http.StatusUnauthorized || len(h.Values("WWW-Authenticate")) == 0 || !bytes.Contains(b, []byte("security_exception")) {
				t.Errorf("_msearch with %s: %d %v %s", tc.name, code, h, b)
			}
		})
	}
	t.Run("right password", func(t *testing.T) {
		code, hdr, b := e.do(t, "POST", e.sidecar+"/"+e.index+"/_search", search)
		mustOK(t, "search", code, b)
		if !strings.HasPrefix(hdr.Get("X-Crossrank-Rerank"), "applied") {
			t.Errorf("X-Crossrank-Rerank %q", hdr.Get("X-Crossrank-Rerank"))
		}
	})
}

// esSetupSuite runs examples/elasticsearch/setup.sh against the real node,
// which has no inference module: the script must fail and show the
// engine's own answer, not hide it (the old `curl -f` did).
func (e *itEnv) esSetupSuite(t *testing.T) {
	_, _, direct := e.do(t, "GET", e.engine+"/_inference/rerank/crossrank", "")
	cmd := exec.Command(filepath.Join(e.root, "examples/elasticsearch/setup.sh"))
	cmd.Env = append(os.Environ(), "ELASTICSEARCH_URL="+e.engine, "CROSSRANK_URL="+e.sidecar,
		"CROSSRANK_API_KEY="+e.apiKey, "ELASTICSEARCH_CURL=-u "+e.spec.user+":"+e.spec.password)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("setup.sh succeeded on a node without the inference module: %s", out)
	}
	if len(bytes.TrimSpace(direct)) == 0 || !bytes.Contains(out, bytes.TrimSpace(direct)) {
		t.Errorf("setup.sh output %q does not show the engine's answer %q", out, direct)
	}
	t.Logf("setup.sh on the integ-test node: %s", bytes.TrimSpace(out))
}

// withKey returns hdr (the engine's credentials, or none) with the
// sidecar's key in X-Api-Key, as a client of the proxy sends it.
func withKey(hdr map[string]string, key string) map[string]string {
	out := map[string]string{"X-Api-Key": key}
	for k, v := range hdr {
		out[k] = v
	}
	return out
}

// keySuite checks the sidecar's own API key on the real sidecar in front
// of the real engine: the rerank APIs, /v1/models, the _search proxy and
// _msearch answer a request without the key, or with a wrong one, with the
// sidecar's 401 (WWW-Authenticate: Bearer, the JSON error shape) and forward
// nothing; in proxy mode a bearer token is the engine's, so only X-Api-Key
// carries the sidecar's key; /health and /ready stay open.
func (e *itEnv) keySuite(t *testing.T) {
	rerank := fmt.Sprintf(`{"query":%q,"documents":["cross encoders rerank search results","bm25"]}`, itQuery)
	search := fmt.Sprintf(`{"size":3,"query":{"match":{"text":%q}}}`, itQuery)
	nd := fmt.Sprintf("{\"index\":%q}\n%s\n", e.index, search)
	var engine map[string]string
	if e.auth != "" {
		engine = map[string]string{"Authorization": e.auth}
	}
	with := func(base map[string]string, k, v string) map[string]string {
		out := map[string]string{k: v}
		for bk, bv := range base {
			out[bk] = bv
		}
		return out
	}
	refused := []struct {
		name, method, path, body string
		hdr                      map[string]string
	}{
		{"rerank without a key", "POST", "/v1/rerank", rerank, nil},
		{"rerank with a wrong bearer token", "POST", "/v1/rerank", rerank, map[string]string{"Authorization": "Bearer wrong-" + e.apiKey}},
		{"rerank with a wrong X-Api-Key", "POST", "/v1/rerank", rerank, map[string]string{"X-Api-Key": "wrong-" + e.apiKey}},
		{"rerank/hits without a key", "POST", "/v1/rerank/hits", `{"query":"q","response":{"hits":{"hits":[]}}}`, nil},
		{"models without a key", "GET", "/v1/models", "", nil},
		{"_search with the engine's credentials, no key", "POST", "/" + e.index + "/_search", search, engine},
		{"_search with a wrong key", "POST", "/" + e.index + "/_search", search, with(engine, "X-Api-Key", "wrong-"+e.apiKey)},
		{"_search with the key as a bearer token", "POST", "/" + e.index + "/_search", search, map[string]string{"Authorization": "Bearer " + e.apiKey}},
		{"_msearch without a key", "POST", "/_msearch", nd, with(engine, "Content-Type", "application/x-ndjson")},
		{"other engine paths without a key", "GET", "/_cluster/health", "", engine},
	}
	for _, tc := range refused {
		code, hdr, b := httpDoHeader(t, tc.method, e.sidecar+tc.path, tc.body, tc.hdr)
		var r struct {
			Error struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if code != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") ||
			json.Unmarshal(b, &r) != nil || r.Error.Type != "unauthorized" || r.Error.Message == "" {
			t.Errorf("%s: %d, WWW-Authenticate %q, %s; want the sidecar's 401 with a Bearer challenge", tc.name, code, hdr.Get("WWW-Authenticate"), b)
		}
		if bytes.Contains(b, []byte(e.apiKey)) {
			t.Errorf("%s: the answer shows the key: %s", tc.name, b)
		}
	}

	accepted := []struct {
		name, method, path, body string
		hdr                      map[string]string
	}{
		{"rerank with the bearer token", "POST", "/v1/rerank", rerank, map[string]string{"Authorization": "Bearer " + e.apiKey}},
		{"rerank with X-Api-Key", "POST", "/v1/rerank", rerank, map[string]string{"X-Api-Key": e.apiKey}},
		{"models with the bearer token", "GET", "/v1/models", "", map[string]string{"Authorization": "Bearer " + e.apiKey}},
		{"_search with the key", "POST", "/" + e.index + "/_search", search, with(engine, "X-Api-Key", e.apiKey)},
		{"health without a key", "GET", "/health", "", nil},
		{"ready without a key", "GET", "/ready", "", nil},
	}
	for _, tc := range accepted {
		code, _, b := httpDoHeader(t, tc.method, e.sidecar+tc.path, tc.body, tc.hdr)
		if code != http.StatusOK {
			t.Errorf("%s: %d %s", tc.name, code, b)
		}
	}
}
