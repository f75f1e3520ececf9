package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/internal/modeldir"
	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/models/ort"
)

// envRequireTwinsHF, set to 1 by make test-convert-parity, turns the skip
// for missing family twins into a failure (the same variable as
// internal/convert's TestTwinsHFParity).
const envRequireTwinsHF = "CROSSRANK_REQUIRE_TWINS_HF"

// scoreTwinsGolden is the part of internal/convert/testdata/twins_goldens.json
// (scripts/models/twins_hf.py, make goldens-twins-hf: transformers on
// PyTorch CPU) this test reads.
type scoreTwinsGolden struct {
	Families map[string]struct {
		MaxLength       int    `json:"max_length"`
		NumLabels       int    `json:"num_labels"`
		SafetensorsSHA  string `json:"safetensors_sha256"`
		TokenizerSHA256 string `json:"tokenizer_sha256"`
		Pairs           []struct {
			Query        string    `json:"query"`
			Passage      string    `json:"passage"`
			InputIDs     []int64   `json:"input_ids"`
			TokenTypeIDs []int64   `json:"token_type_ids"`
			Logits       []float64 `json:"logits"`
		} `json:"pairs"`
	} `json:"families"`
}

// TestScoreTwinsHF runs `crossrank score` (the command users run, in
// process) on each family twin's official ONNX export (optimum, written to
// .cache/models/twins-hf/<family>/onnx/model.onnx by make setup-twins-hf)
// over the held-out (query, passage) texts of the goldens, truncated pairs
// included, and checks every logit column against transformers' PyTorch
// logits within 1e-4, through the batcher with padded mixed batches and
// one pair at a time. `crossrank tokenize` on the same folder must give the
// Hugging Face tokenizer's ids first, so that a mismatch names its cause.
func TestScoreTwinsHF(t *testing.T) {
	root := testenv.Root(t)
	raw, err := os.ReadFile(filepath.Join(root, "internal", "convert", "testdata", "twins_goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g scoreTwinsGolden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	lib := testenv.ORTLib(t)
	for _, family := range []string{"bert", "electra", "xlm-roberta", "modernbert", "deberta-v2"} {
		t.Run(family, func(t *testing.T) {
			fg, ok := g.Families[family]
			if !ok || len(fg.Pairs) == 0 {
				t.Fatalf("no goldens for %s", family)
			}
			dir := filepath.Join(root, ".cache", "models", "twins-hf", family)
			md, err := modeldir.Open(dir)
			if err == nil && md.File != "onnx/model.onnx" {
				err = fmt.Errorf("%s serves %s, not the official export onnx/model.onnx", dir, md.File)
			}
			if err != nil {
				if os.Getenv(envRequireTwinsHF) == "1" {
					t.Fatalf("%v (make setup-twins-hf builds it)", err)
				}
				t.Skipf("family twin %s with its official export is not built (it needs PyTorch): run make test-convert-parity (%v)", dir, err)
			}
			for file, want := range map[string]string{"model.safetensors": fg.SafetensorsSHA, "tokenizer.json": fg.TokenizerSHA256} {
				if got := fileSHA256(t, filepath.Join(dir, file)); got != want {
					t.Fatalf("%s/%s has sha256 %s but the goldens were made from %s: rebuild both with make goldens-twins-hf", dir, file, got, want)
				}
			}

			var scoreIn, tokIn strings.Builder
			truncated := 0
			for _, p := range fg.Pairs {
				if p.Passage == "" || len(p.Logits) != fg.NumLabels {
					t.Fatalf("golden pair %+v: want a passage and %d logits", p, fg.NumLabels)
				}
				if len(p.InputIDs) == fg.MaxLength {
					truncated++
				}
				scoreIn.Write(append(must(json.Marshal(map[string]string{"query": p.Query, "passage": p.Passage})), '\n'))
				tokIn.Write(append(must(json.Marshal(map[string]string{"text": p.Query, "pair": p.Passage})), '\n'))
			}
			if truncated == 0 {
				t.Fatalf("no golden pair reaches the maximum length %d: the truncated case is not tested", fg.MaxLength)
			}

			out, err := runCommand(t, newTokenizeCmd, tokIn.String(), "--model", dir, "--jsonl")
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != len(fg.Pairs) {
				t.Fatalf("tokenize: %d lines for %d pairs", len(lines), len(fg.Pairs))
			}
			for i, line := range lines {
				var enc struct {
					IDs     []int64 `json:"ids"`
					TypeIDs []int64 `json:"type_ids"`
				}
				if err := json.Unmarshal([]byte(line), &enc); err != nil {
					t.Fatalf("tokenize line %d %q: %v", i, line, err)
				}
				p := fg.Pairs[i]
				if !slices.Equal(enc.IDs, p.InputIDs) || (p.TokenTypeIDs != nil && !slices.Equal(enc.TypeIDs, p.TokenTypeIDs)) {
					t.Fatalf("pair %d: crossrank tokenize gives ids %v types %v, the Hugging Face tokenizer %v types %v",
						i, enc.IDs, enc.TypeIDs, p.InputIDs, p.TokenTypeIDs)
				}
			}

			// Each logits column (--label k), then the default column (the
			// rule serve uses), batched by the batcher and one pair at a time.
			labels := make([]int, 0, fg.NumLabels+1)
			for k := range fg.NumLabels {
				labels = append(labels, k)
			}
			labels = append(labels, -1)
			def := ort.DefaultLabel(fg.NumLabels, func(i int) string { return md.Config.ID2Label[strconv.Itoa(i)] })
			worst := 0.0
			for _, label := range labels {
				for _, batch := range []string{"32", "1"} {
					out, err := runScore(t, scoreIn.String(), "--model", dir, "--ort-lib", lib, "--threads", "1", "--jsonl",
						"--batch", batch, "--label", strconv.Itoa(label))
					if err != nil {
						t.Fatal(err)
					}
					got := parseScoreJSONL(t, out)
					if len(got) != len(fg.Pairs) {
						t.Fatalf("--label %d --batch %s: %d logits for %d pairs", label, batch, len(got), len(fg.Pairs))
					}
					col := label
					if col < 0 {
						col = def
					}
					for i, p := range fg.Pairs {
						d := math.Abs(got[i] - p.Logits[col])
						worst = max(worst, d)
						if d > 1e-4 {
							t.Errorf("--label %d --batch %s: pair %d (%d tokens): logit %v, PyTorch %v", label, batch, i, len(p.InputIDs), got[i], p.Logits[col])
						}
					}
				}
			}
			t.Logf("%s (official export, %d pairs, %d truncated): max |Δ logit| %.2e", family, len(fg.Pairs), truncated, worst)
		})
	}
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
