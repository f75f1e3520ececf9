package convert_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/internal/convert"
	"github.com/crossrank/crossrank/internal/modeldir"
	"github.com/crossrank/crossrank/internal/onnx"
	"github.com/crossrank/crossrank/internal/testenv"
	"github.com/crossrank/crossrank/internal/twin"
	"github.com/crossrank/crossrank/models/ort"
)

// copyDir copies the regular files of src (one level of subfolders) to a
// new temporary folder.
func copyDir(t *testing.T, src string, skip ...string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		for _, s := range skip {
			if rel == s || strings.HasPrefix(rel, s+string(filepath.Separator)) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// editConfig rewrites config.json in dir with old replaced by new.
func editConfig(t *testing.T, dir, old, new string) {
	t.Helper()
	p := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("config.json has no %q", old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestConvertShapeTwin converts the shape twin's model.safetensors (BERT,
// MiniLM-L6-H384) and checks that the converted graph gives the logits of
// the twin's own graph, and that --int8 gives those of the twin quantised
// by crossrank model quantize.
func TestConvertShapeTwin(t *testing.T) {
	src := testenv.TwinDir(t)
	pairs := testenv.SyntheticPairs(12, 64, 7)
	for _, tc := range []struct {
		name string
		int8 bool
		ref  string
		tol  float64
	}{
		{"fp32", false, filepath.Join(src, "onnx", "model.onnx"), 1e-5},
		{"int8", true, filepath.Join(testenv.TwinInt8Dir(t), "onnx", "model.onnx"), 1e-4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "twin")
			res, err := convert.Convert(context.Background(), src, out, convert.Options{Int8: tc.int8})
			if err != nil {
				t.Fatal(err)
			}
			if res.Metadata.Trained || res.Metadata.Kind != convert.KindCrossEncoder || res.Metadata.Int8 != tc.int8 {
				t.Fatalf("metadata %+v", res.Metadata)
			}
			d, err := modeldir.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			if d.Kind != modeldir.KindCrossEncoder || d.Trained || d.Tokenizer == "" || d.MaxLength() != 512 {
				t.Fatalf("modeldir sees kind %q trained %v tokenizer %q max %d", d.Kind, d.Trained, d.Tokenizer, d.MaxLength())
			}
			got, err := newRunner(t, res.ONNX, res.Metadata.Inputs, "logits").run(pairs.N, pairs.L, pairs.IDs, pairs.Mask, pairs.Types)
			if err != nil {
				t.Fatal(err)
			}
			want, err := testenv.NewORTSession(t, tc.ref, testenv.ORTOptions{}).Score(pairs.N, pairs.L, pairs.IDs, pairs.Mask, pairs.Types)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); d > tc.tol {
					t.Errorf("pair %d: converted %v, twin graph %v", i, got[i], want[i])
				}
			}
		})
	}
}

// smallTwin writes a small BERT cross-encoder in Hugging Face layout
// (config.json, model.safetensors, tokenizer; 2 layers, hidden 64) without
// its ONNX graph: a safetensors-only folder that is quick to copy.
func smallTwin(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "small")
	cfg := twin.Config{Layers: 2, Hidden: 64, Heads: 4, Intermediate: 128, Vocab: 30522, MaxPositions: 512, TypeVocab: 2, NumLabels: 1, Seed: 5}
	if err := twin.Write(dir, cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "onnx")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestConvertErrors feeds broken folders: each is an error naming the
