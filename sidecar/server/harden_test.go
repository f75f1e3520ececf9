package server_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crossrank/crossrank/sidecar/rerank"
	"github.com/crossrank/crossrank/sidecar/server"
)

func errorOf(t *testing.T, b []byte) (typ, msg string) {
	t.Helper()
	var e struct {
		Error struct{ Type, Message string } `json:"error"`
	}
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Type == "" {
		t.Fatalf("body %q is not the JSON error shape (%v)", b, err)
	}
	return e.Error.Type, e.Error.Message
}

func get(t *testing.T, url string, hdr map[string]string) response {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

// TestPanicRecovery: a panic in a route, a middleware or the fallback is a
// 500 in the error shape, counted, and the server keeps serving; a panic
// after the answer started aborts that connection only.
func TestPanicRecovery(t *testing.T) {
	rec := newTally()
	boom := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })
	half := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(200)
		_, _ = w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		panic("late boom")
	})
	mw := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Panic") != "" {
				var m map[string]int
				m["nil map"]++ // a runtime error, not a panic(value)
			}
			next.ServeHTTP(w, r)
		})
	}
	sc := start(t, []rerank.Model{twin(t)}, nil, server.WithRecorder(rec),
		server.WithHandler("GET", "/boom", boom), server.WithHandler("GET", "/half", half),
		server.WithMiddleware(mw), server.WithFallback(boom))
	for _, tc := range []struct {
		path  string
		hdr   map[string]string
		route string
	}{
		{"/boom", nil, "/boom"},
		{"/v1/models", map[string]string{"X-Panic": "1"}, "/v1/models"},
		{"/anything/else", nil, "fallback"},
	} {
		r := get(t, sc.base+tc.path, tc.hdr)
		if r.status != 500 {
			t.Fatalf("%s: status %d, want 500: %s", tc.path, r.status, r.body)
		}
		if typ, msg := errorOf(t, r.body); typ != "internal_error" || !strings.Contains(msg, r.header.Get("X-Request-Id")) {
			t.Errorf("%s: error %s %q", tc.path, typ, msg)
		}
		if strings.Contains(string(r.body), "boom") || strings.Contains(string(r.body), "nil map") {
			t.Errorf("%s: the panic value reached the client: %s", tc.path, r.body)
		}
		rec.mu.Lock()
		n := rec.panics[tc.route]
		rec.mu.Unlock()
		if n != 1 {
			t.Errorf("%s: panics[%s] = %d, want 1", tc.path, tc.route, n)
		}
	}
	if resp, err := http.Get(sc.base + "/half"); err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Error("a panic after the answer started ended it cleanly: the client cannot tell it was cut")
		}
	}
	if r := post(t, sc.base+"/v1/rerank", []byte(`{"query":"q","documents":["a","b"]}`)); r.status != 200 {
		t.Fatalf("after the panics: status %d: %s", r.status, r.body)
	}
}

