package hub_test

// The Hugging Face hub cannot be reached from the machines this project is
// built and tested on, so these tests run Pull against a local httptest
// server laid out like the hub: /api/models/{repo}/revision/{rev} (the
// revision API with siblings and lfs sha256), /{repo}/resolve/{rev}/{file}
// (regular files served directly with a git-blob-sha1 ETag; LFS files
// answered with a 302 to a CDN path carrying X-Linked-Etag, X-Linked-Size and
// X-Repo-Commit), and a /cdn/ path that honours Range requests.

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crossrank/crossrank/internal/hub"
)

type fakeFile struct {
	data    []byte
	lfs     bool
	corrupt bool // serve different bytes than the checksum says
}

type fakeHub struct {
	t      *testing.T
	mu     sync.Mutex
	repos  map[string]map[string]map[string]*fakeFile // repo → commit → file
	refs   map[string]string                          // "repo@rev" → commit
	noAPI  bool
	cutAt  int64 // first GET of a CDN blob is cut after this many bytes (0: never)
	cut    map[string]bool
	ranges []string // Range headers seen on CDN GETs
	gets   map[string]int
}

func newFakeHub(t *testing.T) *fakeHub {
	return &fakeHub{t: t, repos: map[string]map[string]map[string]*fakeFile{}, refs: map[string]string{},
		cut: map[string]bool{}, gets: map[string]int{}}
}

func (h *fakeHub) add(repo, rev string, files map[string]*fakeFile) string {
	sum := sha1.New()
	for name, f := range files {
		fmt.Fprintf(sum, "%s%x", name, sha256.Sum256(f.data))
	}
	commit := hex.EncodeToString(sum.Sum(nil))
	if h.repos[repo] == nil {
		h.repos[repo] = map[string]map[string]*fakeFile{}
	}
	h.repos[repo][commit] = files
	h.refs[repo+"@"+rev] = commit
	h.refs[repo+"@"+commit] = commit
	return commit
}

func gitSHA1(b []byte) string {
	s := sha1.New()
	fmt.Fprintf(s, "blob %d\x00", len(b))
	s.Write(b)
	return hex.EncodeToString(s.Sum(nil))
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func (h *fakeHub) served(f *fakeFile) []byte {
	if !f.corrupt {
		return f.data
	}
	b := bytes.Clone(f.data)
	b[len(b)/2] ^= 0xff
	return b
}

func (h *fakeHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/api/models/"):
		if h.noAPI {
			http.NotFound(w, r)
			return
		}
		repo, rev, ok := strings.Cut(strings.TrimPrefix(p, "/api/models/"), "/revision/")
		commit, known := h.refs[repo+"@"+rev]
		if !ok || !known {
			http.Error(w, `{"error":"Repository not found"}`, http.StatusNotFound)
			return
		}
		type lfs struct {
			SHA256 string `json:"sha256"`
			Size   int    `json:"size"`
		}
		type sib struct {
			RFilename string `json:"rfilename"`
			Size      int    `json:"size"`
			BlobID    string `json:"blobId"`
			LFS       *lfs   `json:"lfs,omitempty"`
		}
		out := struct {
			SHA      string `json:"sha"`
			Siblings []sib  `json:"siblings"`
		}{SHA: commit}
		for name, f := range h.repos[repo][commit] {
			s := sib{RFilename: name, Size: len(f.data), BlobID: gitSHA1(f.data)}
			if f.lfs {
				s.LFS = &lfs{SHA256: sha(f.data), Size: len(f.data)}
			}
			out.Siblings = append(out.Siblings, s)
		}
		json.NewEncoder(w).Encode(out)
	case strings.HasPrefix(p, "/cdn/"):
		h.gets[p]++
		h.ranges = append(h.ranges, r.Header.Get("Range"))
		key := strings.TrimPrefix(p, "/cdn/")
		f := h.blob(key)
		if f == nil {
			http.NotFound(w, r)
			return
		}
		data := h.served(f)
		if h.cutAt > 0 && !h.cut[key] && r.Header.Get("Range") == "" {
			// Drop the connection part-way through the first download.
			h.cut[key] = true
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
			w.WriteHeader(http.StatusOK)
			w.Write(data[:h.cutAt])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
	default:
		// /{owner}/{name}/resolve/{rev}/{file...}
		parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 5)
		if len(parts) < 5 || parts[2] != "resolve" {
			http.NotFound(w, r)
			return
		}
		repo, rev, name := parts[0]+"/"+parts[1], parts[3], parts[4]
		commit, ok := h.refs[repo+"@"+rev]
		f := h.repos[repo][commit][name]
		if !ok || f == nil {
			w.Header().Set("X-Error-Code", "EntryNotFound")
			http.NotFound(w, r)
			return
		}
		w.Header().Set("X-Repo-Commit", commit)
		if f.lfs {
			w.Header().Set("X-Linked-Etag", `"`+sha(f.data)+`"`)
			w.Header().Set("X-Linked-Size", fmt.Sprint(len(f.data)))
			w.Header().Set("ETag", `"`+sha(f.data)+`"`)
			http.Redirect(w, r, "/cdn/"+repo+"/"+commit+"/"+name, http.StatusFound)
			return
		}
		if r.Method == http.MethodGet {
			h.gets[p]++
		}
		w.Header().Set("ETag", `"`+gitSHA1(f.data)+`"`)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(h.served(f)))
	}
}