// file, the tensor and what was expected, never a panic or a graph.
func TestConvertErrors(t *testing.T) {
	src := smallTwin(t)
	stSize := func(dir string) int64 {
		st, err := os.Stat(filepath.Join(dir, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	tests := []struct {
		name  string
		edit  func(t *testing.T, dir string)
		want  []string
		is    error
		noOut bool
	}{
		{name: "unsupported model_type", edit: func(t *testing.T, dir string) {
			editConfig(t, dir, `"model_type": "bert"`, `"model_type": "funnel"`)
		},
			want: []string{`model_type "funnel"`, "optimum-cli export onnx"}, is: convert.ErrUnsupported},
		{name: "no model_type", edit: func(t *testing.T, dir string) { editConfig(t, dir, `"model_type": "bert"`, `"model_typ": "bert"`) },
			want: []string{`model_type "(none)"`}, is: convert.ErrUnsupported},
		{name: "hidden size mismatch", edit: func(t *testing.T, dir string) { editConfig(t, dir, `"hidden_size": 64`, `"hidden_size": 128`) },
			want: []string{"model.safetensors", `"bert.embeddings.word_embeddings.weight" has shape [30522 64], the config expects [30522 128]`}},
		{name: "more layers than the checkpoint", edit: func(t *testing.T, dir string) { editConfig(t, dir, `"num_hidden_layers": 2`, `"num_hidden_layers": 3`) },
			want: []string{`no tensor "bert.encoder.layer.2.attention.self.key.weight"`}},
		{name: "fewer layers than the checkpoint", edit: func(t *testing.T, dir string) { editConfig(t, dir, `"num_hidden_layers": 2`, `"num_hidden_layers": 1`) },
			want: []string{"model.safetensors", "does not account for", "bert.encoder.layer.1."}},
		{name: "heads do not divide hidden", edit: func(t *testing.T, dir string) {
			editConfig(t, dir, `"num_attention_heads": 4`, `"num_attention_heads": 7`)
		},
			want: []string{"not a multiple of num_attention_heads 7"}},
		{name: "unknown activation", edit: func(t *testing.T, dir string) { editConfig(t, dir, `"hidden_act": "gelu"`, `"hidden_act": "swish"`) },
			want: []string{`hidden_act "swish"`}},
		{name: "truncated safetensors", edit: func(t *testing.T, dir string) {
			if err := os.Truncate(filepath.Join(dir, "model.safetensors"), stSize(dir)/2); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"model.safetensors", "tensor", "truncated"}},
		{name: "truncated header", edit: func(t *testing.T, dir string) {
			if err := os.Truncate(filepath.Join(dir, "model.safetensors"), 100); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"model.safetensors", "header length", "truncated"}},
		{name: "corrupted header", edit: func(t *testing.T, dir string) {
			f, err := os.OpenFile(filepath.Join(dir, "model.safetensors"), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt([]byte("#"), 8); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"model.safetensors", "header"}},
		{name: "header length beyond the limit", edit: func(t *testing.T, dir string) {
			f, err := os.OpenFile(filepath.Join(dir, "model.safetensors"), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(binary.LittleEndian.AppendUint64(nil, 1<<40), 0); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"model.safetensors", "exceeds"}},
		{name: "no safetensors", edit: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "model.safetensors")) },
			want: []string{"no model.safetensors"}},
		{name: "no config", edit: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "config.json")) },
			want: []string{"config.json"}},
		{name: "neither classifier nor sentence-transformers", edit: func(t *testing.T, dir string) {
			editConfig(t, dir, `"architectures": [`, `"x": [`)
			// Rename the head away: the checkpoint becomes a bare encoder.
			rewriteTensorName(t, filepath.Join(dir, "model.safetensors"), "classifier.weight", "xlassifier.weight")
		}, want: []string{`no "classifier.weight" tensor`, "no modules.json"}, is: convert.ErrIncompleteLayout},
		{name: "incomplete sentence-transformers layout", edit: func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "modules.json"), []byte(`[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"}]`), 0o644); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"modules.json", "no sentence_transformers.models.Pooling module"}, is: convert.ErrIncompleteLayout},
		{name: "unsupported sentence-transformers module", edit: func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "modules.json"), []byte(`[{"path":"","type":"sentence_transformers.models.Transformer"},{"path":"2_Dense","type":"sentence_transformers.models.Dense"}]`), 0o644); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"sentence_transformers.models.Dense", "not supported"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, src, "onnx")
			tc.edit(t, dir)
			out := filepath.Join(t.TempDir(), "out")
			_, err := convert.Convert(context.Background(), dir, out, convert.Options{})
			if err == nil {
				t.Fatal("converted a broken folder")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a failed conversion left %s behind", out)
			}
		})
	}
}

