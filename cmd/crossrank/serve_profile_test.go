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
	"strings"
	"testing"

	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/sidecar/config"
)

// bothGraphs returns a model folder holding the twin's fp32 graph as
// onnx/model.onnx and its int8 graph as onnx/model_quantized.onnx (the
// layout of a hub folder that ships both), linked from the cached twins.
func bothGraphs(t *testing.T) string {
	t.Helper()
	fp32, int8 := testenv.TwinDir(t), testenv.TwinInt8Dir(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "onnx"), 0o755); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"onnx/model.onnx":           filepath.Join(fp32, "onnx", "model.onnx"),
		"onnx/model_quantized.onnx": filepath.Join(int8, "onnx", "model_quantized.onnx"),
	}
	for _, f := range []string{"config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"} {
		links[f] = filepath.Join(fp32, f)
	}
	for rel, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// serveProfile starts a sidecar on dir with profile and returns its base
// URL and its log so far; stop ends it.
func serveProfile(t *testing.T, dir, profile string) (base string, log *bytes.Buffer, err error) {
	t.Helper()
	cfg := config.Default()
	cfg.Models = []string{"m=" + dir}
	cfg.Addr = "127.0.0.1:0"
	cfg.ORTLib = testenv.ORTLib(t)
	cfg.Profile = profile
	cfg.Workers = 1
	cfg.CacheSize = 0
	log = new(bytes.Buffer)
	ctx, cancel := context.WithCancel(context.Background())
	sc, err := newSidecar(ctx, cfg, slog.New(slog.NewTextHandler(log, nil)))
	if err != nil {
		cancel()
		return "", log, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		cancel()
		sc.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sc.Run(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + ln.Addr().String(), log, nil
}

// TestServeProfile: --profile accurate serves the folder's fp32 graph and
// fast its int8 graph, on real ONNX Runtime; /v1/models and the startup
// log say which precision is served, and the two graphs score the same
// pairs differently. A folder without an int8 graph under fast is a start
// error saying how to make one; a quantize output folder under accurate
// serves (and says) int8.
func TestServeProfile(t *testing.T) {
	both := bothGraphs(t)
	body := `{"query":"what is a cross-encoder","documents":["a model that reads the query and the passage together","bread is baked in an oven"]}`
	tests := []struct {
		name, dir, profile string
		file, precision    string
		logs               []string
	}{
		{"accurate on both", both, config.ProfileAccurate, "onnx/model.onnx", "fp32", []string{"profile=accurate", "precision=fp32"}},
		{"fast on both", both, config.ProfileFast, "onnx/model_quantized.onnx", "int8", []string{"profile=fast", "precision=int8"}},
		{"accurate on an int8-only folder", testenv.TwinInt8Dir(t), config.ProfileAccurate, "onnx/model.onnx", "int8", []string{"profile=accurate", "precision=int8", "holds only an int8 graph"}},
	}
	scores := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, log, err := serveProfile(t, tt.dir, tt.profile)
			if err != nil {
				t.Fatal(err)
			}
			var models struct {
				Data []struct{ File, Precision string } `json:"data"`
			}
			getJSON(t, base+"/v1/models", &models)
			if len(models.Data) != 1 || models.Data[0].File != tt.file || models.Data[0].Precision != tt.precision {
				t.Fatalf("/v1/models = %+v, want file %s precision %s", models.Data, tt.file, tt.precision)
			}
			for _, want := range tt.logs {
				if !strings.Contains(log.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, log.String())
				}
			}
			resp, err := http.Post(base+"/v1/rerank", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("rerank: %d %s", resp.StatusCode, b)
			}
			if tt.dir == both {
				scores[tt.profile] = string(b)
			}
		})
	}
	if scores[config.ProfileAccurate] == "" || scores[config.ProfileAccurate] == scores[config.ProfileFast] {
		t.Errorf("accurate and fast answered the same scores, so the same graph ran:\n%s\n%s", scores[config.ProfileAccurate], scores[config.ProfileFast])
	}

	t.Run("fast without an int8 graph", func(t *testing.T) {
		twin := testenv.TwinDir(t)
		_, _, err := serveProfile(t, twin, config.ProfileFast)
		if err == nil {
			t.Fatal("serve --profile fast on an fp32-only folder started")
		}
		for _, want := range []string{"--profile fast", "onnx/model_quantized.onnx", "crossrank model quantize --in " + twin + " --out " + twin + "-int8"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q: %v", want, err)
			}
		}
	})
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
