package main

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/internal/reranktest"
	"github.com/crossrank/crossrank/internal/testenv"
)

// runScore runs `crossrank score ARGS...` in-process with stdin.
func runScore(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	return runCommand(t, newScoreCmd, stdin, args...)
}

var scoreJSONLLine = regexp.MustCompile(`^\{"logit": -?[0-9]+\.[0-9]+(e[-+][0-9]+)?, "score": [0-9]\.[0-9]+(e[-+][0-9]+)?\}$`)

func parseScoreJSONL(t *testing.T, out string) []float64 {
	t.Helper()
	var logits []float64
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !scoreJSONLLine.MatchString(line) {
			t.Fatalf("output line %q is not {\"logit\": float, \"score\": float}", line)
		}
		var v struct{ Logit, Score float64 }
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatal(err)
		}
		if s := 1 / (1 + math.Exp(-v.Logit)); math.Abs(s-v.Score) > 1e-7 {
			t.Fatalf("score %v is not sigmoid(%v) = %v", v.Score, v.Logit, s)
		}
		logits = append(logits, v.Logit)
	}
	return logits
}

func TestScoreCommand(t *testing.T) {
	model := testenv.TwinDir(t)
	long := strings.Repeat("a very long passage about search ranking ", 400) // ~2,800 tokens
	passages := []string{"A cross-encoder scores a query and a passage jointly.", "Bananas are yellow.", long, "", "Café au lait, 東京 🙂"}
	query := "what is a cross-encoder"

	// --query mode: one "logit<TAB>score<TAB>passage" line per passage.
	out, err := runScore(t, "", append([]string{"--model", model, "--threads", "1", "--query", query}, passages...)...)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(passages) {
		t.Fatalf("%d lines for %d passages:\n%s", len(lines), len(passages), out)
	}
	var byQuery []float64
	for i, line := range lines {
		f := strings.SplitN(line, "\t", 3)
		if len(f) != 3 || !strings.Contains(f[0], ".") || !strings.Contains(f[1], ".") {
			t.Fatalf("line %q: want logit<TAB>score<TAB>passage with float numbers", line)
		}
		l, err1 := strconv.ParseFloat(f[0], 64)
		s, err2 := strconv.ParseFloat(f[1], 64)
		if err1 != nil || err2 != nil || math.Abs(1/(1+math.Exp(-l))-s) > 1e-7 {
			t.Fatalf("line %q: bad logit/score", line)
		}
		if want := scoreOneLine(passages[i]); f[2] != want {
			t.Fatalf("line %d passage %.40q, want %.40q", i, f[2], want)
		}
		byQuery = append(byQuery, l)
	}

	// --jsonl: the same pairs (with a blank line, which is skipped) give the
	// same logits in input order, whatever the batch and chunk sizes.
	var in strings.Builder
	for i, p := range passages {
		json.NewEncoder(&in).Encode(map[string]string{"query": query, "passage": p})
		if i == 1 {
			in.WriteString("\n")
		}
	}
	for _, sizes := range [][]string{{"--batch", "32"}, {"--batch", "2", "--chunk", "3"}, {"--batch", "1", "--chunk", "1"}} {
		t.Run(strings.Join(sizes, " "), func(t *testing.T) {
			out, err := runScore(t, in.String(), append([]string{"--model", model, "--threads", "1", "--jsonl"}, sizes...)...)
			if err != nil {
				t.Fatal(err)
			}
			got := parseScoreJSONL(t, out)
			if len(got) != len(passages) {
				t.Fatalf("%d results for %d pairs", len(got), len(passages))
			}
			for i := range got {
				if math.Abs(got[i]-byQuery[i]) > 1e-5 {
					t.Fatalf("pair %d: --jsonl logit %v, --query logit %v", i, got[i], byQuery[i])
				}
			}
		})
	}
	if byQuery[0] == byQuery[1] {
		t.Fatalf("different passages scored the same (%v)", byQuery[0])
	}
}

func TestScoreCommandErrors(t *testing.T) {
	model := testenv.TwinDir(t)
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"no model", "", []string{"--query", "q", "p"}, "--model DIR is required"},
		{"no mode", "", []string{"--model", model}, "either --query"},
		{"both modes", "", []string{"--model", model, "--jsonl", "--query", "q"}, "either --query"},
		{"no passages", "", []string{"--model", model, "--query", "q"}, "no passages"},
		{"jsonl with args", "", []string{"--model", model, "--jsonl", "p"}, "unexpected arguments"},
		{"bad json", "{\"query\":\"q\",\"passage\":\"p\"}\nnot json\n", []string{"--model", model, "--jsonl"}, "stdin line 2"},
		{"missing passage", "{\"query\":\"q\"}\n", []string{"--model", model, "--jsonl"}, `want {"query": "...", "passage": "..."}`},
		{"bad batch", "", []string{"--model", model, "--batch", "0", "--query", "q", "p"}, "--batch and --chunk must be > 0"},
		{"missing folder", "", []string{"--model", model + "-nope", "--query", "q", "p"}, "no such file"},
		{"bad provider", "", []string{"--model", model, "--provider", "cuda", "--query", "q", "p"}, `provider "cuda" is not available`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runScore(t, tc.stdin, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestScoreFloat(t *testing.T) {
	tests := []struct {
		x    float64
		bits int
		want string
	}{
		{1, 64, "1.0"}, {-2, 32, "-2.0"}, {0, 64, "0.0"}, {0.5, 64, "0.5"},
		{float64(float32(-4.669325)), 32, "-4.669325"}, {1e-7, 64, "1e-07"}, {1e21, 64, "1e+21"},
	}
	for _, tc := range tests {
		if got := scoreFloat(tc.x, tc.bits); got != tc.want {
			t.Errorf("scoreFloat(%v, %d) = %q, want %q", tc.x, tc.bits, got, tc.want)
		}
	}
}

// TestScoreBiEncoder: `crossrank score` on the bi-encoder prints the
// cosine (sentence-transformers' within 1e-5) and (cosine+1)/2.
func TestScoreBiEncoder(t *testing.T) {
	g := reranktest.MiniLMGoldens(t)
	p := g.Pairs[0]
	out, err := runCommand(t, newScoreCmd, "", "--model", testenv.MiniLMDir(t), "--ort-lib", testenv.ORTLib(t), "--threads", "1",
		"--query", g.Texts[p.Query].Text, g.Texts[p.Passage].Text)
	if err != nil {
		t.Fatal(err)
	}
	var cos, score float64
	if _, err := fmt.Sscanf(out, "%g\t%g\t", &cos, &score); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if math.Abs(cos-p.Cosine) > 1e-5 || math.Abs(score-(cos+1)/2) > 1e-7 {
		t.Fatalf("cosine %v score %v, want sentence-transformers' %v and (cos+1)/2", cos, score, p.Cosine)
	}
}