func (h *fakeHub) blob(key string) *fakeFile {
	parts := strings.SplitN(key, "/", 4) // owner/name/commit/file
	if len(parts) < 4 {
		return nil
	}
	return h.repos[parts[0]+"/"+parts[1]][parts[2]][parts[3]]
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

const repo = "cross-encoder/ms-marco-MiniLM-L-6-v2"

func modelFiles(seed uint64) map[string]*fakeFile {
	return map[string]*fakeFile{
		"config.json":               {data: []byte(fmt.Sprintf(`{"model_type":"bert","seed":%d}`, seed))},
		"tokenizer.json":            {data: []byte(`{"version":"1.0"}`)},
		"onnx/model.onnx":           {data: randomBytes(seed, 300_000), lfs: true},
		"onnx/model_quantized.onnx": {data: randomBytes(seed+100, 80_000), lfs: true},
		"README.md":                 {data: []byte("# model")},
	}
}

func start(t *testing.T, h *fakeHub) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func checkFolder(t *testing.T, dir string, files map[string]*fakeFile, names ...string) {
	t.Helper()
	for _, n := range names {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(n)))
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if !bytes.Equal(got, files[n].data) {
			t.Fatalf("%s: content differs from the hub's", n)
		}
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(n)) + ".part"); !os.IsNotExist(err) {
			t.Fatalf("%s.part left behind", n)
		}
	}
}

