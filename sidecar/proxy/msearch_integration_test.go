//go:build integration

package proxy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
)

// msearchSuite sends _msearch bodies through the proxy to the real engine:
// searches with their own ext.rerank, with the index defaults, with none,
// and failing ones, in one request.
func (e *itEnv) msearchSuite(t *testing.T, ex *expected) {
	ndjson := func(lines ...string) string { return strings.Join(lines, "\n") + "\n" }
	post := func(t *testing.T, path, body string) (int, http.Header, []byte) {
		t.Helper()
		hdr := e.headers(e.sidecar+path, map[string]string{"Content-Type": "application/x-ndjson"})
		return httpDoHeader(t, "POST", e.sidecar+path, body, hdr)
	}
	idx := fmt.Sprintf(`{"index":%q}`, e.index)

	t.Run("mixed searches, in order", func(t *testing.T) {
		body := ndjson(
			idx, fmt.Sprintf(`{"size":10,"query":{"match":{"text":%q}},"ext":{"rerank":{"query":%q,"fields":["text"],"window":%d}}}`, itQuery, itQuery, itWindow),
			`{"index":"no-such-index-here"}`, `{"query":{"match_all":{}}}`,
			idx, `{"size":3,"query":{"match_all":{}},"sort":[{"n":"asc"}]}`,
			`{}`, fmt.Sprintf(`{"from":25,"size":10,"query":{"match":{"text":%q}}}`, itQuery), // path target, defaults
			idx, `{"query":{"match_all":{}},"ext":{"rerank":{"query":"x","window":0}}}`,
		)
		code, hdr, b := post(t, "/"+e.index+"/_msearch", body)
		mustOK(t, "_msearch", code, b)
		if got := hdr.Get("X-Crossrank-Rerank"); got != "msearch; applied=2 of 5" {
			t.Errorf("X-Crossrank-Rerank %q", got)
		}
		var r struct {
			Responses []json.RawMessage `json:"responses"`
		}
		if err := json.Unmarshal(b, &r); err != nil || len(r.Responses) != 5 {
			t.Fatalf("_msearch answer: %v %s", err, b)
		}
		status := func(raw json.RawMessage) (int, string) {
			var s struct {
				Status int `json:"status"`
				Error  struct {
					Type string `json:"type"`
				} `json:"error"`
			}
			_ = json.Unmarshal(raw, &s)
			return s.Status, s.Error.Type
		}
		for i, want := range []struct {
			status int
			typ    string
		}{{200, ""}, {404, "index_not_found_exception"}, {200, ""}, {200, ""}, {400, "illegal_argument_exception"}} {
			if st, typ := status(r.Responses[i]); st != want.status || typ != want.typ {
				t.Errorf("response %d: status %d %q, want %d %q: %s", i, st, typ, want.status, want.typ, r.Responses[i])
			}
		}
		checkPage := func(what string, raw json.RawMessage, from, size int) {
			got := hitIDs(t, raw)
			checkOrder(t, what, got, ex.order[from:min(from+size, len(ex.order))], ex.score)
			for i, h := range parseHits(t, raw).Hits.Hits {
				if from+i < itWindow && (h.Score == nil || math.Abs(*h.Score-ex.score[h.ID]) > scoreTol) {
					t.Errorf("%s: %s _score %v, want %v", what, h.ID, h.Score, ex.score[h.ID])
				}
			}
		}
		checkPage("ext.rerank", r.Responses[0], 0, 10)
		checkPage("defaults across the window edge", r.Responses[3], 25, 10)
		if got := hitIDs(t, r.Responses[2]); strings.Join(got, ",") != "doc-000,doc-001,doc-002" {
			t.Errorf("search without rerank: %v", got)
		}
		// The engine's own error, as a direct search gets it.
		_, _, direct := e.do(t, "POST", e.engine+"/no-such-index-here/_search", `{"query":{"match_all":{}}}`)
		var d, m map[string]json.RawMessage
		_ = json.Unmarshal(direct, &d)
		_ = json.Unmarshal(r.Responses[1], &m)
		if !bytes.Equal(d["error"], m["error"]) {
			t.Errorf("missing index in _msearch: %s, direct %s", r.Responses[1], direct)
		}
	})

	t.Run("no rerank passes the engine's _msearch through", func(t *testing.T) {
		body := ndjson(`{"index":"no-such-index-here"}`, `{"query":{"match_all":{}}}`, `{}`, `{"size":2,"query":{"match_all":{}},"sort":[{"n":"desc"}]}`)
		code, hdr, b := post(t, "/_msearch", body)
		mustOK(t, "_msearch", code, b)
		if !strings.HasPrefix(hdr.Get("X-Crossrank-Rerank"), "skipped") {
			t.Errorf("X-Crossrank-Rerank %q", hdr.Get("X-Crossrank-Rerank"))
		}
		var r struct {
			Responses []json.RawMessage `json:"responses"`
		}
		if err := json.Unmarshal(b, &r); err != nil || len(r.Responses) != 2 {
			t.Fatalf("_msearch answer: %v %s", err, b)
		}
		// the second search has no index in its header: the engine
		// searches every index; its highest n is the last document indexed
		if ids := hitIDs(t, r.Responses[1]); len(ids) != 2 {
			t.Errorf("second search: %s", r.Responses[1])
		}
	})

	t.Run("invalid NDJSON is a 400 naming the line", func(t *testing.T) {
		for _, tc := range []struct{ body, want string }{
			{ndjson(idx, `{"query":{"match_all":{}}}`, idx, `{"query": nope}`), "line 4"},
			{ndjson(`not json`, `{}`), "line 1"},
			{ndjson(idx, `{}`, idx), "line 3"},
		} {
			code, _, b := post(t, "/_msearch", tc.body)
			var er struct {
				Error struct {
					Type   string `json:"type"`
					Reason string `json:"reason"`
				} `json:"error"`
				Status int `json:"status"`
			}
			if err := json.Unmarshal(b, &er); err != nil || code != 400 || er.Status != 400 || er.Error.Type == "" || !strings.Contains(er.Error.Reason, tc.want) {
				t.Errorf("%q: %d %s, want a 400 naming %s", tc.body, code, b, tc.want)
			}
		}
	})
}
