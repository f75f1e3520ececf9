package host_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/crossrank/crossrank/plugins"
	"github.com/crossrank/crossrank/plugins/host"
	"github.com/valyala/fasthttp"
)

// TestReloadHandler serves the handler on loopback and reloads a changed
// plugin through it.
func TestReloadHandler(t *testing.T) {
	dir := t.TempDir()
	plugin := filepath.Join(dir, "clean.wasm")
	copyFile(t, wasmPath(t, "example-go"), plugin)
	h := newHost(t, host.Config{PluginDir: dir}) // no watcher: only the handler reloads
	if err := h.Load(context.Background(), map[string][]host.Step{"clean": {{Plugin: "clean"}}}, ""); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h.ReloadHandler()}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	url := "http://" + ln.Addr().String() + "/admin/plugins/reload"

	call := func(method string) (int, map[string]any) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(url)
		req.Header.SetMethod(method)
		if err := fasthttp.Do(req, resp); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		_ = json.Unmarshal(resp.Body(), &m)
		return resp.StatusCode(), m
	}
	passage := func() string {
		p, _ := h.Pipeline("clean")
		out, err := p.Prepare(context.Background(), wordTok{}, plugins.Input{Documents: docs("a &amp; b")})
		if err != nil {
			t.Fatal(err)
		}
		return out.Passages[0]
	}
	if got := passage(); got != "a &amp; b" {
		t.Fatalf("before: %q", got)
	}
	if code, _ := call("GET"); code != 405 {
		t.Errorf("GET: %d, want 405", code)
	}
	copyFile(t, filepath.Join(testenvRoot(t), "plugins", "wasm", "html.wasm"), plugin)
	if code, m := call("POST"); code != 200 || m["reloaded"] != true {
		t.Fatalf("POST: %d %v", code, m)
	}
	if got := passage(); got != "a & b" {
		t.Errorf("after reload: %q, want the html plugin's %q", got, "a & b")
	}
	if err := os.Remove(plugin); err != nil {
		t.Fatal(err)
	}
	if code, m := call("POST"); code != 500 || m["error"] == nil {
		t.Errorf("POST with the plugin gone: %d %v", code, m)
	}
	if got := passage(); got != "a & b" {
		t.Errorf("after a failed reload: %q", got)
	}
}
