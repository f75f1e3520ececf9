package modeldir_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/internal/modeldir"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestOpen(t *testing.T) {
	bert := `{"model_type":"bert","max_position_embeddings":512,"id2label":{"0":"LABEL_0"}}`
	tests := []struct {
		name      string
		files     map[string]string
		opts      []modeldir.Option
		wantFile  string
		wantMax   int
		wantLabel int
		wantTwin  bool
		wantTok   bool
		wantErr   string
	}{
		{name: "onnx folder first", files: map[string]string{"config.json": bert, "onnx/model.onnx": "x", "model.onnx": "y", "tokenizer.json": "{}"},
			wantFile: "onnx/model.onnx", wantMax: 512, wantLabel: 1, wantTok: true},
		{name: "root model.onnx", files: map[string]string{"config.json": bert, "model.onnx": "y"},
			wantFile: "model.onnx", wantMax: 512, wantLabel: 1},
		{name: "quantized", files: map[string]string{"config.json": bert, "onnx/model.onnx": "x", "onnx/model_quantized.onnx": "q"},
			opts: []modeldir.Option{modeldir.WithQuantized()}, wantFile: "onnx/model_quantized.onnx", wantMax: 512, wantLabel: 1},
		{name: "only quantized", files: map[string]string{"config.json": bert, "onnx/model_quantized.onnx": "q"},
			wantFile: "onnx/model_quantized.onnx", wantMax: 512, wantLabel: 1},
		{name: "named file", files: map[string]string{"config.json": bert, "onnx/model.onnx": "x", "custom/m.onnx": "q"},
			opts: []modeldir.Option{modeldir.WithFile("custom/m.onnx")}, wantFile: "custom/m.onnx", wantMax: 512, wantLabel: 1},
		{name: "twin", files: map[string]string{"config.json": `{"model_type":"bert","max_position_embeddings":512,"num_labels":1,"crossrank_twin":true}`, "onnx/model.onnx": "x"},
			wantFile: "onnx/model.onnx", wantMax: 512, wantLabel: 1, wantTwin: true},
		{name: "roberta offset", files: map[string]string{"config.json": `{"model_type":"xlm-roberta","max_position_embeddings":514,"pad_token_id":1,"num_labels":1}`, "model.onnx": "x"},
			wantFile: "model.onnx", wantMax: 512, wantLabel: 1},
		{name: "no max positions", files: map[string]string{"config.json": `{}`, "model.onnx": "x"},
			wantFile: "model.onnx", wantMax: 512},
		{name: "missing config", files: map[string]string{"model.onnx": "x"}, wantErr: "config.json"},
		{name: "bad config", files: map[string]string{"config.json": "{", "model.onnx": "x"}, wantErr: "parse config.json"},
		{name: "no onnx", files: map[string]string{"config.json": bert}, wantErr: "no ONNX file"},
		{name: "quantized missing", files: map[string]string{"config.json": bert, "onnx/model.onnx": "x"},
			opts: []modeldir.Option{modeldir.WithQuantized()}, wantErr: "model_quantized.onnx"},
		{name: "id2label gap", files: map[string]string{"config.json": `{"num_labels":2,"id2label":{"0":"a","5":"b"}}`, "model.onnx": "x"}, wantErr: "no label 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, tc.files)
			d, err := modeldir.Open(dir, tc.opts...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Open error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.File != tc.wantFile || d.ONNX != filepath.Join(dir, filepath.FromSlash(tc.wantFile)) {
				t.Errorf("file = %q (%s), want %q", d.File, d.ONNX, tc.wantFile)
			}
			if got := d.MaxLength(); got != tc.wantMax {
				t.Errorf("MaxLength = %d, want %d", got, tc.wantMax)
			}
			if d.Config.NumLabels != tc.wantLabel {
				t.Errorf("NumLabels = %d, want %d", d.Config.NumLabels, tc.wantLabel)
			}
			if d.Config.CrossrankTwin != tc.wantTwin {
				t.Errorf("Twin = %v, want %v", d.Config.CrossrankTwin, tc.wantTwin)
			}
			if _, err := d.RequireTokenizer(); (err == nil) != tc.wantTok {
				t.Errorf("RequireTokenizer err = %v, want tokenizer %v", err, tc.wantTok)
			}
		})
	}
}

func TestOpenNotAFolder(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := modeldir.Open(f); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Fatalf("Open(file) error = %v", err)
	}
}

