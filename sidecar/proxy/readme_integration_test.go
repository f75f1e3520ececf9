//go:build integration

package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// shellBlocks returns the ```sh blocks of a Markdown file, in order, joined
// into one script (```text and other blocks are not commands to run).
func shellBlocks(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var script strings.Builder
	in, blocks := false, 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && strings.TrimSpace(line) == "```sh":
			in = true
			blocks++
		case in && strings.TrimSpace(line) == "```":
			in = false
		case in:
			script.WriteString(line)
			script.WriteByte('\n')
		}
	}
	if in {
		t.Fatalf("%s: an ```sh block is not closed", path)
	}
	if blocks == 0 {
		t.Fatalf("%s has no ```sh block", path)
	}
	return script.String()
}

// readmeSuite runs the sh blocks of examples/<flavor>/README.md as written,
// from the repository root, in one bash with -euo pipefail, against the
// node this test started: the README's `make <engine>-start` finds it
// running (same run folder, same port) and its clean-up stops it, so this
// runs last. Its sidecar listens on a free port (CROSSRANK_PORT).
func (e *itEnv) readmeSuite(t *testing.T) {
	if e.run == "" {
		t.Skip("the node was not started by this test: the README's make " + e.spec.flavor + "-start would start another")
	}
	readme := filepath.Join(e.root, "examples", e.spec.flavor, "README.md")
	script := shellBlocks(t, readme)
	u, err := url.Parse(e.engine)
	if err != nil {
		t.Fatal(err)
	}
	portVar := map[string]string{"opensearch": "OPENSEARCH_PORT", "elasticsearch": "ELASTICSEARCH_PORT"}[e.spec.flavor]
	_, crPort, _ := strings.Cut(freePort(t), ":")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = e.root
	cmd.Env = append(append(os.Environ(), e.spec.runEnv+"="+e.run, portVar+"="+u.Port(), "CROSSRANK_PORT="+crPort), e.spec.startEnv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Whatever the script left running (its sidecar, when it failed before
	// its clean-up) goes with its process group.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	if err != nil {
		t.Fatalf("%s, run as written: %v\n--- script\n%s--- output\n%s", readme, err, script, out.String())
	}
	t.Logf("%s ran in %s", readme, time.Since(start).Round(time.Second))
	// What the README promises shows in what it printed.
	// (`"unauthorized"`: the sidecar's own 401 to the command without its key)
	want := []string{`"_rerank"`, `"responses"`, `"unauthorized"`}
	switch e.spec.flavor {
	case "opensearch":
		want = append(want, "RERANK_PIPELINE=crossrank-rerank", "BY_FIELD_PIPELINE=crossrank-by-field", `"previous_score"`)
	case "elasticsearch":
		want = append(want, `"security_exception"`, `"highlight"`, `"index_not_found_exception"`)
	}
	for _, w := range want {
		if !strings.Contains(out.String(), w) {
			t.Errorf("%s: the output has no %s:\n%s", readme, w, out.String())
		}
	}
}
