package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/sidecar/config"
)

type rerankResult struct {
	Index    int     `json:"index"`
	Score    float64 `json:"relevance_score"`
	Document struct {
		Text string `json:"text"`
	} `json:"document"`
	// Meta.Text is the pipeline's text (return_texts).
	Meta struct {
		Text string `json:"text"`
	} `json:"meta"`
}

func postJSON(t *testing.T, url string, body any) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// TestServePipelines runs serve in-process with a --pipelines file and
// sends real HTTP requests through the standard plugins and the faulty
// guest.
func TestServePipelines(t *testing.T) {
	root := testenv.Root(t)
	faulty := filepath.Join(root, ".cache", "plugins", "faulty.wasm")
	if _, err := os.Stat(faulty); err != nil {
		t.Fatalf("%v: run make plugins", err)
	}
	pipes := filepath.Join(t.TempDir(), "pipelines.yaml")
	yamlText := `pipelines:
  clean:
    - plugin: fields
      config: {template: "{title}. {body}"}
    - plugin: html
    - plugin: query
    - plugin: normalize
    - plugin: truncate
      config: {max_tokens: 6}
  faulty:
    - plugin: ` + faulty + `
  lenient:
    - plugin: ` + faulty + `
      on_error: skip
    - plugin: html
`
	if err := os.WriteFile(pipes, []byte(yamlText), 0o644); err != nil {
		t.Fatal(err)
	}
	base, stop, err := startInProcess(context.Background(), testenv.TwinDir(t), func(c *config.Config) {
		c.PluginDir = filepath.Join(root, "plugins", "wasm")
		c.PipelinesFile = pipes
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	docs := []any{
		map[string]any{"title": "Fish &amp; chips", "body": "<p>Crisp   <b>chips</b>, fresh fish and more words here</p>"},
		map[string]any{"title": "Ｔｅａ", "body": "<script>x()</script>Green tea"},
		"plain <i>text</i> document",
	}
	// Worked out from the plugins' rules; the twin's tokenizer is
	// bert-base-uncased: fish & chips . crisp = 5 word pieces, and "chips,"
	// (2) would make 7 > 6.
	want := []string{"Fish & chips. Crisp", "Tea. Green tea", "plain text document"}
	code, body := postJSON(t, base+"/v1/rerank", map[string]any{
		"query": `title:"fish" AND chips^2`, "documents": docs, "pipeline": "clean", "return_texts": true})
	if code != 200 {
		t.Fatalf("clean: %d %s", code, body)
	}
	var got struct{ Results []rerankResult }
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	texts := make([]string, len(docs))
	scores := make([]float64, len(docs))
	for _, r := range got.Results {
		texts[r.Index], scores[r.Index] = r.Meta.Text, r.Score
	}
	if strings.Join(texts, "|") != strings.Join(want, "|") {
		t.Fatalf("prepared passages %q, want %q", texts, want)
	}
	// The same passages and rewritten query sent without a pipeline score
	// the same: the pipeline's output is what the model saw.
	code, body = postJSON(t, base+"/v1/rerank", map[string]any{"query": "fish chips", "documents": want, "pipeline": "none"})
	if code != 200 {
		t.Fatalf("none: %d %s", code, body)
	}
	var plain struct{ Results []rerankResult }
	_ = json.Unmarshal(body, &plain)
	for _, r := range plain.Results {
		if r.Score != scores[r.Index] {
			t.Errorf("doc %d: score %v through the pipeline, %v without", r.Index, scores[r.Index], r.Score)
		}
	}

	// Faults: the request fails with a 5xx naming the plugin; the server
	// keeps serving.
	for _, c := range []struct {
		query string
		code  int
		msg   string
	}{{"trap", 500, "trap"}, {"malformed", 500, "malformed"}, {"loop", 504, "timeout"}} {
		code, body := postJSON(t, base+"/v1/rerank", map[string]any{"query": c.query, "documents": []string{"a", "b"}, "pipeline": "faulty"})
		if code != c.code || !strings.Contains(string(body), "faulty.wasm") || !strings.Contains(string(body), c.msg) {
			t.Errorf("%s: %d %s, want %d naming the plugin and %q", c.query, code, body, c.code, c.msg)
		}
		if code, body := postJSON(t, base+"/v1/rerank", map[string]any{"query": "fine", "documents": []string{"a", "b"}, "pipeline": "faulty"}); code != 200 {
			t.Errorf("after %s: %d %s", c.query, code, body)
		}
	}
	// on_error: skip
	code, body = postJSON(t, base+"/v1/rerank", map[string]any{"query": "trap", "documents": []string{"<b>a</b>"}, "pipeline": "lenient", "return_texts": true})
	if code != 200 || !strings.Contains(string(body), `"meta":{"text":"a"}`) {
		t.Errorf("lenient: %d %s", code, body)
	}
	if code, body := postJSON(t, base+"/v1/rerank", map[string]any{"query": "q", "documents": []string{"a"}, "pipeline": "nosuch"}); code != 404 {
		t.Errorf("unknown pipeline: %d %s", code, body)
	}
	if code, body := postJSON(t, base+"/admin/plugins/reload", nil); code != 200 || !strings.Contains(string(body), `"clean"`) {
		t.Errorf("reload: %d %s", code, body)
	}

	// The plugins stage is timed once per request, by the engine.
	before := stageCount(t, base, "plugins")
	for range 5 {
		if code, body := postJSON(t, base+"/v1/rerank", map[string]any{"query": "q", "documents": []string{"a"}, "pipeline": "clean"}); code != 200 {
			t.Fatalf("clean: %d %s", code, body)
		}
	}
	if got := stageCount(t, base, "plugins") - before; got != 5 {
		t.Errorf("5 requests gave %v plugins stage observations, want 5", got)
	}

	// Reload re-reads the file: a new pipeline appears.
	if err := os.WriteFile(pipes, []byte(yamlText+"  extra:\n    - plugin: html\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, body := postJSON(t, base+"/admin/plugins/reload", nil); code != 200 || !strings.Contains(string(body), `"extra"`) {
		t.Errorf("reload after an edit: %d %s, want the new pipeline", code, body)
	}
	// A broken file: an error naming the file and line in the one error
	// shape, and the running pipelines stay.
	if err := os.WriteFile(pipes, []byte("pipelines:\n  clean:\n    - plugin: html\n      confg: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, body = postJSON(t, base+"/admin/plugins/reload", nil)
	var e struct {
		Error struct{ Type, Message string }
	}
	if code != 500 || json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error.Message, pipes) || !strings.Contains(e.Error.Message, "line 4") {
		t.Errorf("broken reload: %d %s, want a JSON error naming %s and line 4", code, body, pipes)
	}
	if code, body := postJSON(t, base+"/v1/rerank", map[string]any{"query": "q", "documents": []string{"a"}, "pipeline": "extra"}); code != 200 {
		t.Errorf("after a failed reload the running pipelines must stay: %d %s", code, body)
	}
}

// stageCount reads crossrank_stage_duration_seconds_count{stage} from
// /metrics.
func stageCount(t *testing.T, base, stage string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	prefix := `crossrank_stage_duration_seconds_count{stage="` + stage + `"} `
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /metrics", prefix)
	return 0
}

// TestServePipelinesFileIsStrict: a misspelled key in the --pipelines file
// stops serve with an error naming the file and line.
func TestServePipelinesFileIsStrict(t *testing.T) {
	pipes := filepath.Join(t.TempDir(), "pipelines.yaml")
	if err := os.WriteFile(pipes, []byte("pipelines:\n  p:\n    - plugin: html\n      confg: {a: 1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := startInProcess(context.Background(), testenv.TwinDir(t), func(c *config.Config) { c.PipelinesFile = pipes })
	if err == nil || !strings.Contains(err.Error(), pipes) || !strings.Contains(err.Error(), "line 4") || !strings.Contains(err.Error(), "confg") {
		t.Fatalf("got %v, want an error naming %s, line 4 and confg", err, pipes)
	}
}

// TestServeMissingPlugin: a pipeline naming a missing .wasm file stops
// serve at start with a message naming the file.
func TestServeMissingPlugin(t *testing.T) {
	root := testenv.Root(t)
	_, _, err := startInProcess(context.Background(), testenv.TwinDir(t), func(c *config.Config) {
		c.PluginDir = filepath.Join(root, "plugins", "wasm")
		c.Pipelines = map[string][]config.PipelineStep{"p": {{Plugin: "html"}, {Plugin: "missing-plugin"}}}
	})
	if err == nil || !strings.Contains(err.Error(), "missing-plugin.wasm") {
		t.Fatalf("got %v, want an error naming missing-plugin.wasm", err)
	}
}
