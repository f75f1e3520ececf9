package main

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestModelPull runs `crossrank model pull` against a local server laid out
// like the Hugging Face hub's resolve URLs (the hub itself cannot be reached
// from the machines this is tested on; internal/hub tests the protocol in
// depth: revision API, resume, checksums).
func TestModelPull(t *testing.T) {
	files := map[string][]byte{
		"config.json":               []byte(`{"model_type":"bert","max_position_embeddings":512}`),
		"tokenizer.json":            []byte(`{"version":"1.0"}`),
		"onnx/model.onnx":           bytes.Repeat([]byte("fp32"), 5000),
		"onnx/model_quantized.onnx": bytes.Repeat([]byte("int8"), 2000),
	}
	const repo = "cross-encoder/ms-marco-MiniLM-L-6-v2"
	const commit = "0123456789abcdef0123456789abcdef01234567"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := strings.CutPrefix(r.URL.Path, "/"+repo+"/resolve/main/")
		if !ok { // after the first file, pull asks at the commit it was told
			name, ok = strings.CutPrefix(r.URL.Path, "/"+repo+"/resolve/"+commit+"/")
		}
		data, found := files[name]
		if !ok || !found {
			http.NotFound(w, r) // also the revision API: pull falls back to resolve headers
			return
		}
		w.Header().Set("X-Repo-Commit", commit)
		if strings.HasSuffix(name, ".onnx") {
			sum := sha256.Sum256(data)
			w.Header().Set("X-Linked-Etag", `"`+hex.EncodeToString(sum[:])+`"`)
		} else {
			h := sha1.New()
			fmt.Fprintf(h, "blob %d\x00", len(data))
			h.Write(data)
			w.Header().Set("ETag", `"`+hex.EncodeToString(h.Sum(nil))+`"`)
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	}))
	defer srv.Close()

	for _, tc := range []struct {
		name  string
		flags []string
		onnx  string
	}{
		{"fp32", nil, "onnx/model.onnx"},
		{"quantized", []string{"--quantized"}, "onnx/model_quantized.onnx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "m")
			args := append([]string{"pull", repo, "--out", out, "--endpoint", srv.URL}, tc.flags...)
			msg, err := runModel(t, args...)
			if err != nil {
				t.Fatalf("model pull: %v\n%s", err, msg)
			}
			if !strings.Contains(msg, commit) || !strings.Contains(msg, tc.onnx) {
				t.Errorf("model pull said %q", msg)
			}
			for _, f := range []string{"config.json", "tokenizer.json", tc.onnx} {
				got, err := os.ReadFile(filepath.Join(out, f))
				if err != nil || !bytes.Equal(got, files[f]) {
					t.Errorf("%s: %v (content equal: %v)", f, err, bytes.Equal(got, files[f]))
				}
			}
		})
	}
	if _, err := runModel(t, "pull", repo); err == nil || !strings.Contains(err.Error(), "--out DIR is required") {
		t.Errorf("pull without --out: %v", err)
	}
	if _, err := runModel(t, "pull", "nobody/nothing", "--out", t.TempDir(), "--endpoint", srv.URL); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("pull of a missing repo: %v", err)
	}
}
