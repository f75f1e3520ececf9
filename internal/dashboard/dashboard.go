// Package dashboard serves crossrank's live dashboard: one embedded HTML
// page (no external resources) that polls /v1/stats every second and draws
// the last 15 minutes of latency, throughput, stage times, padding waste,
// batch size, CPU, memory and, when the sidecar reports one, GPU charts on
// plain canvas elements.
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
