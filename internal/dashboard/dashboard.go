// Package dashboard serves crossrank's live dashboard: one embedded HTML
// page (no external resources) that polls /v1/stats every second and draws
// the last 15 minutes of latency, throughput, errors per second by status
// class (4xx, 5xx, plugin), cache hit ratio (score cache, and the embedding
// cache when the stats carry it), stage times, padding waste, batch size,
// CPU, memory and, when the sidecar reports one, GPU charts on plain canvas
// elements. Its header names the default model from /v1/models, its kind
// (cross-encoder or bi-encoder) and whether its weights are trained or a
// random twin.
//
// Fields read beyond the metrics package's Point: the /v1/stats point
// fields embedding_cache_hits and embedding_cache_misses (integers, per
// second; the series stays empty without them) and, per /v1/models entry,
// id, default, twin (bool) and kind ("cross-encoder" or "bi-encoder"; a
// missing kind reads as cross-encoder).
package dashboard

import (
	_ "embed"
	"net/http"
)

//go:embed index.html
var page []byte

// Page returns the dashboard's HTML.
func Page() []byte { return append([]byte(nil), page...) }

// Handler serves the page (mount it on GET /dashboard). The page fetches
// "v1/stats" relative to its own URL, so /dashboard reads /v1/stats.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:")
		_, _ = w.Write(page)
	})
}

// Index answers GET / with a redirect to the dashboard, so the sidecar's
// root URL opens it. Mount it only where / is free: in _search proxy mode
// the engine's own GET / (cluster info, read by Elasticsearch clients) must
// pass through.
func Index() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.Redirect(w, r, "/dashboard", http.StatusFound)
	})
}
