package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crossrank/crossrank/internal/testenv"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServeSIGTERM runs the real binary: it serves on the twin, says the
// twin's scores are not meaningful, and on SIGTERM stops accepting, answers
// every request already read, and exits 0.
func TestServeSIGTERM(t *testing.T) {
	model := testenv.TwinDir(t)
	lib := testenv.ORTLib(t)
	bin := filepath.Join(t.TempDir(), "crossrank")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "serve", "--model", model, "--addr", addr, "--ort-lib", lib, "--workers", "1", "--max-batch-pairs", "4", "--shutdown-grace", "60s")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	base := "http://" + addr
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(base + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 90 s; log:\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Several requests written on open connections, then SIGTERM.
	docs := make([]string, 12)
	for i := range docs {
		docs[i] = strings.Repeat(fmt.Sprintf("passage %d about rivers and bridges ", i), 12)
	}
	body, _ := json.Marshal(map[string]any{"query": "river bridge", "documents": docs})
	const n = 4
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /v1/rerank HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body)
		conns[i] = c
	}
	time.Sleep(300 * time.Millisecond) // the server has read them
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("still accepting connections after SIGTERM")
	}
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(120 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Errorf("in-flight request %d lost: %v", i, err)
			continue
		}
		var out struct{ Results []json.RawMessage }
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != 200 || err != nil || len(out.Results) != len(docs) {
			t.Errorf("in-flight request %d: %d, %d results, %v", i, resp.StatusCode, len(out.Results), err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit: %v; log:\n%s", err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("did not exit after SIGTERM; log:\n%s", stderr.String())
	}
	log := stderr.String()
	// The startup log says where the dashboard and metrics are, from the
	// bound address.
	for _, want := range []string{"NOT meaningful relevance", "shutting down", "stopped", "dashboard=http://" + addr + "/dashboard", "metrics=http://" + addr + "/metrics"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// TestServePrintConfig: --print-config shows flags, env and defaults merged.
func TestServePrintConfig(t *testing.T) {
	t.Setenv("CROSSRANK_MAX_WAIT", "9ms")
	c := newServeCmd()
	var out bytes.Buffer
	c.SetOut(&out)
	c.SetArgs([]string{"--model", "x=/models/x", "--workers", "3", "--print-config"})
	if err := c.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"- x=/models/x", "workers: 3", "max_wait: 9ms", "addr: 127.0.0.1:8080"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--print-config lacks %q:\n%s", want, out.String())
		}
	}
}

// TestServeMissingModel: a model folder that does not exist stops serve
// with an error naming it.
func TestServeMissingModel(t *testing.T) {
	c := newServeCmd()
	c.SetOut(new(bytes.Buffer))
	c.SetErr(new(bytes.Buffer))
	c.SetArgs([]string{"--model", "/nonexistent/model", "--addr", freeAddr(t), "--ort-lib", testenv.ORTLib(t)})
	err := c.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/model") {
		t.Errorf("serve on a missing model: %v", err)
	}
}
