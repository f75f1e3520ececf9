package convert_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/crossrank/crossrank/internal/convert"
	"github.com/crossrank/crossrank/internal/twin"
)

// Convert a Hugging Face folder (here a small BERT cross-encoder written by
// the twin generator: config.json + model.safetensors + tokenizer) into a
// new folder holding onnx/model.onnx and crossrank.json.
func ExampleConvert() {
	tmp, _ := os.MkdirTemp("", "convert-example")
	defer os.RemoveAll(tmp)
	cfg := twin.Config{Layers: 1, Hidden: 32, Heads: 4, Intermediate: 64, Vocab: 30522, MaxPositions: 128, TypeVocab: 2, NumLabels: 1, Seed: 1}
	src := filepath.Join(tmp, "hf")
	if err := twin.Write(src, cfg); err != nil {
		panic(err)
	}
	os.RemoveAll(filepath.Join(src, "onnx")) // a safetensors-only folder

	res, err := convert.Convert(context.Background(), src, filepath.Join(tmp, "converted"), convert.Options{})
	if err != nil {
		panic(err)
	}
	md := res.Metadata
	fmt.Println(md.ModelType, md.Kind, md.Inputs, md.Output, md.OutputDim, md.Trained)
	// Output: bert cross-encoder [input_ids attention_mask token_type_ids] logits 1 false
}
