package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crossrank/crossrank/internal/testenv"
)

// runPlugin runs `crossrank plugin ARGS...` in-process with stdin.
func runPlugin(t *testing.T, stdin string, args ...string) (query string, passages []string, err error) {
	t.Helper()
	out, err := runCommand(t, newPluginCmd, stdin, args...)
	if err != nil {
		return "", nil, err
	}
	var v struct {
		Query    string   `json:"query"`
		Passages []string `json:"passages"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	return v.Query, v.Passages, nil
}

func TestPluginRun(t *testing.T) {
	root := testenv.Root(t)
	dir := filepath.Join(root, "plugins", "wasm")
	tok := filepath.Join(root, "internal", "assets", "bert-base-uncased.json")
	in := `{"query": "title:\"fish\" AND chips^2", "documents": [{"title": "Fish &amp; chips", "body": "<p>crisp</p>"}, "plain <b>text</b>"], "max_tokens_per_doc": 4}`
	cases := []struct {
		name      string
		args      []string
		wantQuery string
		want      []string
		wantErr   string
	}{
		{name: "query stage", args: []string{"--plugin", "query", "--stage", "query"},
			wantQuery: "fish chips", want: []string{"Fish &amp; chips. <p>crisp</p>", "plain <b>text</b>"}},
		{name: "fields with config", args: []string{"--plugin", "fields", "--config", `{"template": "{title}!"}`},
			wantQuery: `title:"fish" AND chips^2`, want: []string{"Fish &amp; chips!", "plain <b>text</b>"}},
		{name: "html by path", args: []string{"--plugin", filepath.Join(dir, "html.wasm"), "--stage", "passage"},
			wantQuery: `title:"fish" AND chips^2`, want: []string{"Fish &amp; chips. <p>crisp</p>", "plain text"}},
		// bert-base-uncased: fish & amp ; = 4 word pieces, then "chips." does
		// not fit; "plain" is 1 and "<b>text</b>" 8 (< b > text < / b >).
		{name: "truncate with the real tokenizer", args: []string{"--plugin", "truncate", "--tokenizer", tok},
			wantQuery: `title:"fish" AND chips^2`, want: []string{"Fish &amp;", "plain"}},
		{name: "wrong stage", args: []string{"--plugin", "html", "--stage", "query"}, wantErr: `plugin "html" does not implement the query stage`},
		{name: "unknown stage", args: []string{"--plugin", "html", "--stage", "middle"}, wantErr: `unknown stage "middle"`},
		{name: "missing plugin", args: []string{"--plugin", "nosuch"}, wantErr: "nosuch.wasm"},
		{name: "bad config", args: []string{"--plugin", "fields", "--config", "[1]"}, wantErr: "--config is not a JSON object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"run", "--plugin-dir", dir}, c.args...)
			q, p, err := runPlugin(t, in, args...)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if q != c.wantQuery || strings.Join(p, "|") != strings.Join(c.want, "|") {
				t.Errorf("got %q %q, want %q %q", q, p, c.wantQuery, c.want)
			}
		})
	}
	if _, _, err := runPlugin(t, "not json", "run", "--plugin-dir", dir, "--plugin", "html"); err == nil {
		t.Error("bad input accepted")
	}
}

// TestPluginRunSignal: SIGTERM (wired to the command's context as main
// wires it) stops `plugin run` while its guest loops, long before the
// guest's 2 s call limit, with the cancellation, not a plugin timeout.
// (Before the complete sandbox, a guest stuck where the time limit did not
// reach also ignored the signal.)
func TestPluginRunSignal(t *testing.T) {
	root := testenv.Root(t)
	faulty := filepath.Join(root, ".cache", "plugins", "faulty.wasm")
	args := []string{"run", "--plugin", faulty, "--plugin-dir", filepath.Join(root, "plugins", "wasm")}
	// A first run fills the compilation cache, so that the second is in
	// its guest's loop when the signal comes.
	if _, err := runCommand(t, newPluginCmd, `{"query": "fine", "documents": ["a"]}`, args...); err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	c := newPluginCmd()
	var out bytes.Buffer
	c.SetIn(strings.NewReader(`{"query": "loop", "documents": ["a"]}`))
	c.SetOut(&out)
	c.SetErr(&out)
	c.SetArgs(args)
	go func() {
		time.Sleep(time.Second)
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
	}()
	t0 := time.Now()
	err := c.ExecuteContext(ctx)
	took := time.Since(t0)
	t.Logf("%v after %v", err, took)
	if !errors.Is(err, context.Canceled) || strings.Contains(fmt.Sprint(err), "call limit") {
		t.Errorf("got %v, want the cancellation", err)
	}
	if took > 1900*time.Millisecond {
		t.Errorf("plugin run took %v with SIGTERM at 1s", took)
	}
}
