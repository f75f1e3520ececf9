package plugins_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/models/tokenizer"
	"github.com/crossrank/crossrank/plugins"
	"github.com/crossrank/crossrank/plugins/host"
	"github.com/crossrank/crossrank/sidecar/config"
)

// readmeSection is the README section whose examples the test runs.
const readmeSection = "## Standard plugins and their configuration"

// stdPlugins are the standard plugins (plugins/std/NAME).
var stdPlugins = []string{"fields", "html", "normalize", "query", "truncate"}

// block is one fenced code block of the README.
type block struct {
	lang, text string
	line       int
}

// fencedBlocks returns the fenced code blocks of md.
func fencedBlocks(t *testing.T, md string) []block {
	t.Helper()
	var out []block
	var cur *block
	var body strings.Builder
	for i, l := range strings.Split(md, "\n") {
		switch {
		case cur == nil && strings.HasPrefix(l, "```"):
			cur = &block{lang: strings.TrimSpace(strings.TrimPrefix(l, "```")), line: i + 1}
			body.Reset()
		case cur != nil && strings.TrimSpace(l) == "```":
			cur.text = body.String()
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(l)
			body.WriteByte('\n')
		}
	}
	if cur != nil {
		t.Fatalf("README: code block opened on line %d is never closed", cur.line)
	}
	return out
}

// example is a request and what the pipeline makes of it.
type example struct {
	Request struct {
		Pipeline        string            `json:"pipeline"`
		Query           string            `json:"query"`
		Documents       []json.RawMessage `json:"documents"`
		MaxTokensPerDoc int               `json:"max_tokens_per_doc"`
	} `json:"request"`
	Result struct {
		Query    string   `json:"query"`
		Passages []string `json:"passages"`
	} `json:"result"`
}

// TestReadmeExamples parses every YAML block of the README's standard
// plugins section with the sidecar's config parser, loads its pipelines on
// the built standard plugins, and runs each JSON example after it with the
// default model's tokenizer, checking the documented query and passages.
func TestReadmeExamples(t *testing.T) {
	root := testenv.Root(t)
	raw, err := os.ReadFile(filepath.Join(root, "plugins", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	md := string(raw)
	start := strings.Index(md, readmeSection)
	if start < 0 {
		t.Fatalf("plugins/README.md has no %q section", readmeSection)
	}
	section := md[start:]
	if end := strings.Index(section[len(readmeSection):], "\n## "); end >= 0 {
		section = section[:len(readmeSection)+end]
	}
	offset := strings.Count(md[:start], "\n")

	tok, err := tokenizer.Load(filepath.Join(testenv.TwinDir(t), "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range stdPlugins {
		if _, err := os.Stat(filepath.Join(root, "plugins", "wasm", n+".wasm")); err != nil {
			t.Fatalf("standard plugin %s missing: run make plugins (%v)", n, err)
		}
	}
	h, err := host.New(context.Background(), host.Config{
		PluginDir:     filepath.Join(root, "plugins", "wasm"),
		CacheDir:      filepath.Join(root, ".cache", "wazero"),
		WatchInterval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})

	var cfg *config.Config // the configuration the examples below it use
	configs, examples := 0, 0
	used := map[string]bool{}
	untested := ""
	for _, b := range fencedBlocks(t, section) {
		line := b.line + offset
		switch b.lang {
		case "yaml":
			if untested != "" {
				t.Errorf("%s has no example request after it", untested)
			}
			c := config.Default()
			if err := config.Parse([]byte(b.text), &c); err != nil {
				t.Fatalf("README line %d: config parser: %v", line, err)
			}
			c.Models = []string{"twin"} // the examples set pipelines only
			if err := c.Validate(); err != nil {
				t.Fatalf("README line %d: %v", line, err)
			}
			if len(c.Pipelines) == 0 {
				t.Fatalf("README line %d: no pipelines", line)
			}
			specs := map[string][]host.Step{}
			for name, steps := range c.Pipelines {
				for _, s := range steps {
					specs[name] = append(specs[name], host.Step{Plugin: s.Plugin, Config: s.Config, OnError: s.OnError})
					used[s.Plugin] = true
				}
			}
			if err := h.Load(context.Background(), specs, c.DefaultPipe); err != nil {
				t.Fatalf("README line %d: loading the pipelines: %v", line, err)
			}
			cfg = &c
			configs++
			untested = "README line " + strconv.Itoa(line)
		case "json":
			if cfg == nil {
				t.Fatalf("README line %d: an example before any configuration", line)
			}
			var ex example
			dec := json.NewDecoder(strings.NewReader(b.text))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&ex); err != nil {
				t.Fatalf("README line %d: example: %v", line, err)
			}
			name := ex.Request.Pipeline
			if name == "" && cfg.DefaultPipe == "" {
				t.Fatalf("README line %d: the request names no pipeline and there is no default", line)
			}
			p, ok := h.Pipeline(name)
			if !ok {
				t.Fatalf("README line %d: pipeline %q is not in the configuration above it", line, name)
			}
			out, err := p.Prepare(context.Background(), tok, plugins.Input{
				Query: ex.Request.Query, Documents: ex.Request.Documents, MaxTokensPerDoc: ex.Request.MaxTokensPerDoc,
			})
			if err != nil {
				t.Errorf("README line %d: %v", line, err)
				continue
			}
			if out.Query != ex.Result.Query || !reflect.DeepEqual(out.Passages, ex.Result.Passages) {
				t.Errorf("README line %d: pipeline %q gives query %q passages %q; the README says %q %q",
					line, p.Name(), out.Query, out.Passages, ex.Result.Query, ex.Result.Passages)
			}
			examples++
			untested = ""
		default:
			t.Errorf("README line %d: code block %q in the configuration section is neither yaml nor json", line, b.lang)
		}
	}
	if untested != "" {
		t.Errorf("%s has no example request after it", untested)
	}
	for _, n := range stdPlugins {
		if !used[n] {
			t.Errorf("no example configures the %s plugin", n)
		}
	}
	if configs < len(stdPlugins) || examples < configs {
		t.Errorf("%d configurations and %d examples", configs, examples)
	}
}

// TestReadmeDocumentsEveryOption: each option a standard plugin decodes
// from its config (a json tag in plugins/std/NAME/main.go) is named in the
// plugin's part of the README.
func TestReadmeDocumentsEveryOption(t *testing.T) {
	root := testenv.Root(t)
	raw, err := os.ReadFile(filepath.Join(root, "plugins", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	tag := regexp.MustCompile("json:\"([a-z_]+)\"")
	for _, n := range stdPlugins {
		src, err := os.ReadFile(filepath.Join(root, "plugins", "std", n, "main.go"))
		if err != nil {
			t.Fatal(err)
		}
		head := []byte("### " + n + " ")
		i := bytes.Index(raw, head)
		if i < 0 {
			t.Errorf("README has no %q heading", head)
			continue
		}
		part := raw[i+len(head):]
		if j := bytes.Index(part, []byte("\n### ")); j >= 0 {
			part = part[:j]
		}
		opts := tag.FindAllSubmatch(src, -1)
		for _, m := range opts {
			if !bytes.Contains(part, []byte("| `"+string(m[1])+"` |")) {
				t.Errorf("%s: option %q is not in the README's table", n, m[1])
			}
		}
		if len(opts) == 0 && !bytes.Contains(part, []byte("Options: none")) {
			t.Errorf("%s takes no options, and the README does not say so", n)
		}
	}
}