// TestAuth: with keys set, the rerank APIs, /v1/models and the metrics
// routes need one (Bearer or X-Api-Key), /health and /ready do not; admin
// routes need the admin key; in proxy mode only X-Api-Key counts.
func TestAuth(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("{}")) })
	m := twin(t)
	body := []byte(`{"query":"q","documents":["a"]}`)
	sc := start(t, []rerank.Model{m}, nil,
		server.WithMiddleware(server.Auth(server.AuthConfig{APIKeys: []string{"k1", "second-key"}, AdminKey: "adm"})),
		server.WithHandler("GET", "/metrics", ok), server.WithHandler("POST", "/admin/plugins/reload", ok))
	tests := []struct {
		method, path string
		hdr          map[string]string
		want         int
	}{
		{"POST", "/v1/rerank", nil, 401},
		{"POST", "/v1/rerank", map[string]string{"Authorization": "Bearer wrong"}, 401},
		{"POST", "/v1/rerank", map[string]string{"Authorization": "Bearer k1"}, 200},
		{"POST", "/rerank", map[string]string{"X-Api-Key": "second-key"}, 422},
		{"POST", "/v1/rerank", map[string]string{"Authorization": "Basic azE6"}, 401},
		{"POST", "/v1/rerank", map[string]string{"X-Api-Key": "k"}, 401},
		{"GET", "/v1/models", nil, 401},
		{"GET", "/v1/models", map[string]string{"Authorization": "bearer k1"}, 200},
		{"GET", "/metrics", nil, 401},
		{"GET", "/metrics", map[string]string{"X-Api-Key": "k1"}, 200},
		{"GET", "/health", nil, 200},
		{"GET", "/ready", nil, 200},
		{"POST", "/admin/plugins/reload", map[string]string{"X-Api-Key": "k1"}, 401},
		{"POST", "/admin/plugins/reload", map[string]string{"Authorization": "Bearer adm"}, 200},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, sc.base+tc.path, bytes.NewReader(body))
		for k, v := range tc.hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s %v: status %d, want %d: %s", tc.method, tc.path, tc.hdr, resp.StatusCode, tc.want, b)
			continue
		}
		if tc.want == 401 {
			if typ, _ := errorOf(t, b); typ != "unauthorized" || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s: 401 type %q, WWW-Authenticate %q", tc.method, tc.path, typ, resp.Header.Get("WWW-Authenticate"))
			}
		}
	}

	// Proxy mode: Authorization belongs to the engine; the key is X-Api-Key.
	seen := make(chan string, 4)
	fallback := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Get("Authorization")
		_, _ = w.Write([]byte("{}"))
	})
	px := start(t, []rerank.Model{m}, nil, server.WithFallback(fallback),
		server.WithAuth(server.AuthConfig{APIKeys: []string{"k1"}, ProxyMode: true}))
	if r := get(t, px.base+"/idx/_search", map[string]string{"Authorization": "Bearer k1"}); r.status != 401 {
		t.Errorf("proxy mode, key in Authorization: %d, want 401", r.status)
	}
	if r := get(t, px.base+"/idx/_search", map[string]string{"Authorization": "Basic ZWxhc3RpYzpz", "X-Api-Key": "k1"}); r.status != 200 {
		t.Errorf("proxy mode, key in X-Api-Key: %d: %s", r.status, r.body)
	} else if got := <-seen; got != "Basic ZWxhc3RpYzpz" {
		t.Errorf("the engine's Authorization reached the proxy as %q", got)
	}

	// The sidecar's own routes still take Bearer (the connectors send it).
	if r := postH(t, px.base+"/v1/rerank", body, map[string]string{"Authorization": "Bearer k1"}); r.status != 200 {
		t.Errorf("proxy mode, /v1/rerank with Bearer: %d %s", r.status, r.body)
	}

	// No admin key: admin routes are served to loopback clients (this test
	// is one); the rule itself is checked on a non-loopback address below.
	lo := start(t, []rerank.Model{m}, nil, server.WithHandler("POST", "/admin/plugins/reload", ok),
		server.WithMiddleware(server.Auth(server.AuthConfig{})))
	if r := post(t, lo.base+"/admin/plugins/reload", nil); r.status != 200 {
		t.Errorf("loopback admin without --admin-key: %d", r.status)
	}
	h := server.Auth(server.AuthConfig{})(ok)
	for addr, want := range map[string]int{"10.1.2.3:5555": 403, "[::1]:80": 200, "127.0.0.9:1": 200} {
		req, _ := http.NewRequest("POST", "/admin/plugins/reload", nil)
		req.RemoteAddr = addr
		rw := &recorderW{h: http.Header{}}
		h.ServeHTTP(rw, req)
		if rw.code != want {
			t.Errorf("admin from %s: %d, want %d", addr, rw.code, want)
		}
	}
}

func postH(t *testing.T, url string, body []byte, hdr map[string]string) response {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

type recorderW struct {
	h    http.Header
	code int
}

func (r *recorderW) Header() http.Header { return r.h }
func (r *recorderW) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = 200
	}
	return len(b), nil
}
func (r *recorderW) WriteHeader(c int) { r.code = c }

