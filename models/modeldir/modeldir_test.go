package modeldir_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crossrank/crossrank/models/modeldir"
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
