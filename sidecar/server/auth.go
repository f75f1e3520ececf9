package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"strings"

	"github.com/crossrank/crossrank/sidecar/api"
)

// AuthConfig says who may call which routes (API.md, "Authentication").
type AuthConfig struct {
	// APIKeys are the accepted keys of the rerank APIs, /v1/models, the
	// _search proxy and (unless PublicMetrics) the metrics routes. None:
	// those routes are open.
	APIKeys []string
	// AdminKey guards /admin/ routes. Empty: they are served to loopback
	// clients only.
	AdminKey string
	// PublicMetrics leaves /metrics, /v1/stats, /dashboard and / open.
	PublicMetrics bool
	// ProxyMode reads the key of requests for the engine behind the proxy
	// (those the fallback serves) from X-Api-Key only: their Authorization
	// header belongs to the engine. The sidecar's own routes still take
	// Authorization: Bearer (the engines' connectors send it there).
	ProxyMode bool
	// Proxied says which requests the fallback (the proxy) serves; set by
	// WithAuth from the server's routes (nil with ProxyMode: all).
	Proxied func(*http.Request) bool
}

// WithAuth enforces cfg on every request (see Auth), with ProxyMode
// applied to the requests no route of the server takes.
func WithAuth(cfg AuthConfig) Option {
	return func(s *Server) {
		if cfg.ProxyMode && cfg.Proxied == nil {
			cfg.Proxied = s.proxied
		}
		s.middleware = append([]func(http.Handler) http.Handler{Auth(cfg)}, s.middleware...)
	}
}

// proxied says whether the fallback serves r (no route takes it).
func (s *Server) proxied(r *http.Request) bool {
	if s.fallback == nil {
		return false
	}
	methods, ok := s.routes[r.URL.Path]
	if !ok {
		return true
	}
	_, ok = methods[r.Method]
	return !ok && r.URL.Path != "/health" && r.URL.Path != "/ready"
}

// HeaderAPIKey is the header that carries a key besides Authorization:
// Bearer (and the only one in proxy mode).
const HeaderAPIKey = "X-Api-Key"

// Auth returns the middleware enforcing cfg (mount it with WithMiddleware,
// or use WithAuth, which knows the server's routes).
// Keys are compared in constant time (as SHA-256 digests, so their lengths
// do not leak either) and never logged. /health and /ready are always open.
func Auth(cfg AuthConfig) func(http.Handler) http.Handler {
	keys := make([][sha256.Size]byte, 0, len(cfg.APIKeys))
	for _, k := range cfg.APIKeys {
		if k != "" {
			keys = append(keys, sha256.Sum256([]byte(k)))
		}
	}
	var admin [][sha256.Size]byte
	if cfg.AdminKey != "" {
		admin = append(admin, sha256.Sum256([]byte(cfg.AdminKey)))
	}
	engineAuth := func(r *http.Request) bool {
		return cfg.ProxyMode && (cfg.Proxied == nil || cfg.Proxied(r))
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := r.URL.Path
			switch {
			case p == "/health" || p == "/ready":
			case strings.HasPrefix(p, "/admin/"):
				if len(admin) == 0 {
					if !loopback(r.RemoteAddr) {
						WriteError(w, r, api.Errorf(http.StatusForbidden, api.TypeForbidden, "admin routes are served to loopback clients only (set --admin-key to allow others)"))
						return
					}
				} else if !match(admin, r, false) {
					unauthorized(w, r, "admin")
					return
				}
			case len(keys) == 0:
			case cfg.PublicMetrics && (p == "/metrics" || p == "/v1/stats" || p == "/dashboard" || p == "/"):
			default:
				if !match(keys, r, engineAuth(r)) {
					unauthorized(w, r, "API")
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// presented is the key a request carries: X-Api-Key, else (outside proxy
// mode) Authorization: Bearer.
func presented(r *http.Request, proxyMode bool) (string, bool) {
	if vs := r.Header.Values(HeaderAPIKey); len(vs) > 0 {
		return vs[0], len(vs) == 1
	}
	if proxyMode {
		return "", false
	}
	a := r.Header.Get("Authorization")
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:]), true
	}
	return "", false
}

// match compares the request's key with every accepted one in constant
// time.
func match(accepted [][sha256.Size]byte, r *http.Request, proxyMode bool) bool {
	key, ok := presented(r, proxyMode)
	if !ok || key == "" {
		return false
	}
	d := sha256.Sum256([]byte(key))
	found := 0
	for i := range accepted {
		found |= subtle.ConstantTimeCompare(d[:], accepted[i][:])
	}
	return found == 1
}

func unauthorized(w http.ResponseWriter, r *http.Request, what string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="crossrank"`)
	WriteError(w, r, api.Errorf(http.StatusUnauthorized, api.TypeUnauthorized, "missing or wrong %s key: send Authorization: Bearer <key> or %s: <key>", what, HeaderAPIKey))
}

// loopback says whether a remote address is on the loopback interface.
func loopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