// TestInflightBytes: requests whose cost (InflightCost x body) would pass the in-flight bound
// get 429 with Retry-After while others are being served; once they are
// answered the bound is free again.
func TestInflightBytes(t *testing.T) {
	m := twin(t)
	g := newGated(m.Scorer)
	m.Scorer = g
	sc := start(t, []rerank.Model{m}, nil, server.WithMaxInflightBytes(300))
	body := []byte(`{"query":"q","documents":["some passage that is long enough"]}`) // 60 bytes
	done := make(chan response, 1)
	go func() { done <- post(t, sc.base+"/v1/rerank", body) }()
	<-g.entered
	r := post(t, sc.base+"/v1/rerank", body)
	if r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Fatalf("second request: status %d, Retry-After %q: %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	if typ, _ := errorOf(t, r.body); typ != "overloaded" {
		t.Errorf("type %q", typ)
	}
	if sc.srv.InflightBytes() != server.InflightCost*int64(len(body)) {
		t.Errorf("in flight %d, want %d", sc.srv.InflightBytes(), server.InflightCost*len(body))
	}
	g.open()
	if r := <-done; r.status != 200 {
		t.Fatalf("first request: %d: %s", r.status, r.body)
	}
	if r := post(t, sc.base+"/v1/rerank", body); r.status != 200 {
		t.Fatalf("after: %d", r.status)
	}
	if n := sc.srv.InflightBytes(); n != 0 {
		t.Errorf("in flight after all answered: %d", n)
	}
}

// TestConnectionLimit: past WithMaxConns, a new connection waits (it is not
// served) until one closes.
func TestConnectionLimit(t *testing.T) {
	sc := start(t, []rerank.Model{twin(t)}, nil, server.WithMaxConns(2))
	addr := strings.TrimPrefix(sc.base, "http://")
	var idle []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
		ask(t, c, 200)
	}
	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	_ = third.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := third.Write([]byte("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(third).ReadByte(); err == nil {
		t.Fatal("a third connection was served past the limit of 2")
	}
	idle[0].Close()
	_ = third.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(third), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("third connection after one closed: %v", err)
	}
	idle[1].Close()
}

func ask(t *testing.T, c net.Conn, want int) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// TestHostileHeaders: a header block past the limit is a 431; an invalid
// X-Request-Id (control characters, too long) is replaced, never echoed.
func TestHostileHeaders(t *testing.T) {
	sc := start(t, []rerank.Model{twin(t)}, nil)
	r := get(t, sc.base+"/health", map[string]string{"X-Big": strings.Repeat("a", server.MaxHeaderBytes+8192)})
	if r.status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("huge header: %d, want 431", r.status)
	}
	for _, hostile := range []string{"a forged level=ERROR msg=x", strings.Repeat("x", 129), "a\x1b[31mred"} {
		c, err := net.Dial("tcp", strings.TrimPrefix(sc.base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = c.Write([]byte("GET /health HTTP/1.1\r\nHost: x\r\nX-Request-Id: " + hostile + "\r\n\r\n"))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// net/http itself refuses control characters (400); anything it
		// lets through gets a fresh id instead of the client's.
		if id := resp.Header.Get("X-Request-Id"); resp.StatusCode != 400 && (id == hostile || len(id) != 36) {
			t.Errorf("request id %q taken from a hostile header", id)
		}
	}
}

// TestTLSReload: HTTPS with a generated certificate; replacing the files
// changes the certificate of new handshakes while a connection opened
// before keeps working.
func TestTLSReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, certFile, keyFile, "first")
	rl, err := server.NewTLSReloader(certFile, keyFile, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	rl.CheckEvery = 0
	sc := start(t, []rerank.Model{twin(t)}, nil, server.WithTLS(rl.Config()))
	base := strings.Replace(sc.base, "http://", "https://", 1)
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // the test's own certificate
	defer tr.CloseIdleConnections()
	old := &http.Client{Transport: tr}
	cn := func(c *http.Client) string {
		resp, err := c.Get(base + "/health")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.TLS.PeerCertificates[0].Subject.CommonName
	}
	if got := cn(old); got != "first" {
		t.Fatalf("certificate %q", got)
	}
	writeCert(t, certFile, keyFile, "second")
	fresh := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // the test's own certificate
	defer fresh.CloseIdleConnections()
	if got := cn(&http.Client{Transport: fresh}); got != "second" {
		t.Errorf("after the files changed: certificate %q, want second", got)
	}
	if got := cn(old); got != "first" {
		t.Errorf("the connection opened before was dropped or re-handshaken: %q", got)
	}
	if r, err := http.Get(sc.base + "/health"); err == nil {
		r.Body.Close()
		if r.StatusCode == 200 {
			t.Error("plain HTTP answered on the TLS port")
		}
	}
}

