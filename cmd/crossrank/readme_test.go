package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/sidecar/config"
)

// TestReadmeQuickStart serves the model `make run` serves by default, in
// process, and sends it the README's quick-start request: the passage about
// cross-encoders must come first. It also checks what /v1/models and the
// startup log say about the model.
func TestReadmeQuickStart(t *testing.T) {
	root := testenv.Root(t)
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`--model \$\(CACHE\)/models/([^) ]+)\)`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile: the run target's default --model not found")
	}
	dir := filepath.Join(root, ".cache", "models", string(m[1]))
	if dir != testenv.MiniLMDir(t) {
		t.Fatalf("make run serves %s, not all-MiniLM-L6-v2", dir)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	ex := regexp.MustCompile(`curl -s localhost:8080(/v1/rerank) -d '([^']+)'`).FindSubmatch(readme)
	if ex == nil {
		t.Fatal("README: the quick-start curl example not found")
	}
	var req struct {
		Documents []string `json:"documents"`
	}
	if err := json.Unmarshal(ex[2], &req); err != nil {
		t.Fatalf("README example body: %v", err)
	}
	relevant := -1
	for i, d := range req.Documents {
		if strings.Contains(d, "cross-encoder") {
			relevant = i
		}
	}
	if relevant < 0 {
		t.Fatal("README example has no passage about cross-encoders")
	}

	cfg := config.Default()
	cfg.Models = []string{dir}
	cfg.ORTLib = testenv.ORTLib(t)
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sc, err := newSidecar(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		sc.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sc.Run(ctx, ln) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("sidecar did not stop")
		}
	}()
	base := "http://" + ln.Addr().String()

	resp, err := http.Post(base+string(ex[1]), "application/json", bytes.NewReader(ex[2]))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var out struct {
		Results []struct {
			Index int     `json:"index"`
			Score float64 `json:"relevance_score"`
		} `json:"results"`
		Model string `json:"model"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &out) != nil || len(out.Results) != len(req.Documents) {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if out.Results[0].Index != relevant || out.Model != "all-MiniLM-L6-v2" {
		t.Fatalf("README example: first result %d, want the cross-encoder passage %d: %s", out.Results[0].Index, relevant, body)
	}
	for _, r := range out.Results {
		if r.Score < 0 || r.Score > 1 {
			t.Fatalf("relevance_score %v outside [0, 1]", r.Score)
		}
	}

	resp, err = http.Get(base + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	var models struct {
		Data []struct {
			ID      string `json:"id"`
			Kind    string `json:"kind"`
			Trained bool   `json:"trained"`
			Twin    bool   `json:"twin"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &models); err != nil || len(models.Data) != 1 {
		t.Fatalf("/v1/models: %s", body)
	}
	if d := models.Data[0]; d.Kind != "bi-encoder" || !d.Trained || d.Twin {
		t.Fatalf("/v1/models entry %+v, want a trained bi-encoder", d)
	}
	for _, want := range []string{"kind=bi-encoder", "weights=trained", "default_model=all-MiniLM-L6-v2"} {
		if !strings.Contains(logBuf.String(), want) {
			t.Errorf("startup log lacks %q:\n%s", want, logBuf.String())
		}
	}
}
