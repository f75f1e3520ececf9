package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crossrank/crossrank/internal/testenv"
)

// hubFiles serves a model folder the way the Hugging Face hub lays out a
// repository: GET /api/models/{repo}/revision/{rev} lists the files, and
// /{repo}/resolve/{rev or commit}/{file} serves each with its git blob sha1 as ETag.
// The real hub cannot be reached from the machines this is tested on.
type hubFiles struct {
	repo, commit string
	files        map[string][]byte
}

func gitBlobSHA1(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func (h *hubFiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if rest, ok := strings.CutPrefix(p, "/api/models/"+h.repo+"/revision/"); ok && rest == "main" {
		type sib struct {
			RFilename string `json:"rfilename"`
			Size      int    `json:"size"`
			BlobID    string `json:"blobId"`
		}
		out := struct {
			SHA      string `json:"sha"`
			Siblings []sib  `json:"siblings"`
		}{SHA: h.commit}
		for name, b := range h.files {
			out.Siblings = append(out.Siblings, sib{name, len(b), gitBlobSHA1(b)})
		}
		json.NewEncoder(w).Encode(out)
		return
	}
	rest, ok := strings.CutPrefix(p, "/"+h.repo+"/resolve/")
	rev, name, _ := strings.Cut(rest, "/")
	b, found := h.files[name]
	ok = ok && (rev == "main" || rev == h.commit)
	if !ok || !found {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		http.NotFound(w, r)
		return
	}
	w.Header().Set("X-Repo-Commit", h.commit)
	w.Header().Set("ETag", `"`+gitBlobSHA1(b)+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
}

// TestServeModelPull: --model-pull downloads a hub repository into
// --model-cache and serves it under the repository id.
func TestServeModelPull(t *testing.T) {
	twinDir := testenv.TwinDir(t)
	hub := &hubFiles{repo: "crossrank/twin-test", commit: strings.Repeat("ab", 20), files: map[string][]byte{}}
	for _, name := range []string{"config.json", "tokenizer.json", "onnx/model.onnx"} {
		b, err := os.ReadFile(filepath.Join(twinDir, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		hub.files[name] = b
	}
	srv := httptest.NewServer(hub)
	defer srv.Close()
	t.Setenv("HF_ENDPOINT", srv.URL)

	cache := t.TempDir()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := newServeCmd()
	var logs bytes.Buffer
	c.SetOut(&logs)
	c.SetErr(&logs)
	c.SetArgs([]string{"--model-pull", hub.repo, "--model-cache", cache, "--addr", addr, "--ort-lib", testenv.ORTLib(t), "--shutdown-grace", "5s"})
	done := make(chan error, 1)
	go func() { done <- c.ExecuteContext(ctx) }()

	base := "http://" + addr
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(base + "/v1/models")
		if err == nil {
			var v struct{ Data []struct{ ID string } }
			json.NewDecoder(resp.Body).Decode(&v)
			resp.Body.Close()
			if len(v.Data) != 1 || v.Data[0].ID != hub.repo {
				t.Fatalf("/v1/models: %+v, want the pulled %s", v, hub.repo)
			}
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve stopped: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not serving after 90 s:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := http.Post(base+"/v1/rerank", "application/json", strings.NewReader(`{"model":"crossrank/twin-test","query":"q","documents":["a","b"]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("rerank on the pulled model: %d", resp.StatusCode)
	}
	for name, b := range hub.files {
		got, err := os.ReadFile(filepath.Join(cache, "crossrank", "twin-test", filepath.FromSlash(name)))
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("pulled %s differs from the hub's (%v)", name, err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}