func TestPull(t *testing.T) {
	main := modelFiles(1)
	v1 := modelFiles(2)
	rootOnly := map[string]*fakeFile{
		"config.json":    {data: []byte(`{}`)},
		"tokenizer.json": {data: []byte(`{}`)},
		"model.onnx":     {data: randomBytes(9, 5000), lfs: true},
	}
	tests := []struct {
		name     string
		noAPI    bool
		opts     hub.Options
		files    map[string]*fakeFile
		wantONNX string
	}{
		{name: "main", files: main, wantONNX: "onnx/model.onnx"},
		{name: "revision", opts: hub.Options{Revision: "v1"}, files: v1, wantONNX: "onnx/model.onnx"},
		{name: "quantized", opts: hub.Options{Quantized: true}, files: main, wantONNX: "onnx/model_quantized.onnx"},
		{name: "no API", noAPI: true, files: main, wantONNX: "onnx/model.onnx"},
		{name: "no API quantized", noAPI: true, opts: hub.Options{Quantized: true}, files: main, wantONNX: "onnx/model_quantized.onnx"},
		{name: "root model.onnx", opts: hub.Options{Revision: "root"}, files: rootOnly, wantONNX: "model.onnx"},
		{name: "root model.onnx no API", noAPI: true, opts: hub.Options{Revision: "root"}, files: rootOnly, wantONNX: "model.onnx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newFakeHub(t)
			h.noAPI = tc.noAPI
			h.add(repo, "main", main)
			h.add(repo, "v1", v1)
			commit := h.add(repo, "root", rootOnly)
			if tc.opts.Revision != "root" {
				commit = h.refs[repo+"@"+firstNonEmpty(tc.opts.Revision, "main")]
			}
			tc.opts.Endpoint = start(t, h)
			out := filepath.Join(t.TempDir(), "model")
			res, err := hub.Pull(context.Background(), repo, out, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.ONNX != tc.wantONNX || res.Commit != commit {
				t.Fatalf("ONNX %s commit %s, want %s %s", res.ONNX, res.Commit, tc.wantONNX, commit)
			}
			checkFolder(t, out, tc.files, "config.json", "tokenizer.json", tc.wantONNX)
			for _, f := range res.Files {
				want := "git-sha1"
				if tc.files[f.Name].lfs {
					want = "sha256"
				}
				if f.Verified != want || f.SHA256 != sha(tc.files[f.Name].data) {
					t.Errorf("%s verified by %s (sha %s), want %s", f.Name, f.Verified, f.SHA256, want)
				}
			}
			if _, err := os.Stat(filepath.Join(out, "README.md")); !os.IsNotExist(err) {
				t.Errorf("README.md was fetched; only config, tokenizer and the ONNX file should be")
			}
			// A second pull finds everything verified and downloads nothing.
			before := total(h)
			res2, err := hub.Pull(context.Background(), repo, out, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range res2.Files {
				if !f.Cached {
					t.Errorf("second pull re-downloaded %s", f.Name)
				}
			}
			if total(h) != before {
				t.Errorf("second pull made %d file GETs", total(h)-before)
			}
		})
	}
}

func total(h *fakeHub) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, v := range h.gets {
		n += v
	}
	return n
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestPullResumesDroppedTransfer: the server drops the connection after
// 100 kB of the 300 kB ONNX file; Pull retries from byte 100000 with a Range
// request and the result verifies.
func TestPullResumesDroppedTransfer(t *testing.T) {
	files := modelFiles(3)
	h := newFakeHub(t)
	h.add(repo, "main", files)
	h.cutAt = 100_000
	out := t.TempDir()
	if _, err := hub.Pull(context.Background(), repo, out, hub.Options{Endpoint: start(t, h)}); err != nil {
		t.Fatal(err)
	}
	checkFolder(t, out, files, "onnx/model.onnx")
	if !contains(h.ranges, "bytes=100000-") {
		t.Fatalf("no resume Range request; saw %q", h.ranges)
	}
}

// TestPullResumesPartFile: a .part left by an earlier, killed run is
// continued, not restarted.
func TestPullResumesPartFile(t *testing.T) {
	files := modelFiles(4)
	h := newFakeHub(t)
	h.add(repo, "main", files)
	out := t.TempDir()
	part := filepath.Join(out, "onnx", "model.onnx.part")
	os.MkdirAll(filepath.Dir(part), 0o755)
	if err := os.WriteFile(part, files["onnx/model.onnx"].data[:123_456], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := hub.Pull(context.Background(), repo, out, hub.Options{Endpoint: start(t, h)}); err != nil {
		t.Fatal(err)
	}
	checkFolder(t, out, files, "onnx/model.onnx")
	if len(h.ranges) != 1 || h.ranges[0] != "bytes=123456-" {
		t.Fatalf("CDN requests' Range = %q, want one from byte 123456", h.ranges)
	}
}

func TestPullErrors(t *testing.T) {
	corruptLFS := modelFiles(5)
	corruptLFS["onnx/model.onnx"].corrupt = true
	corruptPlain := modelFiles(6)
	corruptPlain["config.json"].corrupt = true
	noTok := modelFiles(7)
	delete(noTok, "tokenizer.json")
	noONNX := modelFiles(8)
	delete(noONNX, "onnx/model.onnx")
	tests := []struct {
		name    string
		files   map[string]*fakeFile
		noAPI   bool
		repo    string
		is      error
		wantMsg string
	}{
		{name: "corrupt LFS file", files: corruptLFS, is: hub.ErrChecksum, wantMsg: "sha256"},
		{name: "corrupt LFS file no API", files: corruptLFS, noAPI: true, is: hub.ErrChecksum, wantMsg: "sha256"},
		{name: "corrupt regular file", files: corruptPlain, is: hub.ErrChecksum, wantMsg: "git blob sha1"},
		{name: "missing tokenizer", files: noTok, is: hub.ErrNotFound, wantMsg: "tokenizer.json"},
		{name: "missing tokenizer no API", files: noTok, noAPI: true, is: hub.ErrNotFound, wantMsg: "tokenizer.json"},
		{name: "no onnx", files: noONNX, is: hub.ErrNotFound, wantMsg: "no ONNX file"},
		{name: "unknown repo", files: modelFiles(1), repo: "nobody/nothing", wantMsg: "nobody/nothing"},
		{name: "bad repo id", files: modelFiles(1), repo: "../etc", wantMsg: "invalid repository id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newFakeHub(t)
			h.noAPI = tc.noAPI
			h.add(repo, "main", tc.files)
			out := t.TempDir()
			_, err := hub.Pull(context.Background(), firstNonEmpty(tc.repo, repo), out, hub.Options{Endpoint: start(t, h), Retries: 1})
			if err == nil {
				t.Fatal("Pull succeeded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("error %v is not %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("error %q does not mention %q", err, tc.wantMsg)
			}
			if tc.is == hub.ErrChecksum {
				// Neither the bad file nor its .part is left in the folder.
				filepath.Walk(out, func(p string, info os.FileInfo, err error) error {
					if err == nil && !info.IsDir() && (strings.HasSuffix(p, ".part") || strings.HasSuffix(p, "model.onnx") && tc.files["onnx/model.onnx"].corrupt) {
						t.Errorf("left behind: %s", p)
					}
					return nil
				})
			}
		})
	}
}

func TestPullCancelled(t *testing.T) {
	h := newFakeHub(t)
	h.add(repo, "main", modelFiles(1))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := hub.Pull(ctx, repo, t.TempDir(), hub.Options{Endpoint: start(t, h)})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func ExamplePull() {
	h := newFakeHub(nil)
	h.add(repo, "main", modelFiles(1))
	srv := httptest.NewServer(h)
	defer srv.Close()
	out, _ := os.MkdirTemp("", "model")
	defer os.RemoveAll(out)
	res, err := hub.Pull(context.Background(), repo, out, hub.Options{Endpoint: srv.URL})
	if err != nil {
		panic(err)
	}
	for _, f := range res.Files {
		fmt.Println(f.Name, f.Verified)
	}
	// Output:
	// config.json git-sha1
	// tokenizer.json git-sha1
	// onnx/model.onnx sha256
}

// TestPullSafetensorsOnly: a repository without an ONNX export (most
// rerankers on the hub) gets its model.safetensors and tokenizer files
// fetched and verified instead, and Result.Safetensors says so; with the
// revision API or without it. A repository with neither is ErrNotFound.
func TestPullSafetensorsOnly(t *testing.T) {
	files := map[string]*fakeFile{
		"config.json":           {data: []byte(`{"model_type":"xlm-roberta"}`)},
		"tokenizer.json":        {data: []byte(`{"version":"1.0"}`)},
		"tokenizer_config.json": {data: []byte(`{"model_max_length":8192}`)},
		"model.safetensors":     {data: randomBytes(7, 40_000), lfs: true},
	}
	for _, noAPI := range []bool{false, true} {
		h := newFakeHub(t)
		h.noAPI = noAPI
		h.add("BAAI/bge-reranker-v2-m3", "main", files)
		h.add("org/empty", "main", map[string]*fakeFile{"config.json": {data: []byte(`{}`)}})
		url := start(t, h)
		dir := t.TempDir()
		res, err := hub.Pull(context.Background(), "BAAI/bge-reranker-v2-m3", dir, hub.Options{Endpoint: url})
		if err != nil {
			t.Fatalf("noAPI=%v: %v", noAPI, err)
		}
		if res.ONNX != "" || res.Safetensors != "model.safetensors" {
			t.Errorf("noAPI=%v: ONNX %q Safetensors %q", noAPI, res.ONNX, res.Safetensors)
		}
		checkFolder(t, dir, files, "config.json", "tokenizer.json", "model.safetensors")
		if !noAPI {
			checkFolder(t, dir, files, "tokenizer_config.json")
		}
		_, err = hub.Pull(context.Background(), "org/empty", t.TempDir(), hub.Options{Endpoint: url})
		if !errors.Is(err, hub.ErrNotFound) || !strings.Contains(err.Error(), "model.safetensors") {
			t.Errorf("noAPI=%v: repository with neither: %v", noAPI, err)
		}
	}
}
