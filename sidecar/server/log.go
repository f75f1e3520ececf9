package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"
)

// HeaderRequestID carries a request's id: taken from the client when valid,
// generated otherwise, and always echoed in the response.
const HeaderRequestID = "X-Request-Id"

// maxRequestIDLen bounds a client's request id.
const maxRequestIDLen = 128

// reqInfo is what the access log learns about a request while it runs.
type reqInfo struct {
	id    string
	pairs int
	model string
	err   error // the cause of an error answer
	// traceID is the request's trace id when tracing is on.
	traceID string
}

type infoKey struct{}

func infoOf(ctx context.Context) *reqInfo {
	info, _ := ctx.Value(infoKey{}).(*reqInfo)
	return info
}

// RequestID returns the id of the request ctx belongs to ("" outside one).
func RequestID(ctx context.Context) string {
	if info := infoOf(ctx); info != nil {
		return info.id
	}
	return ""
}

// validRequestID accepts 1 to 128 printable ASCII characters, no spaces.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// newRequestID returns a random id in UUID form.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func asStatusWriter(w http.ResponseWriter) *statusWriter {
	if sw, ok := w.(*statusWriter); ok {
		return sw
	}
	return &statusWriter{ResponseWriter: w, status: http.StatusOK}
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Flush lets streamed answers (the _search proxy) through.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accessLog gives the request its id (echoed in X-Request-Id) and logs one
// line per request: method, route, status, duration, pairs, model, request
// id, and for a 5xx its cause, at error level.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(HeaderRequestID)
		if !validRequestID(id) {
			id = newRequestID()
		}
		info := &reqInfo{id: id}
		w.Header().Set(HeaderRequestID, id)
		sw := asStatusWriter(w)
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), infoKey{}, info)))
		level := slog.LevelInfo
		if sw.status >= 500 {
			level = slog.LevelError
		}
		if !s.log.Enabled(r.Context(), level) {
			return
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method), slog.String("route", s.routeName(r)), slog.Int("status", sw.status),
			slog.Duration("duration", time.Since(start)), slog.Int("pairs", info.pairs), slog.String("model", info.model),
			slog.String("request_id", id),
		}
		if info.traceID != "" {
			attrs = append(attrs, slog.String("trace_id", info.traceID))
		}
		if sw.status >= 500 {
			if info.err != nil {
				attrs = append(attrs, slog.String("err", info.err.Error()))
			}
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

// routeName is the route a request took: its path for the server's routes,
// "fallback" (the _search proxy) or "none" for the rest, so the log's
// cardinality stays bounded.
func (s *Server) routeName(r *http.Request) string {
	if _, ok := s.routes[r.URL.Path]; ok {
		return r.URL.Path
	}
	if s.fallback != nil {
		return "fallback"
	}
	return "none"
}

// limitBody bounds every request body to the server's limit.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.maxBody > 0 {
			r.Body = http.MaxBytesReader(w, r.Body, int64(s.maxBody))
		}
		next.ServeHTTP(w, r)
	})
}