// rewriteTensorName renames a tensor in a safetensors header in place
// (the new name must have the same length).
func rewriteTensorName(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	hdr := string(b[8 : 8+n])
	if len(old) != len(new) || strings.Count(hdr, `"`+old+`"`) != 1 {
		t.Fatalf("cannot rename %q in the header", old)
	}
	copy(b[8:], strings.Replace(hdr, `"`+old+`"`, `"`+new+`"`, 1))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestConvertOutputFolder checks where Convert writes: in place, into a
// new folder, never over a non-empty one.
func TestConvertOutputFolder(t *testing.T) {
	src := smallTwin(t)
	ctx := context.Background()
	if _, err := convert.Convert(ctx, src, src, convert.Options{}); err != nil {
		t.Fatalf("in place: %v", err)
	}
	for _, f := range []string{"onnx/model.onnx", convert.MetadataFile, "model.safetensors", "tokenizer.json"} {
		if _, err := os.Stat(filepath.Join(src, f)); err != nil {
			t.Errorf("in place: %v", err)
		}
	}
	busy := t.TempDir()
	if err := os.WriteFile(filepath.Join(busy, "keep.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := convert.Convert(ctx, src, busy, convert.Options{}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("non-empty output: err = %v", err)
	}
	empty := t.TempDir()
	if _, err := convert.Convert(ctx, src, empty, convert.Options{}); err != nil {
		t.Errorf("empty output folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(empty, "model.safetensors")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the new folder should hold the graph, not a copy of the checkpoint")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := convert.Convert(cctx, src, filepath.Join(t.TempDir(), "x"), convert.Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

// TestConvertedGraphFuses checks that ONNX Runtime's transformer fusions
// match a converted BERT graph as they match the official export:
// EmbedLayerNormalization, one Attention per layer but the last (whose
// [CLS]-only query the fusion does not match), SkipLayerNormalization,
// BiasGelu (every optimiser on).
func TestConvertedGraphFuses(t *testing.T) {
	out := filepath.Join(t.TempDir(), "twin")
	res, err := convert.Convert(context.Background(), testenv.TwinDir(t), out, convert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opt := filepath.Join(t.TempDir(), "optimised.onnx")
	s, err := ort.Load(context.Background(), out, ort.WithLibrary(testenv.ORTLib(t)), ort.WithDisabledOptimizers(), ort.WithOptimizedModelPath(opt), ort.WithoutWarmup())
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	m, err := onnx.ReadFile(opt)
	if err != nil {
		t.Fatal(err)
	}
	ops := m.Graph.OpCounts()
	want := map[string]int{"EmbedLayerNormalization": 1, "Attention": 5, "SkipLayerNormalization": 12, "BiasGelu": 6}
	for op, n := range want {
		if ops[op] != n {
			t.Errorf("%s: %d fused %s nodes, want %d (ops %v)", res.ONNX, ops[op], op, n, ops)
		}
	}
}

// TestConvertExternalData writes the weights as ONNX external data (what a
// model over 2 GB needs; forced here on a small one): the graph file holds
// no weights, ONNX Runtime loads both files and gives the logits of the
// single-file graph, in a new folder and in place.
func TestConvertExternalData(t *testing.T) {
	src := smallTwin(t)
	ctx := context.Background()
	inline, err := convert.Convert(ctx, src, filepath.Join(t.TempDir(), "inline"), convert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pairs := testenv.SyntheticPairs(6, 32, 11)
	want, err := newRunner(t, inline.ONNX, inline.Metadata.Inputs, "logits").run(pairs.N, pairs.L, pairs.IDs, pairs.Mask, pairs.Types)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{filepath.Join(t.TempDir(), "external"), src} {
		res, err := convert.Convert(ctx, src, out, convert.Options{ExternalData: true})
		if err != nil {
			t.Fatal(err)
		}
		g, err := os.Stat(res.ONNX)
		if err != nil {
			t.Fatal(err)
		}
		d, err := os.Stat(filepath.Join(out, "onnx", "model.onnx_data"))
		if err != nil {
			t.Fatal(err)
		}
		if g.Size() > 200<<10 || d.Size() < 4<<20 {
			t.Errorf("%s: graph %d bytes, external data %d bytes: the weights should be outside the graph", out, g.Size(), d.Size())
		}
		got, err := newRunner(t, res.ONNX, res.Metadata.Inputs, "logits").run(pairs.N, pairs.L, pairs.IDs, pairs.Mask, pairs.Types)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: pair %d: %v with external data, %v inline", out, i, got[i], want[i])
			}
		}
		s, err := ort.Load(ctx, out, ort.WithLibrary(testenv.ORTLib(t)))
		if err != nil {
			t.Fatalf("serving backend on external data: %v", err)
		}
		s.Close()
	}
}