// writeCert writes a self-signed ECDSA certificate for 127.0.0.1 named cn.
func writeCert(t *testing.T, certFile, keyFile, cn string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestHostileBodies: deeply nested JSON (in documents, in a hits response),
// a huge number of documents and request smuggling attempts get a clear
// 4xx, and the server keeps serving.
func TestHostileBodies(t *testing.T) {
	sc := start(t, []rerank.Model{twin(t)}, []rerank.Option{rerank.WithMaxDocuments(1000)})
	deep := strings.Repeat(`{"a":`, 100000) + `"x"` + strings.Repeat(`}`, 100000)
	deepArr := strings.Repeat(`[`, 100000) + strings.Repeat(`]`, 100000)
	many := `"d"` + strings.Repeat(`,"d"`, 200000)
	tests := []struct {
		name, path, body string
		want             int
	}{
		{"nested document", "/v1/rerank", `{"query":"q","documents":[` + deep + `]}`, 400},
		{"nested array field", "/v1/rerank", `{"query":"q","documents":["a"],"rank_fields":` + deepArr + `}`, 400},
		{"nested hits source", "/v1/rerank/hits", `{"query":"q","response":{"hits":{"hits":[{"_source":` + deep + `}]}}}`, 400},
		{"200001 documents", "/v1/rerank", `{"query":"q","documents":[` + many + `]}`, 422},
	}
	for _, tc := range tests {
		r := post(t, sc.base+tc.path, []byte(tc.body))
		if r.status != tc.want {
			t.Errorf("%s: status %d, want %d: %.200s", tc.name, r.status, tc.want, r.body)
		}
	}
	// Conflicting framing is refused (400, or 501 for an unknown transfer
	// coding) and nothing after it is read as a request. (Content-Length
	// with Transfer-Encoding: chunked is framed by the chunks, RFC 9112
	// §6.3, as net/http does; the proxy re-frames every body it forwards.)
	smuggle := []string{
		"POST /v1/rerank HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\n{}{}GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /v1/rerank HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /v1/rerank HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n",
	}
	for i, raw := range smuggle {
		c, err := net.Dial("tcp", strings.TrimPrefix(sc.base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = c.Write([]byte(raw))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("smuggling %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 && resp.StatusCode != 501 {
			t.Errorf("smuggling %d: status %d, want 400 or 501", i, resp.StatusCode)
		}
		if second, err := http.ReadResponse(br, nil); err == nil {
			second.Body.Close()
			t.Errorf("smuggling %d: a second request was read from the same bytes (status %d)", i, second.StatusCode)
		}
		c.Close()
	}
	if r := post(t, sc.base+"/v1/rerank", []byte(`{"query":"q","documents":["a"]}`)); r.status != 200 {
		t.Fatalf("after hostile bodies: %d", r.status)
	}
}

// TestSlowClients: a client that trickles its headers or its body is cut
// off at the read timeouts instead of holding a connection forever.
func TestSlowClients(t *testing.T) {
	sc := start(t, []rerank.Model{twin(t)}, nil, server.WithReadTimeouts(300*time.Millisecond, 600*time.Millisecond))
	for name, parts := range map[string][]string{
		"headers": {"GET /health HTTP/1.1\r\n", "Host: x\r\n", "X-A: 1\r\n", "X-B: 2\r\n", "X-C: 3\r\n", "X-D: 4\r\n"},
		"body":    {"POST /v1/rerank HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{", `"query"`, `:"q"`, `,`, `"documents"`, `:[`},
	} {
		c, err := net.Dial("tcp", strings.TrimPrefix(sc.base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		cut := false
		for _, p := range parts {
			if _, err := c.Write([]byte(p)); err != nil {
				cut = true
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(c) // the server answers (408/400) or just closes
		t.Logf("%s: closed after %v: %.60q", name, time.Since(start), b)
		c.Close()
		if !cut && time.Since(start) > 5*time.Second {
			t.Errorf("%s: a slow client kept the connection for %v", name, time.Since(start))
		}
		if strings.Contains(string(b), "200 OK") {
			t.Errorf("%s: a trickled request was served: %.100s", name, b)
		}
	}
	if r := get(t, sc.base+"/health", nil); r.status != 200 {
		t.Fatal("server not serving after slow clients")
	}
}
