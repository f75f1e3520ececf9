package convert_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/crossrank/crossrank/internal/convert"
	"github.com/crossrank/crossrank/internal/testenv"
)

// EnvRequireTwinsHF, set to 1 by make test-convert-parity, turns the skip
// for missing family twins into a failure.
const EnvRequireTwinsHF = "CROSSRANK_REQUIRE_TWINS_HF"

// twinsGolden is testdata/twins_goldens.json, written by
// scripts/models/twins_hf.py (make goldens-twins-hf) from transformers on
// PyTorch CPU.
type twinsGolden struct {
	Families map[string]struct {
		Architecture string `json:"architecture"`
		MaxLength    int    `json:"max_length"`
		PadTokenID   int64  `json:"pad_token_id"`
		NumLabels    int    `json:"num_labels"`
		SHA256       string `json:"safetensors_sha256"`
		Pairs        []struct {
			InputIDs     []int64   `json:"input_ids"`
			TokenTypeIDs []int64   `json:"token_type_ids"`
			Logits       []float64 `json:"logits"`
		} `json:"pairs"`
	} `json:"families"`
}

// TestTwinsHFParity converts each family twin's model.safetensors (made by
// transformers, .cache/models/twins-hf) and checks that ONNX Runtime on the
// converted graph gives PyTorch's logits within 1e-4 on held-out pairs,
// truncated ones included, batched and one pair at a time.
func TestTwinsHFParity(t *testing.T) {
	var g twinsGolden
	raw, err := os.ReadFile("testdata/twins_goldens.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(testenv.Root(t), ".cache", "models", "twins-hf")
	for _, family := range []string{"bert", "electra", "xlm-roberta", "modernbert", "deberta-v2"} {
		t.Run(family, func(t *testing.T) {
			fg, ok := g.Families[family]
			if !ok {
				t.Fatalf("no goldens for %s", family)
			}
			dir := filepath.Join(root, family)
			st, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
			if err != nil {
				if os.Getenv(EnvRequireTwinsHF) == "1" {
					t.Fatalf("%v (make setup-twins-hf builds it)", err)
				}
				t.Skipf("family twin %s is not built (it needs PyTorch): run make test-convert-parity", dir)
			}
			sum := sha256.Sum256(st)
			if got := hex.EncodeToString(sum[:]); got != fg.SHA256 {
				t.Fatalf("%s/model.safetensors has sha256 %s but the goldens were made from %s: rebuild both with make goldens-twins-hf", dir, got, fg.SHA256)
			}
			res, err := convert.Convert(context.Background(), dir, filepath.Join(t.TempDir(), family), convert.Options{})
			if err != nil {
				t.Fatal(err)
			}
			md := res.Metadata
			if md.Kind != convert.KindCrossEncoder || md.Trained || md.OutputDim != fg.NumLabels || md.MaxLength != fg.MaxLength {
				t.Fatalf("metadata %+v: want an untrained cross-encoder with %d labels, max length %d", md, fg.NumLabels, fg.MaxLength)
			}
			// BERT-style families get the [CLS]-only last layer, so the
			// parity below covers it; ModernBERT and DeBERTa keep every token.
			if wantCLS := family != "modernbert" && family != "deberta-v2"; md.LastLayerCLSOnly != wantCLS {
				t.Fatalf("last_layer_cls_only %v, want %v", md.LastLayerCLSOnly, wantCLS)
			}
			wantTypes := family == "bert" || family == "electra"
			if hasTypes := len(md.Inputs) == 3; hasTypes != wantTypes {
				t.Fatalf("inputs %v: token_type_ids expected %v", md.Inputs, wantTypes)
			}
			r := newRunner(t, res.ONNX, md.Inputs, md.Output)
			var seqs, types [][]int64
			for _, p := range fg.Pairs {
				if len(p.InputIDs) > fg.MaxLength {
					t.Fatalf("golden pair of %d tokens exceeds max length %d", len(p.InputIDs), fg.MaxLength)
				}
				seqs, types = append(seqs, p.InputIDs), append(types, p.TokenTypeIDs)
				if p.TokenTypeIDs == nil {
					types[len(types)-1] = make([]int64, len(p.InputIDs))
				}
			}
			ids, mask, tt, l := rows(seqs, types, fg.PadTokenID)
			logits, err := r.run(len(seqs), l, ids, mask, tt)
			if err != nil {
				t.Fatal(err)
			}
			c := fg.NumLabels
			worst := 0.0
			for i, p := range fg.Pairs {
				for k, want := range p.Logits {
					d := math.Abs(float64(logits[i*c+k]) - want)
					worst = max(worst, d)
					if d > 1e-4 {
						t.Errorf("pair %d (%d tokens) label %d: %v, PyTorch %v", i, len(p.InputIDs), k, logits[i*c+k], want)
					}
				}
				ids, mask, tt, l := rows(seqs[i:i+1], types[i:i+1], fg.PadTokenID)
				one, err := r.run(1, l, ids, mask, tt)
				if err != nil {
					t.Fatal(err)
				}
				for k, want := range p.Logits {
					if d := math.Abs(float64(one[k]) - want); d > 1e-4 {
						t.Errorf("pair %d alone, label %d: %v, PyTorch %v", i, k, one[k], want)
					}
				}
			}
			t.Logf("%s: max |Δ logit| %.2e over %d pairs", family, worst, len(fg.Pairs))
		})
	}
}
