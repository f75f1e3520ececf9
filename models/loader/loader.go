// Package loader is the one model loader: it opens a model folder
// (config.json, tokenizer.json and an ONNX file, see internal/modeldir) with
// the pure-Go tokenizer and the ONNX Runtime backend and returns it as a
// models.Model. It is the only package besides models/ort that the engine's
// callers need cgo for; the engine itself never imports it.
package loader

import (
	"context"
	"fmt"

	"github.com/crossrank/crossrank/internal/modeldir"
	"github.com/crossrank/crossrank/models"
	"github.com/crossrank/crossrank/models/ort"
	"github.com/crossrank/crossrank/models/tokenizer"
)

// Load opens a model folder on ONNX Runtime and returns it served as name:
// a cross-encoder with m.Scorer set, or a bi-encoder (modeldir's kind) with
// m.Embedder set. Either way the tokenizer is the folder's tokenizer.json
// truncated to the model's maximum length. The caller closes m (m.Close).
func Load(ctx context.Context, name, dir string, opts ...ort.Option) (models.Model, error) {
	md, err := modeldir.Open(dir)
	if err != nil {
		return models.Model{}, fmt.Errorf("loader: model %s: %w", name, err)
	}
	tokPath, err := md.RequireTokenizer()
	if err != nil {
		return models.Model{}, fmt.Errorf("loader: model %s: %w", name, err)
	}
	tok, err := tokenizer.Load(tokPath)
	if err != nil {
		return models.Model{}, fmt.Errorf("loader: model %s: %w", name, err)
	}
	sess, err := ort.Load(ctx, dir, append([]ort.Option{ort.WithName(name)}, opts...)...)
	if err != nil {
		return models.Model{}, fmt.Errorf("loader: model %s: %w", name, err)
	}
	m := models.Model{Name: name, Kind: models.CrossEncoder, Scorer: sess, Tokenizer: HF(tok, sess.Info().MaxLength)}
	if sess.Info().Kind == models.BiEncoder {
		m.Kind, m.Scorer, m.Embedder = models.BiEncoder, nil, sess
	}
	return m, nil
}
