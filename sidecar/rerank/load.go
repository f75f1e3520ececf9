package rerank

import (
	"context"
	"fmt"

	"github.com/crossrank/crossrank/models/modeldir"
	"github.com/crossrank/crossrank/models/ort"
	"github.com/crossrank/crossrank/models/tokenizer"
)

// LoadModel opens a model folder (config.json, tokenizer.json and an ONNX
// file) on ONNX Runtime and returns it as a Model served as name. The caller
// closes m.Scorer.
func LoadModel(ctx context.Context, name, dir string, opts ...ort.Option) (Model, error) {
	md, err := modeldir.Open(dir)
	if err != nil {
		return Model{}, fmt.Errorf("rerank: model %s: %w", name, err)
	}
	tokPath, err := md.RequireTokenizer()
	if err != nil {
		return Model{}, fmt.Errorf("rerank: model %s: %w", name, err)
	}
	tok, err := tokenizer.Load(tokPath)
	if err != nil {
		return Model{}, fmt.Errorf("rerank: model %s: %w", name, err)
	}
	sess, err := ort.Load(ctx, dir, append([]ort.Option{ort.WithName(name)}, opts...)...)
	if err != nil {
		return Model{}, fmt.Errorf("rerank: model %s: %w", name, err)
	}
	return Model{Name: name, Scorer: sess, Tokenizer: HF(tok, sess.Info().MaxLength)}, nil
}
