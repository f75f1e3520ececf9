package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/crossrank/crossrank/sidecar/api"
)

// recoverPanics turns a panic anywhere below it (routes, the proxy, admin
// routes, middlewares) into a 500 in the one error shape, logs it with its
// stack, counts it (metrics.Recorder.Panic) and lets the server keep
// serving. When the answer had already started, the connection is aborted
// instead (http.ErrAbortHandler) so the client never takes a cut answer for
// a whole one.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := asStatusWriter(w)
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler { //nolint:errorlint // net/http's sentinel, compared as net/http does
				panic(v)
			}
			route := s.routeName(r)
			s.rec.Panic(route)
			s.log.LogAttrs(context.WithoutCancel(r.Context()), slog.LevelError, "panic serving request",
				slog.String("route", route), slog.String("request_id", RequestID(r.Context())),
				slog.String("panic", fmt.Sprint(v)), slog.String("stack", string(debug.Stack())))
			if sw.wrote {
				sw.status = http.StatusInternalServerError
				panic(http.ErrAbortHandler)
			}
			h := sw.Header()
			for k := range h {
				if k != HeaderRequestID {
					delete(h, k)
				}
			}
			WriteError(sw, r, &api.Error{Status: http.StatusInternalServerError, Type: api.TypeInternal,
				Message: "internal error (request " + RequestID(r.Context()) + ")", Err: fmt.Errorf("panic: %v", v)})
		}()
		next.ServeHTTP(sw, r)
	})
}

// WithMaxInflightBytes bounds the memory requests hold at once (0: no
// bound). A request is charged InflightCost times its body's length (a body
// of unknown length: the body limit): while it is served it holds its body,
// the documents' raw JSON and their texts, each about as long. One that
// would pass the bound is answered 429 with Retry-After before its body is
// read (one request alone is always admitted). See API.md, "Limits".
func WithMaxInflightBytes(n int64) Option { return func(s *Server) { s.maxInflight = n } }

// InflightCost is what one body byte costs against WithMaxInflightBytes.
const InflightCost = 3

// limitInflight admits a request when its body's bytes fit under the
// in-flight bound and releases them when it is answered.
func (s *Server) limitInflight(next http.Handler) http.Handler {
	if s.maxInflight <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := r.ContentLength
		if n < 0 || (s.maxBody > 0 && n > int64(s.maxBody)) {
			n = int64(s.maxBody)
		}
		if n <= 0 {
			next.ServeHTTP(w, r)
			return
		}
		n *= InflightCost
		if !reserve(&s.inflight, n, s.maxInflight) {
			w.Header().Set("Retry-After", "1")
			WriteError(w, r, api.Errorf(http.StatusTooManyRequests, api.TypeOverloaded,
				"too many request bytes in flight (limit %s bytes): retry later", strconv.FormatInt(s.maxInflight, 10)))
			return
		}
		defer s.inflight.Add(-n)
		next.ServeHTTP(w, r)
	})
}

// reserve adds n to ctr when the result stays within limit. One request
// alone is always admitted when nothing else is in flight, so a body within
// the body limit can always be served eventually.
func reserve(ctr *atomic.Int64, n, limit int64) bool {
	for {
		cur := ctr.Load()
		if cur > 0 && cur+n > limit {
			return false
		}
		if ctr.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// InflightBytes returns the bytes charged for the requests admitted and not
// yet answered.
func (s *Server) InflightBytes() int64 { return s.inflight.Load() }

// limitListener accepts at most n connections at once: Accept waits for
// one to close before taking the next (they wait in the kernel's queue).
func limitListener(ln net.Listener, n int) net.Listener {
	return &limitedListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

type limitedListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func (l *limitedListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitedListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