func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "model")
	defer os.RemoveAll(dir)
	_ = os.MkdirAll(filepath.Join(dir, "onnx"), 0o755)
	_ = os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"max_position_embeddings":512,"id2label":{"0":"LABEL_0"}}`), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "onnx", "model.onnx"), []byte("graph"), 0o644)
	d, err := modeldir.Open(dir)
	if err != nil {
		panic(err)
	}
	fmt.Println(d.File, d.MaxLength(), d.Config.NumLabels, d.Label(0))
	// Output: onnx/model.onnx 512 1 LABEL_0
}

func TestKind(t *testing.T) {
	bert := `{"model_type":"bert","max_position_embeddings":512}`
	modules := `[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
		{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
		{"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]`
	pooling := `{"word_embedding_dimension":384,"pooling_mode_cls_token":false,"pooling_mode_mean_tokens":true,"pooling_mode_max_tokens":false}`
	tests := []struct {
		name        string
		files       map[string]string
		wantKind    string
		wantTrained bool
		wantModes   string
		wantNorm    bool
		wantMax     int
		wantErr     string
	}{
		{name: "classifier", files: map[string]string{"config.json": bert, "model.onnx": "x"},
			wantKind: modeldir.KindCrossEncoder, wantTrained: true, wantMax: 512},
		{name: "twin", files: map[string]string{"config.json": `{"model_type":"bert","crossrank_twin":true}`, "model.onnx": "x"},
			wantKind: modeldir.KindCrossEncoder, wantTrained: false, wantMax: 512},
		{name: "sentence-transformers", files: map[string]string{"config.json": bert, "model.onnx": "x", "modules.json": modules,
			"1_Pooling/config.json": pooling, "sentence_bert_config.json": `{"max_seq_length":256}`},
			wantKind: modeldir.KindBiEncoder, wantTrained: true, wantModes: "[mean]", wantNorm: true, wantMax: 256},
		{name: "converted", files: map[string]string{"config.json": bert, "onnx/model.onnx": "x", "modules.json": modules,
			"1_Pooling/config.json": `{"pooling_mode_cls_token":true,"pooling_mode_max_tokens":true}`,
			"crossrank.json":        `{"crossrank_kind":"bi-encoder","trained":true}`},
			wantKind: modeldir.KindBiEncoder, wantTrained: true, wantModes: "[cls max]", wantNorm: true, wantMax: 512},
		{name: "classifier with modules.json", files: map[string]string{"config.json": bert, "model.onnx": "x", "modules.json": `[]`,
			"crossrank.json": `{"crossrank_kind":"cross-encoder","trained":false}`},
			wantKind: modeldir.KindCrossEncoder, wantTrained: false, wantMax: 512},
		{name: "classifier architecture with modules.json", files: map[string]string{"config.json": `{"model_type":"bert","architectures":["BertForSequenceClassification"]}`,
			"model.onnx": "x", "modules.json": `[{"path":"","type":"sentence_transformers.models.Transformer"}]`},
			wantKind: modeldir.KindCrossEncoder, wantTrained: true, wantMax: 512},
		{name: "no pooling module", files: map[string]string{"config.json": bert, "model.onnx": "x",
			"modules.json": `[{"path":"","type":"sentence_transformers.models.Transformer"}]`}, wantErr: "lacks a sentence_transformers.models.Pooling module"},
		{name: "no pooling config", files: map[string]string{"config.json": bert, "model.onnx": "x", "modules.json": modules},
			wantErr: "Pooling module"},
		{name: "no pooling mode", files: map[string]string{"config.json": bert, "model.onnx": "x", "modules.json": modules,
			"1_Pooling/config.json": `{"pooling_mode_mean_tokens":false}`}, wantErr: "no supported pooling mode"},
		{name: "escaping pooling path", files: map[string]string{"config.json": bert, "model.onnx": "x",
			"modules.json": `[{"path":"","type":"x.Transformer"},{"path":"../up","type":"x.Pooling"}]`}, wantErr: "leaves the folder"},
		{name: "bad kind", files: map[string]string{"config.json": bert, "model.onnx": "x", "crossrank.json": `{"crossrank_kind":"ranker"}`},
			wantErr: `crossrank_kind "ranker"`},
		{name: "bi-encoder without modules", files: map[string]string{"config.json": bert, "model.onnx": "x", "crossrank.json": `{"crossrank_kind":"bi-encoder"}`},
			wantErr: "no modules.json"},
		{name: "safetensors only", files: map[string]string{"config.json": bert, "model.safetensors": "x"},
			wantErr: "crossrank model convert"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := modeldir.Open(writeFiles(t, tc.files))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Kind != tc.wantKind || d.Trained != tc.wantTrained || d.MaxLength() != tc.wantMax {
				t.Errorf("kind %q trained %v max %d, want %q %v %d", d.Kind, d.Trained, d.MaxLength(), tc.wantKind, tc.wantTrained, tc.wantMax)
			}
			if tc.wantModes != "" {
				if d.Pooling == nil || fmt.Sprint(d.Pooling.Modes) != tc.wantModes || d.Pooling.Normalize != tc.wantNorm {
					t.Errorf("pooling %+v, want modes %s normalize %v", d.Pooling, tc.wantModes, tc.wantNorm)
				}
			}
		})
	}
	t.Run("needs conversion", func(t *testing.T) {
		_, err := modeldir.Open(writeFiles(t, map[string]string{"config.json": bert, "model.safetensors": "x"}))
		if !errors.Is(err, modeldir.ErrNeedsConversion) {
			t.Errorf("err = %v, want ErrNeedsConversion", err)
		}
	})
}
